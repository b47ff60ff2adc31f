-- Where a backfill phase of one feed stands; no row means it never started.
SELECT last_key, scanned, queued, finished_at IS NOT NULL AS done
FROM dnf_backfill
WHERE feed_id = %(feed_id)s AND phase = %(phase)s
