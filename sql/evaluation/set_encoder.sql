-- Evaluate a feed with another encoder: the scratch database's registry row only.
UPDATE dnf_feed
SET spec = spec || jsonb_build_object('encoder', %s::text, 'model_name', %s::text)
WHERE feed_id = %s
