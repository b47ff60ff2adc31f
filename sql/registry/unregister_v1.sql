DELETE FROM dnf_feed WHERE feed_id = {feed_literal};
