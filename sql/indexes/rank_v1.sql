-- Stage one of the feed's query: a maximum-inner-product search over its rank
-- vectors. Partial, so each feed searches only its own rows of dnf_item_rank; the
-- cast gives the index the dimension the shared column does not have.
CREATE INDEX IF NOT EXISTS {index} ON dnf_item_rank
    USING hnsw ((rank::halfvec({dimension})) halfvec_ip_ops)
    WHERE feed_id = {feed_literal};

-- Rank vectors are written by the workers as they embed items: forgetting the items
-- walk makes the next worker start walk them again, so existing items get theirs.
DELETE FROM dnf_backfill WHERE feed_id = {feed_literal} AND phase = 'items';
