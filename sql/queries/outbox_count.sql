SELECT count(*) FROM dnf_outbox
