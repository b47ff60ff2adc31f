-- Rank vectors of the given items in one feed (layout: dnf_django.models.ItemRank),
-- from their embedding, freshness field and interaction count, against the feed's
-- dnf_rank_state. Items deleted or without an embedding lose theirs; unchanged rows
-- are not rewritten, so replays cost the index nothing. Returns the largest
-- coordinate written, so the caller can tell when a rebase is due.
WITH state AS (
    SELECT t0, half_life_s, log_scale, coord_scale AS a
    FROM dnf_rank_state WHERE feed_id = %(feed_id)s
),
keys AS (
    SELECT DISTINCT k FROM unnest(%(keys)s::text[]) AS k
),
items AS (
    SELECT keys.k AS item_key, c.{embedding} AS x, s.a,
        -- The exponent is clamped: 2^-30 is 0 to a halfvec, and the cap bounds the
        -- norm the slack coordinate must make up.
        coalesce(power(2.0, least(greatest(
            extract(epoch FROM {freshness}::timestamptz - s.t0) / s.half_life_s, -30.0),
            log(2.0, %(cap)s::numeric)::float8)), 0.0) AS fresh,
        least(ln(1.0 + coalesce(st.interactions, 0)) / s.log_scale, %(cap)s) AS pop
    FROM keys
    CROSS JOIN state s
    JOIN {content} c ON c.{key} = keys.k::{key_type}
    LEFT JOIN dnf_item_stat st ON st.feed_id = %(feed_id)s AND st.item_key = keys.k
    WHERE c.{embedding} IS NOT NULL
),
gone AS (
    DELETE FROM dnf_item_rank r
    USING keys
    WHERE r.feed_id = %(feed_id)s AND r.item_key = keys.k
      AND NOT EXISTS (SELECT 1 FROM items WHERE items.item_key = keys.k)
),
written AS (
    INSERT INTO dnf_item_rank (feed_id, item_key, rank, fresh, pop)
    SELECT %(feed_id)s, item_key,
        (x::real[] || ARRAY[
            a * fresh,
            a * pop,
            -- Slack: every rank vector gets the norm sqrt(1 + 2·(a·cap)^2), which
            -- turns the inner-product search into a nearest-neighbour one.
            sqrt(greatest(1.0 + 2.0 * (a * %(cap)s)^2 - vector_norm(x)^2
                - (a * fresh)^2 - (a * pop)^2, 0.0))
        ]::real[])::halfvec,
        fresh, pop
    FROM items
    ON CONFLICT (feed_id, item_key) DO UPDATE
    SET rank = EXCLUDED.rank, fresh = EXCLUDED.fresh, pop = EXCLUDED.pop
    WHERE dnf_item_rank.rank <> EXCLUDED.rank
    RETURNING fresh, pop
)
SELECT coalesce(max(greatest(fresh, pop)), 0.0) FROM written
