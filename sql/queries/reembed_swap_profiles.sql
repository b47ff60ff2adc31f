-- Profiles of another dimension than the new vectors cannot be compared with them:
-- they go now, and come back when the follow-up events recompute them.
DELETE FROM dnf_user_profile
WHERE feed_id = %(feed_id)s AND vector_dims(embedding) <> %(dimension)s
