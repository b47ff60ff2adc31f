-- Change capture for table {table}, which the text of feed {feed_literal} reads through
-- lookups of text_fields (related v2): one outbox row per statement, holding the keys
-- of every item whose text the statement may change; one NOTIFY per statement.
-- Statement-level with transition tables, so renaming a tag carried by 10,000 items
-- costs one call and one outbox row of 10,000 keys, which the relay and the workers
-- take in batches. Updates count only rows whose columns read by the text changed
-- (old and new versions paired on the table's key), so edits of other columns and
-- the workers' own writes add nothing. Inserts and deletes follow the rows they add or
-- remove back to the items (a tag added to or taken from an item, a cascade).
-- A TRUNCATE leaves no rows to follow: the feed's items are handed to the backfill,
-- whose walk queues every item whose text no longer matches its embedding.
-- v2: only when items remain: a TRUNCATE of the content table in the same statement
-- (Django's flush empties every table at once) leaves nothing to walk. While the
-- transaction-local setting dnf.capture_paused lists this feed or '*'
-- (dnf_django.capture.paused) nothing is written: the pause's end hands the feed to
-- the same walk, and the items whose text changed stay in the table for it to find.
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $dnf$
BEGIN
    IF string_to_array(current_setting('dnf.capture_paused', true), ',')
       && ARRAY['*', {feed_literal}] THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(DISTINCT a.key)
        FROM ({inserted}) AS a (key)
        HAVING count(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH dnf_changed_new AS (
            SELECT n.*
            FROM dnf_new_rows n
            LEFT JOIN dnf_old_rows o ON o.{key} = n.{key}
            WHERE o.{key} IS NULL OR {new_read} IS DISTINCT FROM {old_read}
        ), dnf_changed_old AS (
            SELECT o.*
            FROM dnf_old_rows o
            LEFT JOIN dnf_new_rows n ON n.{key} = o.{key}
            WHERE n.{key} IS NULL OR {new_read} IS DISTINCT FROM {old_read}
        )
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(DISTINCT a.key)
        FROM ({updated}) AS a (key)
        HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_keys)
        SELECT {feed_literal}, 'item', array_agg(DISTINCT a.key)
        FROM ({deleted}) AS a (key)
        HAVING count(*) > 0;
    ELSIF EXISTS (SELECT FROM {content}) THEN
        INSERT INTO dnf_backfill (feed_id, phase, last_key, scanned, queued, started_at,
                                  updated_at, finished_at)
        VALUES ({feed_literal}, 'items', NULL, 0, 0, clock_timestamp(), now(), NULL)
        ON CONFLICT (feed_id, phase) DO UPDATE
        SET last_key = NULL,
            scanned = 0,
            queued = 0,
            started_at = greatest(clock_timestamp(),
                                  dnf_backfill.started_at + interval '1 microsecond'),
            updated_at = now(),
            finished_at = NULL,
            error = NULL,
            failed_at = NULL;
        PERFORM pg_notify('dnf_backfill', {feed_literal});
        RETURN NULL;
    ELSE
        RETURN NULL;
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
