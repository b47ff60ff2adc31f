-- The size of the freshest or most popular pool, decided by the statement itself:
-- the first for users without a profile, the second for users with one.
CASE WHEN ({profile}) IS NULL THEN %s ELSE %s END
