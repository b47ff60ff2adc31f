SELECT DISTINCT i.{user}::text
FROM {interactions} i
WHERE i.{item} = ANY(%(keys)s::{key_type}[])
