-- The workers' role: read the registry, rewrite profiles, counts and rank vectors
-- (and move their reference points), record and
-- clear failures. Their embedding UPDATEs fire the content trigger, which writes no
-- outbox row when the text is unchanged but still needs the privilege to run.
GRANT SELECT ON dnf_feed TO {role};
GRANT INSERT ON dnf_outbox TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_user_profile TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_item_stat TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_item_rank TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_rank_state TO {role};
GRANT SELECT, INSERT, DELETE ON dnf_item_factor TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_factor_state TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_failure TO {role};
