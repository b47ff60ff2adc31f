DELETE FROM dnf_item_factor WHERE feed_id = %(feed_id)s
