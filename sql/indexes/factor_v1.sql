-- The feed's collaborative pool: items whose collaborative vector has the largest
-- inner product with the user's. Its own index, because in the rank vectors the
-- embedding dominates how HNSW links items, and a search led by co-likes got lost
-- there (recall@20 0.46 on the feed benchmark, collaborative weight alone).
CREATE INDEX IF NOT EXISTS {index} ON dnf_item_factor
    USING hnsw ((factor::halfvec({dimension})) halfvec_ip_ops)
    WHERE feed_id = {feed_literal};
