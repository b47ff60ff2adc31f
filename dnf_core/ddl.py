"""The DDL that installs a feed: triggers, HNSW index and registry row, as SQL text.

Django migrations embed this text verbatim (reviewable, visible in ``sqlmigrate``);
nothing here touches a database. Templates are versioned and never edited: a
migration records the versions it installed, so a later migration can undo exactly
what was installed, even after the current versions moved on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from dnf_core.identifiers import quote_identifier, quote_literal
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import placeholders, render_sql
from dnf_core.text_lookups import affected_items, function_name, related_tables


@dataclass(frozen=True)
class DdlVersions:
    """Template versions of an installed feed's parts.

    The defaults describe what migrations written before versions were recorded
    installed; :data:`CURRENT` is what new migrations install.
    """

    triggers: int = 1
    index: int = 1
    # 0: installed before feeds had rank vectors.
    rank: int = 0
    # The collaborative vectors' index, which came with rank vectors as version 1.
    factor: int = 1
    # 0: installed before users without a profile had an index of their own.
    cold: int = 0
    # Triggers on the tables a feed's text reads through lookups; 0: none installed
    # (a feed whose text reads only its own row has none).
    related: int = 0

    def to_dict(self) -> dict[str, int]:
        data = {
            "triggers": self.triggers,
            "index": self.index,
            "rank": self.rank,
            "factor": self.factor,
            "cold": self.cold,
        }
        # Left out at 0, so a feed without lookups records what it recorded before.
        if self.related:
            data["related"] = self.related
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DdlVersions:
        return cls(**(data or {}))


CURRENT = DdlVersions(triggers=3, index=3, rank=1, factor=2, cold=1, related=2)


def current_versions(spec: FeedSpec) -> DdlVersions:
    """What a new migration installs for ``spec``: :data:`CURRENT`, without triggers on
    related tables when its text reads none (so such a feed is not migrated again)."""
    if spec.text_lookups:
        return CURRENT
    return replace(CURRENT, related=0)


# Rank vectors: the embedding, then freshness, popularity and a slack coordinate.
RANK_EXTRA_DIMENSIONS = 3


def rank_dimension(spec: FeedSpec) -> int:
    """Length of ``spec``'s rank vectors (see ``dnf_django.models.ItemRank``)."""
    return spec.dimension + RANK_EXTRA_DIMENSIONS


def _function(spec: FeedSpec, side: str, versions: DdlVersions) -> str:
    return quote_identifier(f"dnf_{spec.feed_id}_{side}_v{versions.triggers}")


def _triggers(spec: FeedSpec, side: str) -> dict[str, str]:
    prefix = f"dnf_{spec.feed_id}_{side}"
    return {
        f"on_{event}": quote_identifier(f"{prefix}_{event}")
        for event in ("insert", "update", "delete", "truncate")
    }


def index_name(spec: FeedSpec, versions: DdlVersions = CURRENT) -> str | None:
    """Name of the HNSW index on ``spec``'s embedding column (v1: one per feed; v2: one
    per column; v3: none, because the feed query searches rank vectors instead)."""
    if versions.index >= 3:
        return None
    if versions.index == 1:
        return f"dnf_{spec.feed_id}_hnsw"
    name = f"dnf_hnsw_{spec.content_table}_{spec.embedding_column}"
    if len(name) > 63:
        digest = hashlib.sha256(f"{spec.content_table}.{spec.embedding_column}".encode())
        name = f"dnf_hnsw_{digest.hexdigest()[:16]}"
    return name


def _create_triggers(spec: FeedSpec, versions: DdlVersions) -> list[str]:
    return [create for create, _ in _trigger_parts(spec, versions).values()]


def _drop_triggers(spec: FeedSpec, versions: DdlVersions) -> list[str]:
    return [drop for _, drop in _trigger_parts(spec, versions).values()]


