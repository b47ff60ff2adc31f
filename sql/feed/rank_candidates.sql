-- Stage one: the items with the best hybrid score that pass the caller's filters.
-- The score is linear, so it is one inner product between an item's rank vector
-- (dnf_django.models.ItemRank) and the query vector built here from the profile,
-- the clock and the largest count: [w_s·profile, w_f/a·2^((t0 - now)/h),
-- w_p/a·log_scale/ln(1 + max), 0], divided by |w_s| when there is a profile (only
-- the order matters; the profile keeps w_s's sign). The feed's partial HNSW index serves the ORDER BY; its iterative
-- scan keeps going while filters reject rows.
SELECT c.pk
FROM dnf_item_rank r
JOIN ({items}) AS c (pk) ON c.pk = r.item_key::{key_type}
WHERE r.feed_id = {feed_literal}
ORDER BY (r.rank::halfvec({dimension})) <#> (
    SELECT (coalesce(q.profile::real[], array_fill(0.0::real, ARRAY[{profile_dimension}]))
        || ARRAY[
            q.scale * %s / s.coord_scale * power(2.0, greatest(-30.0, least(30.0,
                extract(epoch FROM s.t0 - %s::timestamptz) / s.half_life_s))),
            coalesce(q.scale * %s / s.coord_scale * s.log_scale / nullif(ln(1.0 + coalesce((
                SELECT interactions FROM dnf_item_stat
                WHERE feed_id = {feed_literal}
                ORDER BY interactions DESC LIMIT 1), 0)), 0), 0.0),
            0.0
        ]::real[])::halfvec({dimension})
    FROM (
        SELECT p.profile * array_fill(%s::real, ARRAY[{profile_dimension}])::vector AS profile,
            CASE WHEN p.profile IS NULL THEN 1.0 ELSE %s END AS scale
        -- OFFSET 0 keeps this one subquery from being copied into each use of it.
        FROM (SELECT ({profile})::vector AS profile OFFSET 0) p
    ) q, dnf_rank_state s
    WHERE s.feed_id = {feed_literal}
        -- pgvector reads its settings when the scan starts, which is right after this
        -- vector is computed: set here, they hold for this search and outlast it only
        -- to the end of the transaction (the statement itself, in autocommit).
        AND set_config('hnsw.iterative_scan', %s, true) IS NOT NULL
        AND set_config('hnsw.ef_search', %s, true) IS NOT NULL
)
LIMIT %s
