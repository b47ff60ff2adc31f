-- Feed.similar: true while the item to match has a vector, text or collaborative.
-- Without one no item is like it, and the feed query must not fall back to what is
-- merely fresh or popular. The condition reads no column of the row it filters, so
-- on the final statement Postgres evaluates it once (a one-time filter) and runs no
-- candidate pool when it is false.
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
