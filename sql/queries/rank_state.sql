-- The feed's reference points for rank coordinates, created on first use (and again
-- after a reinstall deleted them, or a test flushed them). Runs with every rank
-- write, so it reads nothing once the row exists, and one index entry for the
-- largest count when it does not.
INSERT INTO dnf_rank_state (feed_id, t0, half_life_s, log_scale, coord_scale, rebased_at)
SELECT %(feed_id)s::text, now(), %(half_life_s)s::float8,
    ln(2.0 + coalesce((
        SELECT interactions FROM dnf_item_stat
        WHERE feed_id = %(feed_id)s::text
        ORDER BY interactions DESC LIMIT 1), 0)),
    %(coord_scale)s::float8, now()
WHERE NOT EXISTS (SELECT 1 FROM dnf_rank_state WHERE feed_id = %(feed_id)s::text)
ON CONFLICT (feed_id) DO NOTHING
