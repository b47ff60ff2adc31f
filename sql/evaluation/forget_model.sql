-- The scratch database's feed is new: it serves whatever model it declares, so the
-- workers write vectors straight into the column instead of staging a re-embedding.
DELETE FROM dnf_embedding_model WHERE feed_id = %s
