DELETE FROM dnf_failure WHERE feed_id = %(feed_id)s AND task = %(task)s AND key = ANY(%(keys)s)
