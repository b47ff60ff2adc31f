-- Feed.similar: the collaborative vector of the item to match, at unit length like a
-- user's collaborative profile, so the items it is co-liked with rank by the inner
-- product of their vectors with it (stage one's collaborative pool, stage two's
-- signal). No row while no liker of the item has a basis row.
SELECT l2_normalize(f.factor)
FROM dnf_item_factor f
WHERE f.feed_id = %s AND f.item_key = (%s::{key_type})::text
