-- How far a move to another backend of the same model is (re-embedding in place):
-- items in the table, items whose column vector the new backend made from their
-- current text, and items the encoder rejected (see dnf_failure).
SELECT count(*) AS total,
       count(*) FILTER (WHERE c.{embedding_hash} = md5(%(identity)s || E'\n' || {text})) AS done,
       count(*) FILTER (
           WHERE c.{embedding_hash} IS DISTINCT FROM md5(%(identity)s || E'\n' || {text})
             AND f.key IS NOT NULL
       ) AS failed
FROM {table} c
LEFT JOIN dnf_failure f ON f.feed_id = %(feed_id)s AND f.task = 'embed' AND f.key = c.{key}::text
