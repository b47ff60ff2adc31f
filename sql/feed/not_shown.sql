-- get_page: true for an item the chain has not shown on an earlier page. A condition
-- on the caller's items, so every candidate pool skips shown items inside its own
-- search and the page still fills. The subquery is uncorrelated: Postgres runs it once
-- and probes a hash of its keys (stored as text, cast back to the content key's type).
{key} NOT IN (
    SELECT shown.key::{key_type}
    FROM dnf_shown_page p, unnest(p.keys) AS shown (key)
    WHERE p.chain = %s AND p.page < %s
)
