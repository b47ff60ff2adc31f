-- With a value column, popularity counts likes only (value > 0).
WITH items AS (
    SELECT DISTINCT k AS item_key FROM unnest(%(keys)s::text[]) AS k
),
counts AS (
    SELECT items.item_key, count(i.{item}) AS interactions
    FROM items
    LEFT JOIN {interactions} i ON i.{item} = items.item_key::{key_type} AND i.{value} > 0
    GROUP BY items.item_key
)
INSERT INTO dnf_item_stat (feed_id, item_key, interactions, updated_at)
SELECT %(feed_id)s, item_key, interactions, now() FROM counts
ON CONFLICT (feed_id, item_key) DO UPDATE
SET interactions = EXCLUDED.interactions, updated_at = EXCLUDED.updated_at
