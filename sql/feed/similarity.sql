-- Stage two's text signal: cosine similarity between the item's embedding and the
-- profile, 0 without a profile.
coalesce(1.0 - ({embedding} <=> {profile}), 0.0)
