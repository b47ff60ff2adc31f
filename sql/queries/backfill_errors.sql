-- Backfill phases whose walk last stopped on an error (a small table: one row per
-- feed and phase), for dnf_status and the admin.
SELECT feed_id, phase, error, last_key
FROM dnf_backfill
WHERE error IS NOT NULL
ORDER BY feed_id, phase
