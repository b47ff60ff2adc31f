-- The database's broker namespace, which its queue names carry, so that workers of two
-- databases sharing one Redis never take each other's messages. Made of the cluster's
-- system identifier and the database's name, not of an address: a Unix socket, TCP
-- and a pooler reach one database by different addresses, and the relay and the
-- actors must agree. A streaming replica shares its primary's identifier and data.
SELECT substr(md5((pg_control_system()).system_identifier::text || '/' || current_database()), 1, 8)
