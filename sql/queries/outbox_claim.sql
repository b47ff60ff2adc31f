-- Oldest first, skipping rows another relay has claimed, so relays never wait on
-- each other and each row is enqueued by one of them. Rows written by v1 triggers
-- carry one key; v2 rows carry arrays. age_s, how long ago the write was captured,
-- becomes the tasks' written_at: what dnf_status's write-to-profile delay counts from.
SELECT id, feed_id, kind, item_key, user_key, item_keys, user_keys,
    extract(epoch FROM clock_timestamp() - created_at)::float8 AS age_s
FROM dnf_outbox
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
