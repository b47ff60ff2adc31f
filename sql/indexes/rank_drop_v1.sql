DROP INDEX IF EXISTS {index};
DELETE FROM dnf_item_rank WHERE feed_id = {feed_literal};
DELETE FROM dnf_rank_state WHERE feed_id = {feed_literal};
