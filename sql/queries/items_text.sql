-- Current text of the items to embed; rows deleted meanwhile simply do not come back.
-- The hash is computed here, by the same server that later checks it.
SELECT c.{key}::text AS key, {text} AS text, md5({text}) AS text_md5
FROM {table} c
WHERE c.{key} = ANY(%(keys)s::{key_type}[])
