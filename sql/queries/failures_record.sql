-- One row per (feed, task, key): a repeated failure bumps the count and keeps the
-- latest error, so the table lists what is broken now, not a log.
INSERT INTO dnf_failure (feed_id, task, key, error, attempts, first_failed_at, last_failed_at)
SELECT %(feed_id)s, %(task)s, k, %(error)s, 1, now(), now()
FROM unnest(%(keys)s::text[]) AS k
ON CONFLICT (feed_id, task, key) DO UPDATE
SET error = EXCLUDED.error,
    attempts = dnf_failure.attempts + 1,
    last_failed_at = EXCLUDED.last_failed_at
