-- Next vectors of another model than the one being re-embedded to (an earlier,
-- abandoned change) can never be swapped in.
DELETE FROM dnf_embedding_next WHERE feed_id = %(feed_id)s AND identity <> %(identity)s
