-- get_page: store one page of a chain, stamped with the web process's clock (the one
-- cursors expire by, so a database clock that runs ahead purges no live chain).
-- Returns no row when the page is stored already (a replayed cursor, perhaps at the same moment): the stored page then wins.
-- On the way it purges up to 100 pages of expired chains (created before the
-- cutoff), more than each write adds, so the table holds about the live chains
-- without a job of its own; SKIP LOCKED keeps concurrent writers from queueing on
-- the same old rows.
WITH purged AS (
    DELETE FROM dnf_shown_page
    WHERE id IN (
        SELECT id FROM dnf_shown_page
        WHERE created_at < %(expired_before)s
        ORDER BY created_at
        LIMIT 100
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO dnf_shown_page (chain, page, keys, created_at)
VALUES (%(chain)s, %(page)s, %(keys)s::text[], %(now)s)
ON CONFLICT (chain, page) DO NOTHING
RETURNING page
