-- Wake the relays now rather than at their next poll.
SELECT pg_notify('dnf_outbox', %(feed_id)s)
