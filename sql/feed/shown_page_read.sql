-- A stored page of a get_page chain: its keys in the order shown (no row if absent).
SELECT keys FROM dnf_shown_page WHERE chain = %s AND page = %s
