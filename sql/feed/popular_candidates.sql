-- The most popular items that pass the caller's filters: walks dnf_item_stat in
-- count order (index on feed_id, interactions) and looks each item up by key, so
-- filters cannot starve it and no request aggregates the interaction table.
SELECT c.pk
FROM dnf_item_stat s
JOIN ({items}) AS c (pk) ON c.pk = s.item_key::{key_type}
WHERE {excluded} AND s.feed_id = %s AND s.interactions > 0
ORDER BY s.interactions DESC
LIMIT %s
