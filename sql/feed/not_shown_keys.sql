-- get_page with the content on another database than the chain's pages (a read
-- replica): the shown keys, read from the database that stores them, as one array,
-- so replication lag cannot make an item show twice.
NOT ({key} = ANY(%s::{key_type}[]))
