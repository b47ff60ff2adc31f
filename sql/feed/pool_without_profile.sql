-- A pool that runs only for a user without a profile: the one-time filter skips it
-- otherwise. With pool_with_profile.sql, a pool whose size depends on whether the
-- user has a profile, which the statement itself finds out, each copy with a
-- constant LIMIT the planner can see (with a computed one it sorts the whole table).
SELECT pool.pk FROM ({pool}) AS pool (pk) WHERE ({profile}) IS NULL
