-- Record why a backfill phase stopped short, in its own statement (the failed batch
-- rolled back). The position stays where the last good batch left it, so the next
-- run resumes there; dnf_status reports the error until a batch succeeds.
INSERT INTO dnf_backfill (feed_id, phase, scanned, queued, started_at, updated_at, error, failed_at)
VALUES (%(feed_id)s, %(phase)s, 0, 0, now(), now(), %(error)s, now())
ON CONFLICT (feed_id, phase) DO UPDATE
SET error = EXCLUDED.error,
    failed_at = EXCLUDED.failed_at,
    updated_at = now()
