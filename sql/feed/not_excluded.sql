-- Not one of the caller's excluded_ids, the sorted array of feed/excluding.sql:
-- width_bucket() finds where {key} would sit in it by binary search, and the key is
-- excluded when the element there is the key itself. A few comparisons a row and
-- nothing to build per pool (a NOT IN subquery hashes all the keys again in each
-- pool; `<> ALL` walks them all for every row, and makes the planner walk them too).
-- Text keys compare under "C", the code point order they were sorted in.
--
-- The planner sees an unknown expression compared with the key and estimates that few
-- rows are removed (0.995), which keeps each pool's index search; a subquery it would
-- guess removes half, and turn searches into scans.
(SELECT keys FROM dnf_excluded)[width_bucket({key}{collate}, (SELECT keys FROM dnf_excluded))]
    IS DISTINCT FROM {key}
