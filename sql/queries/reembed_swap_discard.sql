-- Swapped in: the feed's next vectors are spent.
DELETE FROM dnf_embedding_next WHERE feed_id = %(feed_id)s
