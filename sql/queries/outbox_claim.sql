-- Oldest first, skipping rows another relay has claimed, so relays never wait on
-- each other and each row is enqueued by one of them.
SELECT id, feed_id, kind, item_key, user_key
FROM dnf_outbox
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
