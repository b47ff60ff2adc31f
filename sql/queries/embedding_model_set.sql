-- After a swap the feed serves the new model's vectors.
INSERT INTO dnf_embedding_model (feed_id, identity, updated_at)
VALUES (%(feed_id)s, %(identity)s, now())
ON CONFLICT (feed_id) DO UPDATE SET identity = EXCLUDED.identity, updated_at = EXCLUDED.updated_at
