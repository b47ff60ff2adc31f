DELETE FROM dnf_outbox WHERE id = ANY(%(ids)s)
