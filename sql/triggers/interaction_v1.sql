-- Change capture for the interactions of feed {feed_literal}: one outbox row per
-- (user, item) pair added, removed or changed; one NOTIFY per statement. Deletes
-- cover unlikes, clear() and cascades from users and items alike.
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $dnf$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_key, user_key)
        SELECT {feed_literal}, 'interaction', n.{item}::text, n.{user}::text
        FROM dnf_new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_key, user_key)
        SELECT {feed_literal}, 'interaction', r.item_key, r.user_key
        FROM (
            SELECT n.{item}::text AS item_key, n.{user}::text AS user_key FROM dnf_new_rows n
            UNION
            SELECT o.{item}::text, o.{user}::text FROM dnf_old_rows o
        ) r;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dnf_outbox (feed_id, kind, item_key, user_key)
        SELECT {feed_literal}, 'interaction', o.{item}::text, o.{user}::text
        FROM dnf_old_rows o;
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
