-- In an evaluation's scratch database, the feed's content and interaction rows are
-- copied without the rows they refer to (users, authors...): their foreign keys go.
-- {tables} is a list of quoted literals naming validated table identifiers.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT conrelid::regclass AS tab, conname
        FROM pg_constraint
        WHERE contype = 'f' AND conrelid = ANY (ARRAY[{tables}]::regclass[])
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
    END LOOP;
END
$$
