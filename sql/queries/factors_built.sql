UPDATE dnf_factor_state
SET built_at = now(), scheduled_for = NULL,
    users = %(users)s, items = %(items)s, interactions = %(interactions)s
WHERE feed_id = %(feed_id)s::text
