-- Stage one for a user without a profile, whose score is w_f·freshness +
-- w_p·popularity. In rank coordinates (dnf_django.models.ItemRank) that is
-- A·fresh + B·pop, with A = w_f·2^((t0 - now)/h) and B = w_p·log_scale/ln(1 + max):
-- linear in two columns, so the items of the best score are the nearest to a point
-- far away in the direction (A, B). The feed's GiST index over point(fresh, pop)
-- (sql/indexes/cold_v1.sql) returns them nearest first, exactly, and keeps going
-- while the caller's filters reject rows; an HNSW search led by two of the rank
-- vectors' coordinates follows its graph poorly. At 10^6 away the distance order
-- differs from the score order by at most |(fresh, pop)|^2 / 10^6 < 5e-6.
SELECT c.pk
FROM dnf_item_rank r
JOIN ({items}) AS c (pk) ON c.pk = r.item_key::{key_type}
WHERE {excluded} AND r.feed_id = {feed_literal}
ORDER BY point(r.fresh, r.pop) <-> (
    SELECT point(1e6 * d.x / d.n, 1e6 * d.y / d.n)
    FROM dnf_rank_state s
    CROSS JOIN LATERAL (
        SELECT %s::float8 AS wf, %s::float8 AS wp,
            extract(epoch FROM s.t0 - %s::timestamptz)::float8 / s.half_life_s AS e,
            s.log_scale / nullif(ln(1.0 + coalesce((
                SELECT interactions FROM dnf_item_stat
                WHERE feed_id = {feed_literal}
                ORDER BY interactions DESC LIMIT 1), 0))::float8, 0) AS p
        -- OFFSET 0 here and below: flattened, each reference to a column of w or l
        -- would copy its expression, and the largest count's subquery with it (20
        -- copies, each planned and run: about 2 ms of planning per request).
        OFFSET 0
    ) w
    -- log2 |A| and log2 |B| (NULL for a zero): A itself leaves float8's range for a
    -- clock 1,024 half-lives from t0, its logarithm never does.
    CROSS JOIN LATERAL (
        SELECT ln(nullif(abs(w.wf), 0)) / ln(2.0::float8) + w.e AS a,
            ln(nullif(abs(w.wp * coalesce(w.p, 0.0)), 0)) / ln(2.0::float8) AS b
        OFFSET 0
    ) l
    -- The direction, scaled so its larger part is 1 (greatest() skips a NULL).
    CROSS JOIN LATERAL (
        SELECT sign(w.wf) * CASE WHEN l.a - m.top >= -60.0
                THEN power(2.0::float8, l.a - m.top) ELSE 0.0 END AS x,
            sign(w.wp) * CASE WHEN l.b - m.top >= -60.0
                THEN power(2.0::float8, l.b - m.top) ELSE 0.0 END AS y
        FROM (SELECT greatest(l.a, l.b) AS top) m
    ) u
    CROSS JOIN LATERAL (SELECT u.x, u.y, nullif(sqrt(u.x ^ 2 + u.y ^ 2), 0.0) AS n) d
    WHERE s.feed_id = {feed_literal}
)
LIMIT %s
