-- Change capture for the content of feed {feed_literal} (v3): one outbox row per
-- statement, holding the keys of the items inserted, deleted or whose embedded text
-- changed; one NOTIFY per statement. Statement-level with transition tables, so a
-- bulk write costs one call and one outbox row. The search_path is pinned to the
-- migration's, so writers with another search_path still find dnf_outbox.
-- v3: inserts and updates are skipped while the transaction-local setting
-- dnf.capture_paused lists this feed or '*' (dnf_django.capture.paused), whose exit
-- hands the feed to the backfill: its items walk finds every inserted or re-texted
-- row by its stale hash. Deletes and truncates are captured even then, because a
-- walk over the rows that remain cannot see the ones that went away.
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $dnf$
BEGIN
    -- Read once per statement; NULL (never set) or '' (set in an earlier transaction)
    -- overlaps nothing.
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND string_to_array(current_setting('dnf.capture_paused', true), ',')
           && ARRAY['*', {feed_literal}] THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(n.{key}::text)
        FROM dnf_new_rows n
        HAVING count(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Postgres refuses column lists with transition tables, so compare the text
        -- here; the worker's own embedding writes leave it unchanged and add nothing.
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(coalesce(n.{key}, o.{key})::text)
        FROM dnf_new_rows n
        FULL JOIN dnf_old_rows o ON o.{key} = n.{key}
        WHERE n.{key} IS NULL OR o.{key} IS NULL OR {new_text} IS DISTINCT FROM {old_text}
        HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(o.{key}::text)
        FROM dnf_old_rows o
        HAVING count(*) > 0;
    ELSE
        INSERT INTO dnf_outbox (feed_id, kind) VALUES ({feed_literal}, 'truncate_items');
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
