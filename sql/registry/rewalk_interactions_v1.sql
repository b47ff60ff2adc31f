-- What a profile is computed from changed (the window, the dislike weight, the
-- interaction table's columns): the feed's interactions go back to the backfill, whose
-- walk replays every pair, so the workers recompute every profile under the new
-- definition rather than each at its user's next interaction; items keep their vectors.
-- The workers read the new spec before handling what the walk enqueues
-- (workers.registry). A new started_at tells a walk in progress that its position is
-- stale (backfill_save); the NOTIFY wakes running workers when the migration commits.
INSERT INTO dnf_backfill (feed_id, phase, last_key, scanned, queued, started_at, updated_at,
                          finished_at)
VALUES ({feed_literal}, 'interactions', NULL, 0, 0, clock_timestamp(), now(), NULL)
ON CONFLICT (feed_id, phase) DO UPDATE
SET last_key = NULL,
    scanned = 0,
    queued = 0,
    started_at = greatest(clock_timestamp(), dnf_backfill.started_at + interval '1 microsecond'),
    updated_at = now(),
    finished_at = NULL,
    error = NULL,
    failed_at = NULL;
SELECT pg_notify('dnf_backfill', {feed_literal});
