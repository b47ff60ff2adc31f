-- Change capture for the content of feed {feed_literal}: one outbox row per item
-- inserted, deleted or whose embedded text changed; one NOTIFY per statement.
-- Statement-level with transition tables, so a bulk write costs one call.
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $dnf$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_key)
        SELECT {feed_literal}, 'item', n.{key}::text FROM dnf_new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Postgres refuses column lists with transition tables, so compare the text
        -- here; the worker's own embedding writes leave it unchanged and add nothing.
        INSERT INTO dnf_outbox (feed_id, kind, item_key)
        SELECT {feed_literal}, 'item', coalesce(n.{key}, o.{key})::text
        FROM dnf_new_rows n
        FULL JOIN dnf_old_rows o ON o.{key} = n.{key}
        WHERE n.{key} IS NULL OR o.{key} IS NULL OR {new_text} IS DISTINCT FROM {old_text};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_key)
        SELECT {feed_literal}, 'item', o.{key}::text FROM dnf_old_rows o;
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
