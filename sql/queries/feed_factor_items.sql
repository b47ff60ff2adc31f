SELECT item_key FROM dnf_item_factor WHERE feed_id = %(feed_id)s ORDER BY item_key
