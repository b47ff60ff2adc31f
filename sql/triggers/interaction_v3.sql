-- Change capture for the interactions of feed {feed_literal} (v3): one outbox row per
-- statement, holding the (item, user) pairs added, removed or changed as two aligned
-- arrays; one NOTIFY per statement. Deletes cover unlikes, clear() and cascades from
-- users and items alike. The search_path is pinned to the migration's, so writers
-- with another search_path still find dnf_outbox.
-- v3: inserts are skipped while the transaction-local setting dnf.capture_paused
-- lists this feed or '*' (dnf_django.capture.paused), whose exit hands the feed to
-- the backfill: its interactions walk replays every pair that exists. Updates,
-- deletes and truncates are captured even then: they take pairs away, which a walk
-- over the pairs that remain cannot see.
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $dnf$
BEGIN
    -- Read once per statement; NULL (never set) or '' (set in an earlier transaction)
    -- overlaps nothing.
    IF TG_OP = 'INSERT'
       AND string_to_array(current_setting('dnf.capture_paused', true), ',')
           && ARRAY['*', {feed_literal}] THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys, user_keys)
        SELECT {feed_literal}, 'interaction', array_agg(n.{item}::text), array_agg(n.{user}::text)
        FROM dnf_new_rows n
        HAVING count(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys, user_keys)
        SELECT {feed_literal}, 'interaction', array_agg(r.item_key), array_agg(r.user_key)
        FROM (
            SELECT n.{item}::text AS item_key, n.{user}::text AS user_key FROM dnf_new_rows n
            UNION
            SELECT o.{item}::text, o.{user}::text FROM dnf_old_rows o
        ) r
        HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys, user_keys)
        SELECT {feed_literal}, 'interaction', array_agg(o.{item}::text), array_agg(o.{user}::text)
        FROM dnf_old_rows o
        HAVING count(*) > 0;
    ELSE
        INSERT INTO dnf_outbox (feed_id, kind) VALUES ({feed_literal}, 'truncate_interactions');
    END IF;
    IF FOUND THEN
        PERFORM pg_notify('dnf_outbox', {feed_literal});
    END IF;
    RETURN NULL;
END
$dnf$;

CREATE TRIGGER {on_insert} AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS dnf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {on_update} AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS dnf_old_rows NEW TABLE AS dnf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {on_delete} AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS dnf_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {on_truncate} AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
