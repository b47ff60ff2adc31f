-- Oldest first, skipping rows another relay has claimed, so relays never wait on
-- each other and each row is enqueued by one of them. Rows written by v1 triggers
-- carry one key; v2 rows carry arrays.
SELECT id, feed_id, kind, item_key, user_key, item_keys, user_keys
FROM dnf_outbox
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
