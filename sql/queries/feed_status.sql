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
    (SELECT count(*) FROM dnf_failure WHERE feed_id = %(feed_id)s) AS failures
