-- Failures go back through the outbox, so retries get the same at-least-once
-- delivery as fresh events and the web process needs no broker connection.
WITH retried AS (
    DELETE FROM dnf_failure
    WHERE (%(feed_id)s::text IS NULL OR feed_id = %(feed_id)s)
      AND (%(task)s::text IS NULL OR task = %(task)s)
      AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
    RETURNING feed_id, task, key
),
queued AS (
    INSERT INTO dnf_outbox (feed_id, kind, item_key, user_key)
    SELECT
        feed_id,
        CASE task WHEN 'embed' THEN 'item' WHEN 'reset' THEN 'truncate_items' ELSE 'interaction' END,
        CASE WHEN task IN ('embed', 'popularity') THEN key END,
        CASE WHEN task = 'profiles' THEN key END
    FROM retried
    RETURNING feed_id
)
SELECT count(*), pg_notify('dnf_outbox', 'retry') FROM queued