def _trigger_parts(spec: FeedSpec, versions: DdlVersions) -> dict[str, tuple[str, str]]:
    """Each trigger function with its triggers, as ``(create, drop)`` SQL, by what it
    captures: ``content``, ``interaction`` and ``related:<table>`` per table the text
    reads through lookups."""
    feed = quote_literal(spec.feed_id)
    content = render_sql(
        f"triggers/content_v{versions.triggers}",
        function=_function(spec, "content", versions),
        **_triggers(spec, "content"),
        table=quote_identifier(spec.content_table),
        key=quote_identifier(spec.content_key),
        feed_literal=feed,
        new_text=spec.capture_expression("n"),
        old_text=spec.capture_expression("o"),
    )
    interaction = render_sql(
        f"triggers/interaction_v{versions.triggers}",
        function=_function(spec, "interaction", versions),
        **_triggers(spec, "interaction"),
        table=quote_identifier(spec.interaction_table),
        item=quote_identifier(spec.interaction_item_column),
        user=quote_identifier(spec.interaction_user_column),
        feed_literal=feed,
    )
    parts = {
        side: (
            create,
            render_sql(
                f"triggers/drop_v{versions.triggers}",
                **_triggers(spec, side),
                table=quote_identifier(table),
                function=_function(spec, side, versions),
            ),
        )
        for side, table, create in (
            ("content", spec.content_table, content),
            ("interaction", spec.interaction_table, interaction),
        )
    }
    for table, create in _create_related(spec, versions).items():
        drop = render_sql(
            f"triggers/related_drop_v{versions.related}",
            **_triggers(spec, "related"),
            table=quote_identifier(table),
            function=quote_identifier(function_name(spec.feed_id, table, versions.related)),
        )
        parts[f"related:{table}"] = (create, drop)
    return parts


def _related(spec: FeedSpec, versions: DdlVersions) -> dict[str, Any]:
    """The tables ``spec``'s text reads through lookups, if ``versions`` captures them."""
    if not versions.related or not spec.text_lookups:
        return {}
    return related_tables(spec.text_lookups, f"feed {spec.feed_id!r}")


def _create_related(spec: FeedSpec, versions: DdlVersions) -> dict[str, str]:
    """One trigger function per table the text reads through lookups (FK targets,
    many-to-many through tables, second hops), each with its four triggers, by table."""
    statements = {}
    for table, read in _related(spec, versions).items():
        key = quote_identifier(read.key)
        columns = sorted(read.columns)

        def items(relation: str, places: list[tuple[int, int, str]] = read.places) -> str:
            return "\nUNION ALL\n".join(
                affected_items(
                    spec.text_lookups, place, relation, spec.content_table, spec.content_key
                )
                for place in places
            )

        template = f"triggers/related_v{versions.related}"
        # v2 also reads the content table (whether any item is left to walk again).
        content = {"content": quote_identifier(spec.content_table)}
        statements[table] = render_sql(
            template,
            **{k: v for k, v in content.items() if k in placeholders(template)},
            function=quote_identifier(function_name(spec.feed_id, table, versions.related)),
            **_triggers(spec, "related"),
            table=quote_identifier(table),
            key=key,
            feed_literal=quote_literal(spec.feed_id),
            new_read="ROW(" + ", ".join(f"n.{quote_identifier(c)}" for c in columns) + ")",
            old_read="ROW(" + ", ".join(f"o.{quote_identifier(c)}" for c in columns) + ")",
            inserted=items("dnf_new_rows"),
            deleted=items("dnf_old_rows"),
            updated=items("dnf_changed_new") + "\nUNION ALL\n" + items("dnf_changed_old"),
        )
    return statements


def _create_index(spec: FeedSpec, versions: DdlVersions) -> list[str]:
    name = index_name(spec, versions)
    if name is None:
        return []
    return [
        render_sql(
            f"indexes/hnsw_v{versions.index}",
            index=quote_identifier(name),
            table=quote_identifier(spec.content_table),
            column=quote_identifier(spec.embedding_column),
        )
    ]


