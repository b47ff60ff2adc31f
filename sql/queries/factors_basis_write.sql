-- A rebuild's user-side basis: one row per user who interacted (see
-- workers/factorization.py); item vectors are folded from these.
INSERT INTO dnf_user_factor (feed_id, user_key, factor)
SELECT %(feed_id)s, v.key, v.factor
FROM unnest(%(keys)s::text[], %(factors)s::vector[]) AS v(key, factor)
