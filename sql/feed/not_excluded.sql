-- The caller's excluded_ids as one array parameter, however many: a list of 100,000
-- keys would be 100,000 parameters to adapt, send and plan. NOT IN over a subquery
-- becomes a hashed subplan, built once and probed per row, and the planner never
-- walks the array's elements (over 100 ms at 100,000). Its selectivity it can only
-- guess (a half), which at large lists can still turn index searches into scans:
-- see docs/feed-query.md.
{key} NOT IN (SELECT unnest(%s::{key_type}[]))
