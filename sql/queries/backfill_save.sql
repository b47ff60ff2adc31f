-- Record a backfill phase's position after a batch (or its reset by a restart), in
-- the batch's transaction, so the position never runs ahead of what was queued.
-- A batch saves only over the walk it started from (%(started_at)s): if a bulk import
-- reset the phase meanwhile (backfill_rewalk), nothing is saved and no row returns,
-- so the walker starts over instead of writing its old position over the reset.
INSERT INTO dnf_backfill (feed_id, phase, last_key, scanned, queued, started_at, updated_at, finished_at)
VALUES (%(feed_id)s, %(phase)s, %(last_key)s, %(scanned)s, %(queued)s, now(), now(),
        CASE WHEN %(done)s THEN now() END)
ON CONFLICT (feed_id, phase) DO UPDATE
SET last_key = EXCLUDED.last_key,
    scanned = EXCLUDED.scanned,
    queued = EXCLUDED.queued,
    started_at = CASE WHEN %(restart)s THEN now() ELSE dnf_backfill.started_at END,
    updated_at = now(),
    finished_at = EXCLUDED.finished_at,
    -- A batch went through: whatever stopped the walk before is over.
    error = NULL,
    failed_at = NULL
WHERE %(restart)s OR dnf_backfill.started_at IS NOT DISTINCT FROM %(started_at)s::timestamptz
RETURNING started_at
