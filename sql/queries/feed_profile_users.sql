SELECT user_id::text FROM dnf_user_profile WHERE feed_id = %(feed_id)s ORDER BY user_id
