-- Collaborative vectors of the given items, folded into the feed's current basis
-- (workers/factorization.py): an item's vector is its current like column projected
-- onto the basis, sum(basis row of each liker) / sqrt(likers), users counted once.
-- Likers with no basis row (new since the rebuild) count in the divisor but add no
-- direction. No vector for an item that is gone or that no liker with a basis row
-- likes, so a deleted key's vector goes with it and a reused key inherits nothing.
-- Basis rows of another dimension (left by a migration that changed it, until the
-- next rebuild) are ignored. Unchanged rows are not rewritten; returns the items whose
-- vector was written or deleted, whose likers' profiles must follow.
WITH keys AS (
    SELECT DISTINCT k AS item_key FROM unnest(%(keys)s::text[]) AS k
),
likers AS (
    SELECT DISTINCT keys.item_key, i.{user}::text AS user_key
    FROM keys
    JOIN {content} c ON c.{content_key} = keys.item_key::{key_type}
    JOIN {interactions} i ON i.{item} = c.{content_key}
),
folded AS (
    SELECT l.item_key, count(*) AS likers,
        -- Summed in a fixed order: the same likes give the same float4 bits, so a
        -- replay finds the row unchanged.
        sum(b.factor ORDER BY l.user_key) AS total
    FROM likers l
    LEFT JOIN dnf_user_factor b
        ON b.feed_id = %(feed_id)s AND b.user_key = l.user_key
        AND vector_dims(b.factor) = %(dimension)s
    GROUP BY l.item_key
),
vectors AS (
    SELECT item_key,
        total * array_fill((1.0 / sqrt(likers))::real, ARRAY[vector_dims(total)])::vector
            AS factor
    FROM folded
    WHERE total IS NOT NULL
),
gone AS (
    DELETE FROM dnf_item_factor f
    USING keys
    WHERE f.feed_id = %(feed_id)s AND f.item_key = keys.item_key
      AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.item_key = keys.item_key)
    RETURNING f.item_key
),
written AS (
    INSERT INTO dnf_item_factor (feed_id, item_key, factor)
    SELECT %(feed_id)s, item_key, factor FROM vectors
    ON CONFLICT (feed_id, item_key) DO UPDATE SET factor = EXCLUDED.factor
    WHERE dnf_item_factor.factor <> EXCLUDED.factor
    RETURNING item_key
)
SELECT item_key FROM gone UNION SELECT item_key FROM written
