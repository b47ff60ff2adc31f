-- Applied by dnf_django migration 0008. Never edit: add a new numbered file instead.

-- Feeds installed before the embedding model was recorded serve vectors of the model
-- their registry row names: workers wrote the embedding column with that model only.
INSERT INTO dnf_embedding_model (feed_id, identity, updated_at)
SELECT feed_id,
       concat_ws(':', spec ->> 'encoder', spec ->> 'model_name', spec ->> 'dimension'),
       now()
FROM dnf_feed
ON CONFLICT (feed_id) DO NOTHING;
