-- Pause capture for the feeds listed in %(paused)s (comma separated, '*' for all) until
-- this transaction ends: set_config's third argument makes the setting transaction-local,
-- and a rolled-back savepoint takes it back too. The v3+ trigger functions read it once
-- per statement.
SELECT set_config('dnf.capture_paused', %(paused)s, true)
