-- For the feed query's transaction only: let HNSW keep scanning until enough rows
-- pass the filters (pgvector >= 0.8), with a wider beam than the default 40.
SELECT set_config('hnsw.iterative_scan', %s, true), set_config('hnsw.ef_search', %s, true)
