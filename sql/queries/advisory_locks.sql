-- Serializes recomputations of the same keys: with READ COMMITTED, the statement
-- after this one sees everything committed before the lock was granted, so a slow
-- recomputation can never overwrite a newer one with older data.
SELECT pg_advisory_xact_lock(hashtext(%(scope)s), hashtext(k))
FROM (SELECT DISTINCT k FROM unnest(%(keys)s::text[]) AS k ORDER BY k) AS keys
