SELECT feed_id, spec FROM dnf_feed ORDER BY feed_id
