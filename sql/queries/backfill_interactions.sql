-- One bounded batch of a backfill: the next %(batch)s interactions after %(after)s in
-- key order, as one outbox event of (item, user) pairs, exactly as the trigger would
-- have written them: the workers rebuild those users' profiles and those items'
-- counts from the table, so replaying a batch twice is harmless.
WITH scanned AS (
    SELECT i.{interaction_key} AS key, i.{item}::text AS item_key, i.{user}::text AS user_key
    FROM {interactions} i
    WHERE i.{interaction_key} > %(after)s OR %(first)s
    ORDER BY i.{interaction_key}
    LIMIT %(batch)s
), queued AS (
    INSERT INTO dnf_outbox (feed_id, kind, item_keys, user_keys)
    SELECT %(feed_id)s, 'interaction', array_agg(item_key), array_agg(user_key)
    FROM scanned
    HAVING count(*) > 0
    RETURNING cardinality(item_keys) AS queued
)
-- The last key in walk order, not max(): Postgres has no max(uuid). Qualified, so
-- ORDER BY sorts the key itself, not its text (where '9' > '10').
SELECT (SELECT s.key::text FROM scanned s ORDER BY s.key DESC LIMIT 1) AS last_key,
       (SELECT count(*) FROM scanned) AS scanned,
       coalesce((SELECT queued FROM queued), 0) AS queued
