-- Stage one's collaborative pool: the items the user's co-likers liked, by the inner
-- product of collaborative vectors, from the feed's partial HNSW index. Without a
-- collaborative profile the one-time filter skips the scan.
SELECT c.pk
FROM dnf_item_factor f
JOIN ({items}) AS c (pk) ON c.pk = f.item_key::{key_type}
WHERE {excluded} AND f.feed_id = {feed_literal} AND ({profile}) IS NOT NULL
ORDER BY (f.factor::halfvec({dimension})) <#> (
    SELECT ({profile})::halfvec({dimension})
    -- As in rank_candidates.sql: settings the scan reads when it starts.
    WHERE set_config('hnsw.iterative_scan', %s, true) IS NOT NULL
        AND set_config('hnsw.ef_search', %s, true) IS NOT NULL
)
LIMIT %s
