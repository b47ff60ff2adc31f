"""Text read from related rows: the lookups of ``text_fields``, as joins rendered in SQL.

A lookup such as ``category__name``, ``tags__name`` or ``author__profile__bio``
compiles to a :class:`TextLookup`: the hops from the content row to the rows that
hold the text (one or two; each a foreign key, a reverse foreign key or a
many-to-many through table) and the column read there. Its value is rendered in SQL
(``sql/text``), so workers need no Django: the distinct non-empty values, in a
stable order, at most a bounded number, joined by a separator. The same hops walked
back from a changed row give the items whose text the change touches, which is what
the triggers on related tables capture (``sql/triggers/related_v1``).
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from typing import Any

from dnf_core.errors import ConfigurationError, SqlTemplateError
from dnf_core.identifiers import quote_identifier, quote_literal, validate_identifier
from dnf_core.sqlfiles import load_sql

MAX_HOPS = 2
# "value": values sorted by themselves; "added": by the key of the row that links each
# value (the through row of a many-to-many, else the related row), oldest first.
ORDERS = ("value", "added")
# Bounds the text of one lookup; the encoder truncates long texts anyway.
MAX_VALUES_LIMIT = 1000
MAX_SEPARATOR_LENGTH = 20


@dataclass(frozen=True)
class TextHop:
    """One step from a row ``s`` to the rows ``r`` of ``table`` it relates to.

    Directly when ``r.column = s.source_column`` (a foreign key either way); through a
    many-to-many table ``t`` when ``t.through_source = s.source_column`` and
    ``r.column = t.through_target``. ``key`` (and ``through_key``) are the primary
    keys, which pair the old and new versions of a changed row.
    """

    table: str
    key: str
    column: str
    source_column: str
    many: bool
    through_table: str | None = None
    through_key: str | None = None
    through_source: str | None = None
    through_target: str | None = None

    def __post_init__(self) -> None:
        for name in ("table", "key", "column", "source_column"):
            validate_identifier(getattr(self, name), f"text lookup hop {name}")
        through = (self.through_table, self.through_key, self.through_source, self.through_target)
        if any(v is not None for v in through):
            for name, value in zip(
                ("through_table", "through_key", "through_source", "through_target"),
                through,
                strict=True,
            ):
                validate_identifier(value, f"text lookup hop {name}")  # type: ignore[arg-type]

    @property
    def through(self) -> bool:
        return self.through_table is not None


@dataclass(frozen=True)
class TextLookup:
    """A lookup of ``text_fields`` (``name``, as declared): its hops and the column read."""

    name: str
    hops: tuple[TextHop, ...]
    column: str

    def __post_init__(self) -> None:
        validate_identifier(self.column, f"text lookup {self.name!r}: column")
        if not 1 <= len(self.hops) <= MAX_HOPS:
            raise ConfigurationError(
                f"text lookup {self.name!r} has {len(self.hops)} hops; 1 to {MAX_HOPS} are "
                "supported"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | TextLookup) -> TextLookup:
        """Rebuild a lookup from its ``asdict`` form (hops as dicts, in lists or tuples)."""
        if isinstance(data, TextLookup):
            return data
        hops = tuple(h if isinstance(h, TextHop) else TextHop(**h) for h in data["hops"])
        return cls(name=data["name"], hops=hops, column=data["column"])


@dataclass(frozen=True)
class _Join:
    """``JOIN relation alias ON alias.column = source.source_column``."""

    relation: str
    alias: str
    column: str
    source: str
    source_column: str

    def condition(self) -> str:
        return (
            f"{self.alias}.{quote_identifier(self.column)} = "
            f"{self.source}.{quote_identifier(self.source_column)}"
        )


def _chain(lookup: TextLookup, index: int, start: str) -> list[tuple[_Join, int, str]]:
    """The joins from alias ``start`` along ``lookup``, each with its hop and its part
    (``"through"`` or ``"table"``)."""
    chain: list[tuple[_Join, int, str]] = []
    source = start
    for h, hop in enumerate(lookup.hops):
        alias = f"dnf_l{index}_r{h}"
        if hop.through:
            assert hop.through_table and hop.through_source and hop.through_target
            link = f"dnf_l{index}_t{h}"
            chain.append(
                (
                    _Join(hop.through_table, link, hop.through_source, source, hop.source_column),
                    h,
                    "through",
                )
            )
            chain.append(
                (_Join(hop.table, alias, hop.column, link, hop.through_target), h, "table")
            )
        else:
            chain.append(
                (_Join(hop.table, alias, hop.column, source, hop.source_column), h, "table")
            )
        source = alias
    return chain


def _from(joins: list[_Join], relations: dict[int, str] | None = None) -> str:
    """``FROM`` items of ``joins``: the first as the starting relation, the others as
    ``JOIN ... ON``. ``relations`` replaces the relation of the join at an index."""
    relations = relations or {}
    parts = []
    for i, join in enumerate(joins):
        relation = relations.get(i, quote_identifier(join.relation))
        if i == 0:
            parts.append(f"{relation} {join.alias}")
        else:
            parts.append(f"JOIN {relation} {join.alias} ON {join.condition()}")
    return "\n".join(parts)


def _literal(value: str) -> str:
    """``value`` as a SQL text literal holding no ``%``: rendered expressions also run
    in queries with parameters, where a bare ``%`` would be read as a placeholder."""
    pieces = [quote_literal(piece) for piece in value.split("%")]
    return pieces[0] if len(pieces) == 1 else "(" + " || chr(37) || ".join(pieces) + ")"


def _render_fragment(name: str, **fragments: str) -> str:
    """Template ``name`` without its comment lines, filled: a fragment pasted inside
    larger statements, where a comment would swallow the rest of its line."""
    template = "\n".join(
        line for line in load_sql(name).splitlines() if not line.lstrip().startswith("--")
    )
    expected = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    if expected != set(fragments):
        raise SqlTemplateError(
            f"template {name!r} takes {', '.join(sorted(expected))}; "
            f"given {', '.join(sorted(fragments))}"
        )
    return template.format(**fragments)


def lookup_expression(
    lookup: TextLookup, index: int, alias: str, *, separator: str, max_values: int, order: str
) -> str:
    """SQL of ``lookup``'s text for the row at ``alias``: its distinct non-empty values,
    ordered, at most ``max_values``, joined by ``separator``; NULL when it has none."""
    chain = _chain(lookup, index, alias)
    joins = [join for join, _, _ in chain]
    last_hop = lookup.hops[-1]
    last = joins[-1]
    if order == "added":
        link = joins[-2] if last_hop.through else last
        link_key = last_hop.through_key if last_hop.through else last_hop.key
        position = f"{link.alias}.{quote_identifier(link_key)}"  # type: ignore[arg-type]
    else:
        position = "0"
    return _render_fragment(
        "text/related_values_v1",
        value=f"{last.alias}.{quote_identifier(lookup.column)}::text",
        position=position,
        source=_from(joins),
        correlation=joins[0].condition(),
        separator=_literal(separator),
        bound=str(max_values),
    )


def template_expression(template: str, parts: dict[str, str]) -> str:
    """SQL of ``template`` (``str.format`` syntax, fields named by ``text_fields``) with
    each field replaced by its expression in ``parts``; NULL fields read as empty."""
    pieces = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(_literal(literal))
        if name is not None:
            pieces.append(parts[name])
    return f"concat({', '.join(pieces)})" if pieces else "''"


def check_template(template: Any, fields: tuple[str, ...], label: str) -> None:
    """Raise :class:`ConfigurationError` unless ``template`` names every one of ``fields``
    and nothing else, with plain ``{field}`` placeholders."""
    if not isinstance(template, str) or "\x00" in template:
        raise ConfigurationError(f"{label}: text_template must be a string, got {template!r}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigurationError(f"{label}: text_template {template!r}: {exc}") from None
    used = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            raise ConfigurationError(
                f"{label}: text_template field {{{name}}} has a format or conversion; "
                "write plain {field} placeholders"
            )
        if name not in fields:
            raise ConfigurationError(
                f"{label}: text_template names {{{name}}}, which is not one of text_fields "
                f"({', '.join(fields)})"
            )
        used.append(name)
    left_out = [f for f in fields if f not in used]
    if left_out:
        raise ConfigurationError(
            f"{label}: text_template leaves out {', '.join(left_out)}; name every text field "
            "(or drop it from text_fields), so that what is captured is what is embedded"
        )


@dataclass
class RelatedTable:
    """A table a feed's text reads through lookups: its key, the columns read, and
    each place of a lookup where it is read (lookup index, hop, part)."""

    table: str
    key: str
    columns: set[str] = field(default_factory=set)
    places: list[tuple[int, int, str]] = field(default_factory=list)


def related_tables(lookups: tuple[TextLookup, ...], label: str) -> dict[str, RelatedTable]:
    """Every table ``lookups`` read, by name, in the order first read."""
    tables: dict[str, RelatedTable] = {}

    def read(table: str, key: str, columns: set[str], place: tuple[int, int, str]) -> None:
        entry = tables.setdefault(table, RelatedTable(table, key))
        if entry.key != key:
            raise ConfigurationError(
                f"{label}: text lookups read table {table!r} with two primary keys "
                f"({entry.key!r} and {key!r})"
            )
        entry.columns |= columns | {key}
        entry.places.append(place)

    for i, lookup in enumerate(lookups):
        for h, hop in enumerate(lookup.hops):
            if hop.through:
                assert hop.through_table and hop.through_key
                assert hop.through_source and hop.through_target
                read(
                    hop.through_table,
                    hop.through_key,
                    {hop.through_source, hop.through_target},
                    (i, h, "through"),
                )
            following = (
                lookup.hops[h + 1].source_column if h + 1 < len(lookup.hops) else lookup.column
            )
            read(hop.table, hop.key, {hop.column, following}, (i, h, "table"))
    return tables


def function_name(feed_id: str, table: str, version: int) -> str:
    """Name of the trigger function capturing ``table`` for ``feed_id`` (at most 63 bytes)."""
    digest = hashlib.sha256(table.encode()).hexdigest()[:8]
    return f"dnf_{feed_id}_rel_{digest}_v{version}"


def affected_items(
    lookups: tuple[TextLookup, ...],
    place: tuple[int, int, str],
    relation: str,
    content_table: str,
    content_key: str,
) -> str:
    """A SELECT of the keys (as text) of the items whose text reads a row of
    ``relation`` (a transition table) at ``place``."""
    index, hop, part = place
    lookup = lookups[index]
    chain = _chain(lookup, index, "c")
    cut = next(i for i, (_, h, p) in enumerate(chain) if (h, p) == (hop, part))
    joins = [join for join, _, _ in chain[: cut + 1]]
    first = joins[0]
    if first.source_column == content_key:
        # The first hop starts from the item's key: the keys are in the first join.
        item = f"{first.alias}.{quote_identifier(first.column)}"
        source = _from(joins, {cut: relation})
    else:
        start = _Join(content_table, "c", content_key, "c", content_key)
        item = f"c.{quote_identifier(content_key)}"
        source = _from([start, *joins], {cut + 1: relation})
    return _render_fragment("triggers/related_items_v1", item=item, source=source)
