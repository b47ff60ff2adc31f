-- Feed.similar: true while the item to match has a vector, text or collaborative.
-- Without one no item is like it, and the feed query must not fall back to what is
-- merely fresh or popular. The condition reads no column of the row it filters, so
-- Postgres evaluates it once per statement (a one-time filter) and every candidate
-- pool is skipped when it is false.
(
    EXISTS (
        SELECT 1 FROM {table} s
        WHERE s.{key} = %s::{key_type} AND s.{embedding} IS NOT NULL
    )
    OR EXISTS (
        SELECT 1 FROM dnf_item_factor f
        WHERE f.feed_id = %s AND f.item_key = (%s::{key_type})::text
    )
)
