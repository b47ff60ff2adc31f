-- A pool that runs only for a user with a profile; see pool_without_profile.sql.
SELECT pool.pk FROM ({pool}) AS pool (pk) WHERE ({profile}) IS NOT NULL
