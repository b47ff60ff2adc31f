-- Stale-write guard: a vector lands only if the row still has the text it was
-- computed from. A NULL vector (empty text) clears an embedding that no longer fits.
UPDATE {table} AS c
SET {embedding} = v.embedding, {embedding_hash} = v.text_md5
FROM unnest(%(keys)s::text[], %(text_md5)s::text[], %(embeddings)s::vector[])
    AS v(key, text_md5, embedding)
WHERE c.{key} = v.key::{key_type}
  AND md5(%(identity)s || E'\n' || {text}) = v.text_md5
RETURNING c.{key}::text
