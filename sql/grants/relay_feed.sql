-- The backfill walks both tables in key order (keys, text and embedding hash).
GRANT SELECT ON {table}, {interactions} TO {role};
