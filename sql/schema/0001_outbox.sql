-- Applied by dnf_django migration 0001. Never edit: add a new numbered file instead.

-- The outbox is the source of truth for change capture: triggers append rows in the
-- writer's transaction, the relay deletes them only after it enqueued their work.
CREATE TABLE dnf_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id text NOT NULL,
    kind text NOT NULL CHECK (
        kind IN ('item', 'interaction', 'truncate_items', 'truncate_interactions')
    ),
    item_key text,
    user_key text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per installed feed: what workers read instead of importing Django code.
CREATE TABLE dnf_feed (
    feed_id text PRIMARY KEY,
    spec jsonb NOT NULL,
    fingerprint text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);