def _drop_index(spec: FeedSpec, versions: DdlVersions, *, retire: bool = False) -> list[str]:
    name = index_name(spec, versions)
    if name is None:
        return []
    index = quote_identifier(name)
    if retire:
        return [render_sql("indexes/hnsw_retire_v1", index=index)]
    if versions.index == 1:
        return [render_sql("indexes/hnsw_drop_v1", index=index)]
    return [
        render_sql(
            f"indexes/hnsw_drop_v{versions.index}",
            index=index,
            feed_literal=quote_literal(spec.feed_id),
            table_literal=quote_literal(spec.content_table),
            column_literal=quote_literal(spec.embedding_column),
        )
    ]


def rank_index_name(spec: FeedSpec) -> str:
    """Name of the partial HNSW index over ``spec``'s rows of ``dnf_item_rank``."""
    return f"dnf_rank_{spec.feed_id}"


def factor_index_name(spec: FeedSpec) -> str:
    """Name of the partial HNSW index over ``spec``'s rows of ``dnf_item_factor``."""
    return f"dnf_factor_{spec.feed_id}"


def cold_index_name(spec: FeedSpec) -> str:
    """Name of the partial GiST index over ``spec``'s rank coordinates (fresh, pop)."""
    return f"dnf_cold_{spec.feed_id}"


def _feed_indexes(spec: FeedSpec, versions: DdlVersions) -> dict[str, tuple[int, str, int]]:
    """Template, then (template version, index name, dimension), of each per-feed index."""
    if versions.rank == 0:
        return {}
    indexes = {"rank": (versions.rank, rank_index_name(spec), rank_dimension(spec))}
    if spec.collaborative_dimension:
        indexes["factor"] = (versions.factor, factor_index_name(spec), spec.collaborative_dimension)
    if versions.cold:
        indexes["cold"] = (versions.cold, cold_index_name(spec), 2)
    return indexes


def _index_parts(spec: FeedSpec, versions: DdlVersions) -> dict[str, tuple[Any, ...]]:
    """What each per-feed index and its rows depend on: a change rebuilds them."""
    indexes = _feed_indexes(spec, versions)
    parts: dict[str, tuple[Any, ...]] = {}
    if "rank" in indexes:
        parts["rank"] = (
            *indexes["rank"],
            spec.freshness_column,
            spec.freshness_half_life_hours,
        )
    if "factor" in indexes:
        parts["factor"] = indexes["factor"]
    if "cold" in indexes:
        parts["cold"] = indexes["cold"]
    return parts


def _render_index(template: str, **fragments: str) -> str:
    """``template`` with the fragments it takes (an index without a dimension, or whose
    drop leaves its rows, takes fewer than the others)."""
    wanted = placeholders(template)
    return render_sql(template, **{k: v for k, v in fragments.items() if k in wanted})


def _create_rank(spec: FeedSpec, versions: DdlVersions, only: set[str] | None = None) -> list[str]:
    return [
        _render_index(
            f"indexes/{template}_v{version}",
            index=quote_identifier(name),
            dimension=str(dimension),
            feed_literal=quote_literal(spec.feed_id),
        )
        for template, (version, name, dimension) in _feed_indexes(spec, versions).items()
        if only is None or template in only
    ]


def _drop_rank(spec: FeedSpec, versions: DdlVersions, only: set[str] | None = None) -> list[str]:
    return [
        _render_index(
            f"indexes/{template}_drop_v{version}",
            index=quote_identifier(name),
            feed_literal=quote_literal(spec.feed_id),
        )
        for template, (version, name, _) in _feed_indexes(spec, versions).items()
        if only is None or template in only
    ]


def _reindexes_factor_only(old: tuple[Any, ...] | None, new: tuple[Any, ...] | None) -> bool:
    """Whether only the collaborative index's template changed (same name, same dimension)."""
    return old is not None and new is not None and old[0] != new[0] and old[1:] == new[1:]


