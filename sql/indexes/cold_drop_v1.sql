-- The index only: its rows are the rank vectors' own, which stay.
DROP INDEX IF EXISTS {index};
