ALTER TABLE dnf_outbox DROP COLUMN item_keys, DROP COLUMN user_keys;
