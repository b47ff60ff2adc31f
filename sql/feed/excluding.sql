-- The candidate pools, leaving out the caller's excluded_ids. The keys come as one
-- array parameter, however many: a list of 100,000 would be 100,000 parameters to
-- adapt, send and plan. Named once here for every pool (feed/not_excluded.sql), so the
-- array is sent and parsed once. It comes sorted (dnf_django.query._array_literal).
WITH dnf_excluded (keys) AS MATERIALIZED (SELECT %s::{key_type}[])
{pools}
