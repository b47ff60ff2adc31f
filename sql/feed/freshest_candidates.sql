-- The freshest items that pass the caller's filters: Django's own SQL for them in
-- freshness order (served by the index on the freshness field), and a size that
-- may depend on whether the user has a profile.
{items}
LIMIT {size}
