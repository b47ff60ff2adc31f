"""Named queries rendered for one feed: the SQL workers run, from ``sql/queries``."""

from __future__ import annotations

import functools

from dnf_core.identifiers import quote_identifier
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import placeholders, render_sql


def _fragments(spec: FeedSpec) -> dict[str, str]:
    """Every fragment a feed query template may use, validated and quoted."""
    return {
        "table": quote_identifier(spec.content_table),
        "content": quote_identifier(spec.content_table),
        "key": quote_identifier(spec.content_key),
        "content_key": quote_identifier(spec.content_key),
        "key_type": spec.content_key_type,
        "embedding": quote_identifier(spec.embedding_column),
        "embedding_hash": quote_identifier(spec.embedding_hash_column),
        "text": spec.text_expression("c"),
        "interactions": quote_identifier(spec.interaction_table),
        "user": quote_identifier(spec.interaction_user_column),
        "item": quote_identifier(spec.interaction_item_column),
        "order": quote_identifier(spec.interaction_order_column),
        "interaction_key": quote_identifier(spec.interaction_key_column),
        "value": quote_identifier(spec.interaction_value_column or "value"),
        "user_key_type": spec.user_key_type,
        "freshness": (
            f"c.{quote_identifier(spec.freshness_column)}" if spec.freshness_column else "NULL"
        ),
    }


@functools.lru_cache(maxsize=256)
def feed_query(name: str, spec: FeedSpec) -> str:
    """``sql/queries/<name>.sql`` rendered for ``spec``."""
    template = f"queries/{name}"
    fragments = _fragments(spec)
    return render_sql(template, **{k: fragments[k] for k in placeholders(template)})
