-- The workers' role: read the registry; rewrite profiles, counts, rank vectors (and
-- their reference points) and collaborative vectors; record and clear failures. Their embedding UPDATEs fire the content trigger, which writes no
-- outbox row when the text is unchanged but still needs the privilege to run.
GRANT SELECT ON dnf_feed TO {role};
GRANT INSERT ON dnf_outbox TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_user_profile TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_item_stat TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_item_rank TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_rank_state TO {role};
-- Collaborative vectors are refolded in place as likes come; the basis is rebuilt whole.
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_item_factor TO {role};
GRANT SELECT, INSERT, DELETE ON dnf_user_factor TO {role};
GRANT SELECT, INSERT, UPDATE ON dnf_factor_state TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_failure TO {role};
-- Record which model the feed serves (UPDATE: the FOR SHARE lock that orders
-- embedding writes against a swap), and keep a new model's vectors aside.
GRANT SELECT, INSERT, UPDATE ON dnf_embedding_model TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON dnf_embedding_next TO {role};
GRANT USAGE ON SEQUENCE dnf_embedding_next_id_seq TO {role};
