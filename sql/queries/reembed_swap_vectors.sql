-- The swap: every item whose next vector matches its current text gets it, with the
-- new model's hash. The text is unchanged, so the content trigger queues nothing.
UPDATE {table} AS c
SET {embedding} = n.embedding, {embedding_hash} = n.text_md5
FROM dnf_embedding_next n
WHERE n.feed_id = %(feed_id)s AND c.{key} = n.item_key::{key_type}
  AND n.text_md5 = md5(%(identity)s || E'\n' || {text})
