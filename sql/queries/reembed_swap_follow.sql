-- After a swap, profiles and rank vectors follow the new vectors: interaction events
-- for every user (their profiles are recomputed) and for every item (its count and
-- rank vector are rewritten), through the relay like any other write.
WITH users AS (
    SELECT array_agg(DISTINCT i.{user}::text) AS keys FROM {interactions} i
), items AS (
    SELECT array_agg(c.{key}::text ORDER BY c.{key}) AS keys FROM {table} c
)
INSERT INTO dnf_outbox (feed_id, kind, item_keys, user_keys)
SELECT %(feed_id)s, 'interaction', NULL, users.keys FROM users WHERE users.keys IS NOT NULL
UNION ALL
SELECT %(feed_id)s, 'interaction', items.keys, NULL FROM items WHERE items.keys IS NOT NULL
