-- What dnf_status reports for one feed. Counting the content and interaction
-- tables scans them: a status call costs a few hundred ms at a million rows.
SELECT
    (SELECT count(*) FROM dnf_outbox WHERE feed_id = %(feed_id)s) AS outbox_events,
    (SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8
       FROM dnf_outbox WHERE feed_id = %(feed_id)s) AS oldest_event_s,
    (SELECT count(*) FROM {table} c) AS items,
    (SELECT count(*) FROM {table} c WHERE c.{embedding_hash} IS NULL) AS items_never_embedded,
    (SELECT count(DISTINCT i.{user}) FROM {interactions} i) AS users_with_interactions,
    (SELECT count(*) FROM dnf_user_profile WHERE feed_id = %(feed_id)s) AS profiles,
    (SELECT count(*) FROM dnf_failure WHERE feed_id = %(feed_id)s) AS failures,
    -- Failures recorded (first or again) within the window and not cleared since: a
    -- success deletes its row, so these are actors failing now, not old history.
    (SELECT count(*) FROM dnf_failure
       WHERE feed_id = %(feed_id)s
         AND last_failed_at > now() - make_interval(secs => %(window_s)s)) AS recent_failures,
    -- The last line of the latest error: a traceback's last line names the exception.
    (SELECT task || ' ' || key || ': ' || substring(rtrim(error, E' \n') FROM E'[^\n]*$')
       FROM dnf_failure
       WHERE feed_id = %(feed_id)s
       ORDER BY last_failed_at DESC, id DESC LIMIT 1) AS latest_failure,
    -- The collaborative basis: how old it is, and what waits for its next build (items
    -- none of whose likers it knows, users it does not know); NULL before the first.
    (SELECT extract(epoch FROM now() - built_at)::float8
       FROM dnf_factor_state WHERE feed_id = %(feed_id)s) AS collaborative_basis_age_s,
    (SELECT count(*) FROM dnf_item_stat s
       WHERE s.feed_id = %(feed_id)s AND s.interactions > 0
         AND NOT EXISTS (SELECT 1 FROM dnf_item_factor f
                         WHERE f.feed_id = s.feed_id AND f.item_key = s.item_key))
       AS items_without_collaborative,
    (SELECT count(*) FROM dnf_user_profile p
       WHERE p.feed_id = %(feed_id)s
         AND NOT EXISTS (SELECT 1 FROM dnf_user_factor u
                         WHERE u.feed_id = p.feed_id AND u.user_key = p.user_id::text))
       AS users_without_collaborative
