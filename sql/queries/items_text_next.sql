-- During a re-embedding: current text of the items that need a vector of the new
-- model. Rows deleted meanwhile do not come back, and items whose next vector was
-- made from their current text by this model are skipped.
SELECT c.{key}::text AS key, {text} AS text, md5(%(identity)s || E'\n' || {text}) AS text_md5
FROM {table} c
LEFT JOIN dnf_embedding_next n ON n.feed_id = %(feed_id)s AND n.item_key = c.{key}::text
WHERE c.{key} = ANY(%(keys)s::{key_type}[])
  AND n.text_md5 IS DISTINCT FROM md5(%(identity)s || E'\n' || {text})
