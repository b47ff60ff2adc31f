-- Applied by dnf_django migration 0003. Never edit: add a new numbered file instead.

-- Trigger templates v2 write one row per statement with the keys in arrays: a bulk
-- write of 10k rows then costs one outbox row (and one index entry), not 10k.
-- For interactions, item_keys[i] and user_keys[i] form one (item, user) pair.
ALTER TABLE dnf_outbox ADD COLUMN item_keys text[], ADD COLUMN user_keys text[];
