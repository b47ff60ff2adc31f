-- Items without a vector of the new model (edited during the swap, or rejected by
-- the encoder) lose their old one, which would be meaningless next to the new ones,
-- and are queued to be embedded again.
WITH cleared AS (
    UPDATE {table} AS c
    SET {embedding} = NULL, {embedding_hash} = NULL
    WHERE c.{embedding_hash} IS DISTINCT FROM md5(%(identity)s || E'\n' || {text})
    RETURNING c.{key} AS key
)
INSERT INTO dnf_outbox (feed_id, kind, item_keys)
SELECT %(feed_id)s, 'item', array_agg(key::text ORDER BY key)
FROM cleared
HAVING count(*) > 0
RETURNING cardinality(item_keys)
