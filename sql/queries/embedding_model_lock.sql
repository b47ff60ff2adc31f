-- Taken by a swap: waits for embedding writes in flight, and holds off new ones.
SELECT identity FROM dnf_embedding_model WHERE feed_id = %(feed_id)s FOR UPDATE
