-- A table the feed's text reads through a lookup of text_fields: the workers render
-- the text, and the relay's backfill walk compares it with the stored hash.
GRANT SELECT ON {table} TO {role};
