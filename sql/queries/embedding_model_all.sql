-- The model each feed serves, for the system checks.
SELECT feed_id, identity FROM dnf_embedding_model ORDER BY feed_id
