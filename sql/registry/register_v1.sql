INSERT INTO dnf_feed (feed_id, spec, fingerprint)
VALUES ({feed_literal}, {spec_literal}::jsonb, {fingerprint_literal})
ON CONFLICT (feed_id) DO UPDATE
SET spec = EXCLUDED.spec, fingerprint = EXCLUDED.fingerprint, installed_at = now();
