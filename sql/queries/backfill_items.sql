-- One bounded batch of a backfill: the next %(batch)s items after %(after)s in key
-- order, and an outbox event for those whose stored hash does not match their text
-- and model. Walking the primary key keeps each statement short and lock-free for
-- writers (plain reads and one INSERT); %(first)s starts the walk. %(after)s is sent
-- untyped, so Postgres reads it as the key's own type (integer, UUID or text order).
WITH scanned AS (
    SELECT c.{key} AS key,
           c.{embedding_hash} IS DISTINCT FROM md5(%(identity)s || E'\n' || {text}) AS stale
    FROM {table} c
    WHERE c.{key} > %(after)s OR %(first)s
    ORDER BY c.{key}
    LIMIT %(batch)s
), queued AS (
    INSERT INTO dnf_outbox (feed_id, kind, item_keys)
    SELECT %(feed_id)s, 'item', array_agg(key::text ORDER BY key)
    FROM scanned
    WHERE stale
    HAVING count(*) > 0
    RETURNING cardinality(item_keys) AS queued
)
-- The last key in walk order, not max(): Postgres has no max(uuid). Qualified, so
-- ORDER BY sorts the key itself, not its text (where '9' > '10').
SELECT (SELECT s.key::text FROM scanned s ORDER BY s.key DESC LIMIT 1) AS last_key,
       (SELECT count(*) FROM scanned) AS scanned,
       coalesce((SELECT queued FROM queued), 0) AS queued
