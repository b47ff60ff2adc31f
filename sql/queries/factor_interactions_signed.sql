-- Every (user, item) pair of the feed that is a like: what its collaborative vectors
-- are learned from (dislikes and neutral rows say nothing about co-liking).
SELECT i.{user}::text, i.{item}::text FROM {interactions} i WHERE i.{value} > 0
