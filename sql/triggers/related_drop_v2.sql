-- Remove the capture of a table that a feed's text read through lookups (related v1 and v2).
DROP TRIGGER IF EXISTS {on_insert} ON {table};
DROP TRIGGER IF EXISTS {on_update} ON {table};
DROP TRIGGER IF EXISTS {on_delete} ON {table};
DROP TRIGGER IF EXISTS {on_truncate} ON {table};
DROP FUNCTION IF EXISTS {function}();
