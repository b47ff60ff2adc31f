-- The keys of the items whose text reads the rows of a transition table: {source}
-- joins back from those rows to the items (dnf_core.text_lookups.affected_items).
SELECT {item}::text
FROM {source}
