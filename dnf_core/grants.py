"""The least privileges each neural-feed process needs, as GRANT statements.

The migrations run as the owner of every table; the web app, the relay and the
workers each need a few privileges on neural-feed's tables and on each feed's
content and interaction tables, rendered here from ``sql/grants`` for the installed
feeds. ``manage.py dnf_grants`` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable

from dnf_core.errors import ConfigurationError
from dnf_core.identifiers import quote_identifier
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import placeholders, render_sql
from dnf_core.text_lookups import related_tables

PROCESSES = ("web", "relay", "worker")


def grant_sql(process: str, role: str, specs: Iterable[FeedSpec]) -> str:
    """GRANT statements giving ``role`` what ``process`` needs for the feeds ``specs``."""
    if process not in PROCESSES:
        raise ConfigurationError(f"unknown process {process!r}; known: {', '.join(PROCESSES)}")
    quoted = quote_identifier(role)
    parts = [render_sql(f"grants/{process}", role=quoted)]
    template = f"grants/{process}_feed"
    # Feeds may share a table (one content table, two models): grant it once.
    rendered: list[str] = []
    for spec in specs:
        fragments = {
            "role": quoted,
            "table": quote_identifier(spec.content_table),
            "interactions": quote_identifier(spec.interaction_table),
            "embedding": quote_identifier(spec.embedding_column),
            "embedding_hash": quote_identifier(spec.embedding_hash_column),
        }
        text = render_sql(template, **{k: fragments[k] for k in placeholders(template)})
        if text not in rendered:
            rendered.append(text)
        if process == "web":
            continue
        # The text the workers embed, and the backfill walks, read these tables too.
        for table in related_tables(spec.text_lookups, f"feed {spec.feed_id!r}"):
            text = render_sql("grants/related", role=quoted, table=quote_identifier(table))
            if text not in rendered:
                rendered.append(text)
    return "\n".join(parts + rendered)
