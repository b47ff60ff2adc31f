-- Evaluate a feed on another encoder backend: the scratch database's registry row only.
UPDATE dnf_feed
SET spec = spec || jsonb_build_object('encoder_backend', %s::text)
WHERE feed_id = %s
