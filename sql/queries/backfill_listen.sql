-- Workers wake on this channel when a bulk import hands a feed back to the backfill
-- (backfill_rewalk); its payload is the feed id.
LISTEN dnf_backfill
