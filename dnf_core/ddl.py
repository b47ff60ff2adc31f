"""The DDL that installs a feed: triggers, HNSW index and registry row, as SQL text.

Django migrations embed this text verbatim (reviewable, visible in ``sqlmigrate``);
nothing here touches a database.
"""

from __future__ import annotations

from dnf_core.identifiers import quote_identifier, quote_literal
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql

TRIGGER_VERSION = "v1"


def _function(spec: FeedSpec, side: str) -> str:
    return quote_identifier(f"dnf_{spec.feed_id}_{side}_{TRIGGER_VERSION}")


def _triggers(spec: FeedSpec, side: str) -> dict[str, str]:
    prefix = f"dnf_{spec.feed_id}_{side}"
    return {
        f"on_{event}": quote_identifier(f"{prefix}_{event}")
        for event in ("insert", "update", "delete", "truncate")
    }


def _index(spec: FeedSpec) -> str:
    return quote_identifier(f"dnf_{spec.feed_id}_hnsw")


def install_sql(spec: FeedSpec) -> str:
    """SQL that installs ``spec``'s capture triggers, its HNSW index and its registry row."""
    feed = quote_literal(spec.feed_id)
    content = render_sql(
        f"triggers/content_{TRIGGER_VERSION}",
        function=_function(spec, "content"),
        **_triggers(spec, "content"),
        table=quote_identifier(spec.content_table),
        key=quote_identifier(spec.content_key),
        feed_literal=feed,
        new_text=spec.text_expression("n"),
        old_text=spec.text_expression("o"),
    )
    interaction = render_sql(
        f"triggers/interaction_{TRIGGER_VERSION}",
        function=_function(spec, "interaction"),
        **_triggers(spec, "interaction"),
        table=quote_identifier(spec.interaction_table),
        item=quote_identifier(spec.interaction_item_column),
        user=quote_identifier(spec.interaction_user_column),
        feed_literal=feed,
    )
    index = render_sql(
        "indexes/hnsw_v1",
        index=_index(spec),
        table=quote_identifier(spec.content_table),
        column=quote_identifier(spec.embedding_column),
    )
    register = render_sql(
        "registry/register_v1",
        feed_literal=feed,
        spec_literal=quote_literal(spec.to_json()),
        fingerprint_literal=quote_literal(spec.fingerprint),
    )
    return "\n".join((content, interaction, index, register))


def uninstall_sql(spec: FeedSpec) -> str:
    """SQL that removes everything :func:`install_sql` created."""
    parts = [
        render_sql(
            "triggers/drop_v1",
            **_triggers(spec, side),
            table=quote_identifier(table),
            function=_function(spec, side),
        )
        for side, table in (
            ("content", spec.content_table),
            ("interaction", spec.interaction_table),
        )
    ]
    parts.append(render_sql("indexes/hnsw_drop_v1", index=_index(spec)))
    parts.append(render_sql("registry/unregister_v1", feed_literal=quote_literal(spec.feed_id)))
    return "\n".join(parts)
