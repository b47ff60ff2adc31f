-- Dropped only when no other installed feed embeds into the same column.
DO $dnf$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM dnf_feed
        WHERE feed_id <> {feed_literal}
          AND spec->>'content_table' = {table_literal}
          AND spec->>'embedding_column' = {column_literal}
    ) THEN
        DROP INDEX IF EXISTS {index};
    END IF;
END
$dnf$;
