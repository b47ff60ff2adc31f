-- With likes and dislikes: over the user's most recent non-neutral interactions whose
-- items are embedded,
--     profile = l2_normalize(sum(liked) - w * sum(disliked))     (w = dislike_weight)
-- so dislikes alone give the normalized negative of their mean, and a window that
-- gains or loses its last like moves the profile continuously, with one formula.
-- No profile when that direction vanishes: a window of dislikes with w = 0, or likes
-- and dislikes that cancel out. "Vanishes" allows for float4 rounding: a direction
-- shorter than 1e-4 of the total length summed into it is rounding noise, and
-- normalizing it would make a profile pointing anywhere.
-- The collaborative part is the same signed sum over the same items' collaborative
-- vectors (items without one add nothing; NULL when none has one, or it cancels), so
-- both signals push away from what the user disliked.
WITH users AS (
    SELECT DISTINCT u AS user_key FROM unnest(%(users)s::text[]) AS u
),
recent AS (
    SELECT users.user_key, r.embedding, r.liked, r.factor
    FROM users
    CROSS JOIN LATERAL (
        SELECT c.{embedding} AS embedding, i.{value} > 0 AS liked, fa.factor
        FROM {interactions} i
        JOIN {content} c ON c.{content_key} = i.{item}
        LEFT JOIN dnf_item_factor fa
            ON fa.feed_id = %(feed_id)s AND fa.item_key = i.{item}::text
        WHERE i.{user} = users.user_key::{user_key_type}
          AND c.{embedding} IS NOT NULL
          AND i.{value} <> 0
        ORDER BY i.{order} DESC, i.{interaction_key} DESC
        LIMIT %(window)s
    ) AS r
),
signed AS (
    -- Each item's contribution: +v for a like, -w*v for a dislike (pgvector has no
    -- vector-by-scalar product: multiply by a constant vector of v's own dimension).
    SELECT
        user_key,
        CASE WHEN liked THEN embedding
            ELSE embedding * array_fill(-%(dislike_weight)s::real,
                ARRAY[vector_dims(embedding)])::vector
        END AS embedding,
        vector_norm(embedding) * CASE WHEN liked THEN 1.0 ELSE %(dislike_weight)s END
            AS embedding_length,
        CASE WHEN liked OR factor IS NULL THEN factor
            ELSE factor * array_fill(-%(dislike_weight)s::real,
                ARRAY[vector_dims(factor)])::vector
        END AS factor,
        vector_norm(factor) * CASE WHEN liked THEN 1.0 ELSE %(dislike_weight)s END
            AS factor_length
    FROM recent
),
sums AS (
    SELECT user_key,
        sum(embedding) AS direction, sum(embedding_length) AS direction_length,
        sum(factor) AS collaborative, sum(factor_length) AS collaborative_length
    FROM signed
    GROUP BY user_key
),
profiles AS (
    SELECT user_key, l2_normalize(direction) AS embedding,
        CASE WHEN vector_norm(collaborative) > 1e-4 * collaborative_length
            THEN l2_normalize(collaborative)
        END AS collaborative
    FROM sums
    WHERE vector_norm(direction) > 1e-4 * direction_length
),
upserted AS (
    INSERT INTO dnf_user_profile (user_id, feed_id, embedding, collaborative, updated_at)
    SELECT user_key::{user_key_type}, %(feed_id)s, embedding, collaborative, now()
    FROM profiles
    ON CONFLICT (user_id, feed_id) DO UPDATE
    SET embedding = EXCLUDED.embedding, collaborative = EXCLUDED.collaborative,
        updated_at = EXCLUDED.updated_at
    RETURNING 1
)
DELETE FROM dnf_user_profile p
USING users
WHERE p.feed_id = %(feed_id)s
  AND p.user_id = users.user_key::{user_key_type}
  AND NOT EXISTS (SELECT 1 FROM profiles WHERE profiles.user_key = users.user_key)
