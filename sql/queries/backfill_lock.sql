-- One backfill per feed at a time across every worker: a session-level lock, released
-- by backfill_unlock or when the connection ends.
SELECT pg_try_advisory_lock(hashtext('dnf_backfill'), hashtext(%(feed_id)s))
