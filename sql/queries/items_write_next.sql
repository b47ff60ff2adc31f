-- During a re-embedding: keep the new model's vectors aside until the swap. Same
-- stale-write guard as the embedding column: only items whose text is unchanged.
INSERT INTO dnf_embedding_next AS n (feed_id, item_key, identity, text_md5, embedding)
SELECT %(feed_id)s, v.key, %(identity)s, v.text_md5, v.embedding
FROM unnest(%(keys)s::text[], %(text_md5)s::text[], %(embeddings)s::vector[])
    AS v(key, text_md5, embedding)
JOIN {table} c ON c.{key} = v.key::{key_type}
WHERE md5(%(identity)s || E'\n' || {text}) = v.text_md5
ON CONFLICT (feed_id, item_key) DO UPDATE
SET identity = EXCLUDED.identity, text_md5 = EXCLUDED.text_md5, embedding = EXCLUDED.embedding
RETURNING n.item_key
