-- Profiles and rank vectors read the collaborative vectors: they take this lock
-- shared, a rebuild takes it exclusive, so nothing mixes an old basis with a new one.
SELECT CASE WHEN %(exclusive)s
    THEN pg_advisory_xact_lock(hashtext('dnf_factors:' || %(feed_id)s::text))::text
    ELSE pg_advisory_xact_lock_shared(hashtext('dnf_factors:' || %(feed_id)s::text))::text
END
