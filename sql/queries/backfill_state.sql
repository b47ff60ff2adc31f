-- Where a backfill phase of one feed stands; no row means it never started. started_at
-- names the walk: a reset (backfill_rewalk) gives it a new one.
SELECT last_key, scanned, queued, finished_at IS NOT NULL AS done, started_at
FROM dnf_backfill
WHERE feed_id = %(feed_id)s AND phase = %(phase)s
