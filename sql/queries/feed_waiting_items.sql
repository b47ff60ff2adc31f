-- Items waiting for a vector with nothing on its way to them, for dnf_status (asked
-- only while the broker holds no message). Waiting: the stored hash is missing or
-- does not match the text and the model the feed serves (the embed actor writes
-- md5(identity || '\n' || text), also for empty text, which gets no vector); not
-- listed in dnf_failure (reported apart); and no outbox event of the feed in this
-- snapshot. The count, and the first %(sample)s keys in key order, so a later status
-- can tell whether the same items still wait.
WITH waiting AS (
    SELECT c.{key} AS key
    FROM {table} c
    WHERE c.{embedding_hash} IS DISTINCT FROM md5(%(identity)s || E'\n' || {text})
      AND NOT EXISTS (
          SELECT 1 FROM dnf_failure f
          WHERE f.feed_id = %(feed_id)s AND f.task = %(task)s AND f.key = c.{key}::text
      )
      AND NOT EXISTS (SELECT 1 FROM dnf_outbox o WHERE o.feed_id = %(feed_id)s)
)
-- Qualified, so ORDER BY sorts the key itself, not its text (where '9' > '10').
SELECT (SELECT count(*) FROM waiting) AS waiting,
       ARRAY(SELECT w.key::text FROM waiting w ORDER BY w.key LIMIT %(sample)s) AS sample
