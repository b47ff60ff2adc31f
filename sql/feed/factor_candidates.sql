-- Stage one's collaborative pool: the items the user's co-likers liked, by the inner
-- product of collaborative vectors, from the feed's partial HNSW index.
SELECT c.pk
FROM dnf_item_factor f
JOIN ({items}) AS c (pk) ON c.pk = f.item_key::{key_type}
WHERE f.feed_id = {feed_literal}
ORDER BY (f.factor::halfvec({dimension})) <#> %s::halfvec({dimension})
LIMIT %s
