-- A feed embedded for the first time serves the model it is installed with.
INSERT INTO dnf_embedding_model (feed_id, identity, updated_at)
VALUES (%(feed_id)s, %(identity)s, now())
ON CONFLICT (feed_id) DO NOTHING
