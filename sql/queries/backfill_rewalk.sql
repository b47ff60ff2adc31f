-- A bulk import wrote rows with capture paused (dnf_django.capture.paused): hand its
-- feeds (%(feeds)s, or every installed feed if %(all)s) back to the backfill. Runs in
-- the import's transaction, so the hand-back commits, or rolls back, with the rows.
-- Both phases start over: the items walk queues only rows whose hash is stale, the
-- interactions walk replays every pair. A new started_at tells a walk in progress that
-- its position is stale (backfill_save), even within one clock tick. One NOTIFY per
-- feed wakes running workers at commit (backfill_listen).
WITH feeds AS (
    SELECT feed_id FROM dnf_feed WHERE %(all)s OR feed_id = ANY(%(feeds)s::text[])
), reset AS (
    INSERT INTO dnf_backfill (feed_id, phase, last_key, scanned, queued, started_at, updated_at,
                              finished_at)
    SELECT f.feed_id, p.phase, NULL, 0, 0, clock_timestamp(), now(), NULL
    FROM feeds f CROSS JOIN (VALUES ('items'), ('interactions')) AS p (phase)
    ON CONFLICT (feed_id, phase) DO UPDATE
    SET last_key = NULL,
        scanned = 0,
        queued = 0,
        started_at = greatest(clock_timestamp(), dnf_backfill.started_at + interval '1 microsecond'),
        updated_at = now(),
        finished_at = NULL,
        error = NULL,
        failed_at = NULL
    RETURNING feed_id
)
SELECT feed_id, pg_notify('dnf_backfill', feed_id)
FROM (SELECT DISTINCT feed_id FROM reset) AS handed_back
