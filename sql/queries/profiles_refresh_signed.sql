-- With likes and dislikes: over the user's most recent non-neutral interactions whose
-- items are embedded, profile = l2_normalize(sum(liked) - w * sum(disliked)).
-- A window without a like, or one where likes and dislikes cancel out, gives no profile.
-- The collaborative part is the mean of the liked items' collaborative vectors.
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
sums AS (
    SELECT
        user_key,
        sum(embedding) FILTER (WHERE liked)
            - coalesce(sum(embedding) FILTER (WHERE NOT liked), %(zero)s::vector)
              * %(dislike_scale)s::vector AS direction,
        avg(factor) FILTER (WHERE liked) AS collaborative
    FROM recent
    GROUP BY user_key
    HAVING bool_or(liked)
),
profiles AS (
    SELECT user_key, l2_normalize(direction) AS embedding,
        l2_normalize(collaborative) AS collaborative
    FROM sums
    WHERE vector_norm(direction) > 0
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
