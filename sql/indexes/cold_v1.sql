-- The feed's pool for users without a profile, whose score is w_f·freshness +
-- w_p·popularity: in rank coordinates a linear function of two columns, fresh and
-- pop. Ordered by distance to a point far away in the weights' direction, this GiST
-- index returns the items of the largest such score first, exactly and for as long
-- as the caller's filters reject rows (see sql/feed/cold_candidates.sql). It holds
-- two floats per item: small, and cheap to keep.
CREATE INDEX IF NOT EXISTS {index} ON dnf_item_rank
    USING gist (point(fresh, pop))
    WHERE feed_id = {feed_literal};
