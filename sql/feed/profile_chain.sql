-- A user's profile vector (embedding, or collaborative) in the first feed of
-- the given chain that has one: the feed itself, then its parent feeds. No row while
-- the user has none, which the feed query reads as a 0 signal.
SELECT {column}
FROM dnf_user_profile
WHERE user_id = %s AND feed_id = ANY(%s::text[])
ORDER BY array_position(%s::text[], feed_id::text)
LIMIT 1
