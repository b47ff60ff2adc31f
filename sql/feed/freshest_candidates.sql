-- The freshest items that pass the caller's filters: Django's own SQL for them in
-- freshness order, served by the index on the freshness field.
{items}
LIMIT %s
