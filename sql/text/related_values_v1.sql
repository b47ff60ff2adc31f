-- The text of one lookup of text_fields for one item (dnf_core.text_lookups): the
-- distinct non-empty values of {value}, reached from the item's row by {source} and
-- {correlation}, ordered by {position} (the linking row's key, or a constant to
-- order by value) then by value, at most {bound} of them, joined by {separator}.
-- NULL when there is none, so concat_ws leaves it out. Comment lines are dropped when
-- this is pasted into a larger statement.
(SELECT string_agg(v.value, {separator} ORDER BY v.position, v.value)
 FROM (SELECT d.value, d.position
       FROM (SELECT DISTINCT ON (1) {value} AS value, {position} AS position
             FROM {source}
             WHERE {correlation} AND {value} <> ''
             ORDER BY 1, 2) AS d
       ORDER BY d.position, d.value
       LIMIT {bound}) AS v)
