-- Every (user, item) pair of the feed: what its collaborative vectors are learned from.
SELECT i.{user}::text, i.{item}::text FROM {interactions} i