def _register(spec: FeedSpec) -> str:
    return render_sql(
        "registry/register_v1",
        feed_literal=quote_literal(spec.feed_id),
        spec_literal=quote_literal(spec.to_json()),
        fingerprint_literal=quote_literal(spec.fingerprint),
    )


def install_sql(spec: FeedSpec, versions: DdlVersions | None = None) -> str:
    """SQL that installs ``spec``'s capture triggers, its indexes and its registry row
    (with ``versions`` of the templates, by default :func:`current_versions`)."""
    versions = versions or current_versions(spec)
    return "\n".join(
        [
            *_create_triggers(spec, versions),
            *_create_index(spec, versions),
            *_create_rank(spec, versions),
            _register(spec),
        ]
    )


def uninstall_sql(spec: FeedSpec, versions: DdlVersions | None = None) -> str:
    """SQL that removes everything :func:`install_sql` created with ``versions``."""
    versions = versions or current_versions(spec)
    unregister = render_sql("registry/unregister_v1", feed_literal=quote_literal(spec.feed_id))
    return "\n".join(
        [
            *_drop_triggers(spec, versions),
            *_drop_index(spec, versions),
            *_drop_rank(spec, versions),
            unregister,
        ]
    )


def change_sql(
    old: FeedSpec,
    old_versions: DdlVersions,
    new: FeedSpec,
    new_versions: DdlVersions | None = None,
) -> str:
    """SQL that turns an installed ``old`` into ``new``.

    A trigger function is replaced only when its SQL changes (a change to the window
    leaves every capture as it was); the index is left alone when it would be the same
    index, because rebuilding HNSW on a large table takes minutes. Rank vectors are
    rebuilt (by the workers, after the migration) when what they depend on changed,
    and so is every profile when what profiles are computed from did (the window, say).
    """
    new_versions = new_versions or current_versions(new)
    old_triggers = _trigger_parts(old, old_versions)
    new_triggers = _trigger_parts(new, new_versions)
    # Compared as they would be created: the same text is the same function and triggers.
    kept = {
        capture
        for capture, (create, _) in new_triggers.items()
        if capture in old_triggers and old_triggers[capture][0] == create
    }
    parts = [
        *(drop for capture, (_, drop) in old_triggers.items() if capture not in kept),
        *(create for capture, (create, _) in new_triggers.items() if capture not in kept),
    ]
    old_index = (old.content_table, old.embedding_column, index_name(old, old_versions))
    new_index = (new.content_table, new.embedding_column, index_name(new, new_versions))
    if old_index != new_index:
        retire = index_name(new, new_versions) is None
        parts += [
            *_drop_index(old, old_versions, retire=retire),
            *_create_index(new, new_versions),
        ]
    old_parts, new_parts = _index_parts(old, old_versions), _index_parts(new, new_versions)
    changed = {
        t for t in old_parts.keys() | new_parts.keys() if old_parts.get(t) != new_parts.get(t)
    }
    rebuilt = set(changed)
    if _reindexes_factor_only(old_parts.get("factor"), new_parts.get("factor")):
        # A better-built index over the same vectors: the new template replaces the
        # index in place and the vectors stay (dropping them would leave the feed
        # without them until the next like).
        rebuilt.discard("factor")
    parts += [*_drop_rank(old, old_versions, rebuilt), *_create_rank(new, new_versions, changed)]
    parts.append(_register(new))
    if _profile_definition(old) != _profile_definition(new):
        # After the registry row: the walk it starts must read the new spec.
        parts.append(
            render_sql("registry/rewalk_interactions_v1", feed_literal=quote_literal(new.feed_id))
        )
    return "\n".join(parts)


def _profile_definition(spec: FeedSpec) -> tuple[Any, ...]:
    """What a user's profile is computed from, besides the item vectors."""
    return (
        spec.window,
        spec.dislike_weight,
        spec.interaction_table,
        spec.interaction_user_column,
        spec.interaction_item_column,
        spec.interaction_order_column,
        spec.interaction_key_column,
        spec.interaction_value_column,
    )
