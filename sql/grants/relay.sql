-- The relay's role: claim (FOR UPDATE takes UPDATE privilege), read and delete outbox
-- rows; for the backfill at start, read the registry, queue outbox rows and record
-- its position. Nothing else: it never sees a profile, a count or a vector.
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_outbox TO {role};
GRANT SELECT ON dnf_feed TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_backfill TO {role};
-- The backfill queues the items without a vector of the model (and backend) the feed
-- serves, which it reads here.
GRANT SELECT ON dnf_embedding_model TO {role};
