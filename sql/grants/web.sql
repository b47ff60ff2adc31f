-- The web app's role: what neural-feed needs besides the app's own tables. The feed
-- triggers run as the writer, so whoever writes content or interactions inserts into
-- the outbox; get_feed reads profiles, counts, rank and collaborative vectors; the
-- admin and dnf_retry_failed send failures back through the outbox (reading the rows
-- they insert), dnf_status counts it; system checks read the registry and the model
-- each feed serves.
GRANT SELECT, INSERT ON dnf_outbox TO {role};
GRANT SELECT ON dnf_feed, dnf_user_profile, dnf_item_stat TO {role};
GRANT SELECT ON dnf_item_rank, dnf_rank_state, dnf_item_factor, dnf_embedding_model TO {role};
GRANT SELECT, DELETE ON dnf_failure TO {role};
-- get_page keeps each chain's shown keys, and purges expired chains as it writes.
GRANT SELECT, INSERT, DELETE ON dnf_shown_page TO {role};
-- pause_capture hands a bulk import's feeds back to the backfill, in the import's
-- transaction.
GRANT SELECT, INSERT, UPDATE ON dnf_backfill TO {role};
