-- What a health probe reads: the outbox's oldest event, found at the head of the
-- primary key (ids and created_at both come from the insert, and the relay drains
-- in id order across feeds), and the number of waiting events counted only up to
-- %(cap)s, so a probe costs the same whether the backlog is ten rows or ten million.
WITH head AS (
    SELECT feed_id, created_at FROM dnf_outbox ORDER BY id LIMIT 1
)
SELECT
    (SELECT feed_id FROM head) AS oldest_feed_id,
    (SELECT extract(epoch FROM clock_timestamp() - created_at)::float8 FROM head)
        AS oldest_event_s,
    (SELECT count(*) FROM (SELECT 1 FROM dnf_outbox LIMIT %(cap)s) AS waiting) AS events
