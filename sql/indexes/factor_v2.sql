-- The feed's collaborative pool: items whose collaborative vector has the largest
-- inner product with the user's, from an index of their own (in the rank vectors the
-- embedding dominated how HNSW links items, and a search led by co-likes got lost).
-- Version 2 builds a better graph (ef_construction 256 for pgvector's 64): on the
-- feed benchmark at 1M items, the scan's recall@100 went from 0.93 at ef_search 400
-- to 0.95 at 200, and the feed's recall@20 from 0.95 to 0.97. The index is small
-- (liked items only), so the slower build costs seconds. An index of version 1 is
-- replaced in place; the vectors stay.
DROP INDEX IF EXISTS {index};
CREATE INDEX {index} ON dnf_item_factor
    USING hnsw ((factor::halfvec({dimension})) halfvec_ip_ops)
    WITH (m = 16, ef_construction = 256)
    WHERE feed_id = {feed_literal};
