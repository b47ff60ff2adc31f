-- How far a re-embedding is: items in the table, items with a vector of the new
-- model for their current text, and items the encoder rejected (see dnf_failure).
SELECT count(*) AS total,
       count(n.item_key) AS done,
       count(*) FILTER (WHERE n.item_key IS NULL AND f.key IS NOT NULL) AS failed
FROM {table} c
LEFT JOIN dnf_embedding_next n
    ON n.feed_id = %(feed_id)s AND n.item_key = c.{key}::text
   AND n.text_md5 = md5(%(identity)s || E'\n' || {text})
LEFT JOIN dnf_failure f ON f.feed_id = %(feed_id)s AND f.task = 'embed' AND f.key = c.{key}::text
