-- Move a feed's reference points: t0 to now, log_scale to the current largest count.
-- At most once per cooldown, so workers that notice together rebase once. Returns
-- the items whose coordinates must be written again: every item still fresh enough
-- to matter (older ones are ~0 against either t0), and every counted item when the
-- popularity scale moved.
WITH moved AS (
    UPDATE dnf_rank_state s
    SET t0 = now(),
        log_scale = ln(2.0 + coalesce(
            (SELECT max(interactions) FROM dnf_item_stat WHERE feed_id = s.feed_id), 0)),
        rebased_at = now()
    FROM dnf_rank_state old
    WHERE s.feed_id = %(feed_id)s AND old.feed_id = s.feed_id
      AND s.rebased_at < now() - make_interval(secs => %(cooldown_s)s)
    RETURNING s.log_scale <> old.log_scale AS rescaled
)
SELECT r.item_key
FROM dnf_item_rank r, moved
WHERE r.feed_id = %(feed_id)s AND (r.fresh > %(fresh_floor)s OR (moved.rescaled AND r.pop > 0))
ORDER BY r.item_key
