-- Stage one: the items with the best hybrid score that pass the caller's filters.
-- The score is linear, so it is one inner product between an item's rank vector
-- (dnf_django.models.ItemRank) and the query vector built here from the profile,
-- the clock and the largest count: [w_s·profile, w_f/a·2^((t0 - now)/h),
-- w_p/a·log_scale/ln(1 + max), 0], divided by |w_s| when there is a profile (only
-- the order matters; the profile keeps w_s's sign). The feed's partial HNSW index
-- serves the ORDER BY; its iterative scan keeps going while filters reject rows.
--
-- Any clock: 2^((t0 - now)/h) overflows a halfvec (65,504) 16 half-lives before t0
-- and a float8 past 1,024, so the vector is built in float8 from the logarithms of its
-- coordinates and divided by 2^k, k the log2 of its largest coordinate when that is
-- above 1 (k = 0, no change, for any clock after t0 with ordinary weights). Only the
-- order matters, so the division changes nothing but the range. What falls below half
-- precision's smallest step is flushed to 0 in float8, as the halfvec would round it,
-- so that no cast underflows.
SELECT c.pk
FROM dnf_item_rank r
JOIN ({items}) AS c (pk) ON c.pk = r.item_key::{key_type}
WHERE {excluded} AND r.feed_id = {feed_literal}
ORDER BY (r.rank::halfvec({dimension})) <#> (
    SELECT ((
            -- k = 0, the usual case: the profile as stored. Scaling it coordinate by
            -- coordinate costs ~0.1 ms, so only a clock far before t0 pays for it.
            CASE WHEN m.k = 0 THEN coalesce(q.profile::real[],
                array_fill(0.0::real, ARRAY[{profile_dimension}]))
            ELSE ARRAY(
                SELECT CASE WHEN abs(p.x * m.text_scale) < 1.5e-8 THEN 0.0::float8
                    ELSE p.x * m.text_scale END
                FROM unnest(coalesce(q.profile::real[],
                    array_fill(0.0::real, ARRAY[{profile_dimension}]))) WITH ORDINALITY AS p (x, i)
                ORDER BY p.i
            )::real[] END
        ) || ARRAY[
            coalesce(CASE WHEN l.fresh - m.k < -26.0 THEN 0.0::float8
                ELSE sign(w.fresh) * power(2.0::float8, l.fresh - m.k) END, 0.0),
            coalesce(CASE WHEN l.pop - m.k < -26.0 THEN 0.0::float8
                ELSE sign(w.pop) * power(2.0::float8, l.pop - m.k) END, 0.0),
            0.0::float8
        ]::real[])::halfvec({dimension})
    FROM (
        SELECT p.profile * array_fill(%s::real, ARRAY[{profile_dimension}])::vector AS profile,
            CASE WHEN p.profile IS NULL THEN 1.0::float8 ELSE %s::float8 END AS scale
        -- OFFSET 0 keeps this one subquery from being copied into each use of it.
        FROM (SELECT ({profile})::vector AS profile OFFSET 0) p
    ) q
    CROSS JOIN dnf_rank_state s
    -- The freshness coordinate at t0, the clock's distance from t0 in half-lives, and
    -- the popularity coordinate, all float8.
    CROSS JOIN LATERAL (
        SELECT q.scale * %s::float8 / s.coord_scale AS fresh,
            extract(epoch FROM s.t0 - %s::timestamptz)::float8 / s.half_life_s AS e,
            coalesce(q.scale * %s::float8 / s.coord_scale * s.log_scale / nullif(ln(1.0 + coalesce((
                SELECT interactions FROM dnf_item_stat
                WHERE feed_id = {feed_literal}
                ORDER BY interactions DESC LIMIT 1), 0))::float8, 0), 0.0)::float8 AS pop
        -- OFFSET 0 here and below: flattened, each reference to a column of w or l
        -- would copy its expression, and the largest count's subquery with it (20
        -- copies, each planned and run: about 2 ms of planning per request).
        OFFSET 0
    ) w
    -- log2 of each coordinate's magnitude at the clock (NULL for a 0 coordinate).
    CROSS JOIN LATERAL (
        SELECT ln(nullif(abs(w.fresh), 0)) / ln(2.0::float8) + w.e AS fresh,
            ln(nullif(abs(w.pop), 0)) / ln(2.0::float8) AS pop
        OFFSET 0
    ) l
    -- The profile's coordinates are at most 1: k > 0 only when another one exceeds that.
    CROSS JOIN LATERAL (
        SELECT k, power(2.0::float8, -least(k, 60.0::float8)) AS text_scale
        FROM (SELECT greatest(0.0::float8, l.fresh, l.pop) AS k) k
    ) m
    WHERE s.feed_id = {feed_literal}
        -- pgvector reads its settings when the scan starts, which is right after this
        -- vector is computed: set here, they hold for this search and outlast it only
        -- to the end of the transaction (the statement itself, in autocommit).
        AND set_config('hnsw.iterative_scan', %s, true) IS NOT NULL
        AND set_config('hnsw.ef_search', %s, true) IS NOT NULL
)
LIMIT %s
