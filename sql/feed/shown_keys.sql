-- The keys a get_page chain showed before the given page.
SELECT shown.key
FROM dnf_shown_page p, unnest(p.keys) AS shown (key)
WHERE p.chain = %s AND p.page < %s
