-- Current text of the items that need a vector: rows deleted meanwhile do not come
-- back, and rows whose stored hash already matches this model and text are skipped
-- (a replayed event, or another feed sharing the table, got there first).
SELECT c.{key}::text AS key, {text} AS text, md5(%(identity)s || E'\n' || {text}) AS text_md5
FROM {table} c
WHERE c.{key} = ANY(%(keys)s::{key_type}[])
  AND c.{embedding_hash} IS DISTINCT FROM md5(%(identity)s || E'\n' || {text})
