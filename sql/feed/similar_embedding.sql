-- Feed.similar: the text vector of the item to match, at unit length like a user's
-- profile, for the feed query to rank against in the profile's place (stage one's
-- rank search, stage two's similarity). No row while the item has no embedding.
SELECT l2_normalize(s.{embedding})
FROM {table} s
WHERE s.{key} = %s::{key_type} AND s.{embedding} IS NOT NULL
