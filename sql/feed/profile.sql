-- A user's profile vector (embedding, or collaborative) in one feed; no row while the
-- user has none, which the feed query reads as a 0 signal.
SELECT {column}
FROM dnf_user_profile
WHERE user_id = %s AND feed_id = %s
