-- The model whose vectors the feed serves, read without a lock: for the backfill,
-- which only queues items (embedding_model_read.sql locks for the writes it orders).
SELECT identity FROM dnf_embedding_model WHERE feed_id = %(feed_id)s
