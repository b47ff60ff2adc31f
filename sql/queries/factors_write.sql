INSERT INTO dnf_item_factor (feed_id, item_key, factor)
SELECT %(feed_id)s, v.key, v.factor
FROM unnest(%(keys)s::text[], %(factors)s::vector[]) AS v(key, factor)
