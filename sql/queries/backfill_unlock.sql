SELECT pg_advisory_unlock(hashtext('dnf_backfill'), hashtext(%(feed_id)s))
