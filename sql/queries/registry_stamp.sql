-- What the installed specs are, in one short value: a migration that installs, changes
-- or removes a feed changes it, so a worker can tell whether its cached specs are
-- current with one small read before each task (dnf_feed holds a row per feed).
SELECT md5(coalesce(string_agg(feed_id || ':' || spec::text, ',' ORDER BY feed_id), ''))
FROM dnf_feed
