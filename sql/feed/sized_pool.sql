-- A pool whose size depends on whether the user has a profile, which the statement
-- itself finds out: each copy has a constant LIMIT and a one-time filter, so exactly
-- one of them runs.
SELECT pool.pk FROM ({full}) AS pool (pk) WHERE ({profile}) IS NULL
UNION ALL
SELECT pool.pk FROM ({guard}) AS pool (pk) WHERE ({profile}) IS NOT NULL
