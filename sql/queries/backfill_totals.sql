-- How many rows each backfill phase walks, for its progress bar.
SELECT (SELECT count(*) FROM {table}) AS items, (SELECT count(*) FROM {interactions}) AS interactions
