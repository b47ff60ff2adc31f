-- Schedule the next rebuild of a feed's collaborative vectors, unless one is pending:
-- after a quiet delay (so a burst of likes is learned from at once), and not sooner
-- than the minimum interval after the last build. A schedule that has been due for
-- an hour is taken as lost and made again. Returns the seconds to wait, if scheduled.
INSERT INTO dnf_factor_state AS s (feed_id, scheduled_for, users, items, interactions)
VALUES (%(feed_id)s::text, now() + make_interval(secs => %(delay_s)s), 0, 0, 0)
ON CONFLICT (feed_id) DO UPDATE
SET scheduled_for = greatest(
    coalesce(s.built_at + make_interval(secs => %(interval_s)s), now()),
    now() + make_interval(secs => %(delay_s)s))
WHERE s.scheduled_for IS NULL OR s.scheduled_for < now() - interval '1 hour'
RETURNING greatest(extract(epoch FROM s.scheduled_for - now()), 0)::float8
