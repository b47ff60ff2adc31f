-- One bounded batch of a re-embedding walk: the next %(batch)s items after
-- %(after)s in key order, and an outbox event for those that have no vector of the
-- new model for their current text yet (the workers put it in dnf_embedding_next).
WITH scanned AS (
    SELECT c.{key} AS key,
           n.text_md5 IS DISTINCT FROM md5(%(identity)s || E'\n' || {text}) AS missing
    FROM {table} c
    LEFT JOIN dnf_embedding_next n ON n.feed_id = %(feed_id)s AND n.item_key = c.{key}::text
    WHERE c.{key} > %(after)s OR %(first)s
    ORDER BY c.{key}
    LIMIT %(batch)s
), queued AS (
    INSERT INTO dnf_outbox (feed_id, kind, item_keys)
    SELECT %(feed_id)s, 'item', array_agg(key::text ORDER BY key)
    FROM scanned
    WHERE missing
    HAVING count(*) > 0
    RETURNING cardinality(item_keys) AS queued
)
-- The last key in walk order, not max(): Postgres has no max(uuid). Qualified, so
-- ORDER BY sorts the key itself, not its text (where '9' > '10').
SELECT (SELECT s.key::text FROM scanned s ORDER BY s.key DESC LIMIT 1) AS last_key,
       (SELECT count(*) FROM scanned) AS scanned,
       coalesce((SELECT queued FROM queued), 0) AS queued
