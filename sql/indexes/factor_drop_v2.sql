DROP INDEX IF EXISTS {index};
DELETE FROM dnf_item_factor WHERE feed_id = {feed_literal};
DELETE FROM dnf_factor_state WHERE feed_id = {feed_literal};
