-- Stage two's built-in popularity: ln(1 + n) / ln(1 + largest n) over the counts the
-- workers keep, in [0, 1]. The largest count is one read of the (feed_id,
-- interactions) index, where max() would scan every count of the feed.
coalesce(
    ln(1.0 + coalesce((
        SELECT s.interactions FROM dnf_item_stat s
        WHERE s.feed_id = %s AND s.item_key = ({key})::text
    ), 0)::float8)
    / nullif(ln(1.0 + coalesce((
        SELECT interactions FROM dnf_item_stat
        WHERE feed_id = %s
        ORDER BY interactions DESC LIMIT 1
    ), 0)::float8), 0),
    0.0
)
