SELECT item_key FROM dnf_item_rank WHERE feed_id = %(feed_id)s ORDER BY item_key
