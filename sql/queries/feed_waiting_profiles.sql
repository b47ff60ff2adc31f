-- Users waiting for a profile with nothing on its way to them, for dnf_status (asked
-- only while the broker holds no message, and only for feeds without dislikes, whose
-- likes always make a profile). Waiting: an interaction with an embedded item, no
-- profile, not listed in dnf_failure (reported apart), and no outbox event of the
-- feed in this snapshot. The count, and the first %(sample)s user keys in key order,
-- so a later status can tell whether the same users still wait.
WITH waiting AS (
    SELECT DISTINCT i.{user} AS user_key
    FROM {interactions} i
    JOIN {content} c ON c.{content_key} = i.{item}
    WHERE c.{embedding} IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM dnf_user_profile p
          WHERE p.feed_id = %(feed_id)s AND p.user_id = i.{user}::{user_key_type}
      )
      AND NOT EXISTS (
          SELECT 1 FROM dnf_failure f
          WHERE f.feed_id = %(feed_id)s AND f.task = %(task)s AND f.key = i.{user}::text
      )
      AND NOT EXISTS (SELECT 1 FROM dnf_outbox o WHERE o.feed_id = %(feed_id)s)
)
SELECT (SELECT count(*) FROM waiting) AS waiting,
       ARRAY(SELECT w.user_key::text FROM waiting w ORDER BY w.user_key LIMIT %(sample)s)
           AS sample
