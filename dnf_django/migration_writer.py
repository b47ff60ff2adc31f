"""Writes the Django migrations that install feeds: plain RunSQL with the rendered SQL.

Each migration records the spec it installs (``dnf_feed`` on the Migration class), so
the next run knows what is installed, writes nothing when the spec is unchanged, and
can write the exact reverse SQL when it did change.
"""

from __future__ import annotations

import pprint
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from dnf_core.ddl import (
    DdlVersions,
    change_sql,
    current_versions,
    install_sql,
    uninstall_sql,
)
from dnf_core.spec import FeedSpec
from dnf_django.compiler import text_models

_NUMBER = re.compile(r"^(\d+)_")


@dataclass(frozen=True)
class PendingMigration:
    """A migration file to write for one feed."""

    app_label: str
    name: str
    path: Path
    source: str
    spec: FeedSpec
    # What the feed's newest migration installs; None for a new feed.
    previous: FeedSpec | None = None


def installed_spec(
    loader: MigrationLoader, app_label: str, feed_id: str
) -> tuple[FeedSpec, DdlVersions] | None:
    """What the newest migration of ``app_label`` installs for ``feed_id``, if any."""
    found: list[tuple[str, FeedSpec, DdlVersions]] = []
    for (label, name), migration in loader.disk_migrations.items():
        record = getattr(migration, "dnf_feed", None)
        if label == app_label and record and record.get("feed_id") == feed_id:
            spec = FeedSpec.from_dict(record["spec"])
            found.append((name, spec, DdlVersions.from_dict(record.get("ddl"))))
    if not found:
        return None
    _, spec, versions = max(found, key=lambda entry: entry[0])
    return spec, versions


def pending_migrations(feeds: list[Any]) -> list[PendingMigration]:
    """One migration per feed whose spec differs from what its migrations install."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    pending: list[PendingMigration] = []
    numbers: dict[str, int] = {}
    for feed in feeds:
        spec = feed.get_spec()
        content = feed.get_setting("content_django_model")
        interactions = feed.get_setting("interaction_django_model")
        app_label = content._meta.app_label
        previous = installed_spec(loader, app_label, spec.feed_id)
        # Due when the declaration changed, or when older templates are installed.
        if previous is not None and (previous[0].fingerprint, previous[1]) == (
            spec.fingerprint,
            current_versions(spec),
        ):
            continue
        directory = Path(apps.get_app_config(app_label).path) / "migrations"
        if app_label not in numbers:
            existing = [
                int(m.group(1))
                for (label, name) in loader.disk_migrations
                if label == app_label and (m := _NUMBER.match(name))
            ]
            numbers[app_label] = max(existing, default=0)
        numbers[app_label] += 1
        name = f"{numbers[app_label]:04d}_dnf_{spec.feed_id}"
        # Feeds of one app written in one run chain onto each other.
        earlier = [p.name for p in pending if p.app_label == app_label]
        own = [(app_label, earlier[-1])] if earlier else loader.graph.leaf_nodes(app_label)
        # The feed's SQL reads the related tables of its lookups too.
        related = [model._meta.app_label for model in text_models(feed)]
        others = {
            node
            for label in (interactions._meta.app_label, "dnf_django", *related)
            if label != app_label
            for node in loader.graph.leaf_nodes(label)
        }
        dependencies = sorted({*own, *others})
        if previous is None:
            forward, backward = install_sql(spec), uninstall_sql(spec)
        else:
            old, old_versions = previous
            forward = change_sql(old, old_versions, spec)
            backward = change_sql(spec, current_versions(spec), old, old_versions)
        source = render_migration(spec, dependencies, forward, backward)
        pending.append(
            PendingMigration(
                app_label,
                name,
                directory / f"{name}.py",
                source,
                spec,
                previous[0] if previous is not None else None,
            )
        )
    return pending


def _python_string(text: str) -> str:
    # Triple-quoted keeps the SQL reviewable; repr() covers anything that would break it.
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return '"""\n' + text.rstrip("\n") + '\n"""'


def render_migration(
    spec: FeedSpec, dependencies: list[tuple[str, str]], forward: str, backward: str
) -> str:
    """Python source of a migration that runs ``forward`` (and ``backward`` to reverse)."""
    deps = "".join(f"        ({label!r}, {name!r}),\n" for label, name in dependencies)
    record = {
        "feed_id": spec.feed_id,
        "fingerprint": spec.fingerprint,
        "ddl": current_versions(spec).to_dict(),
        "spec": spec.to_dict(),
    }
    return (
        f"# Generated by neural-feed's dnf_makemigrations for feed {spec.feed_id!r}.\n"
        "# It installs the change-capture triggers, the HNSW index and the registry row.\n"
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [\n{deps}    ]\n\n"
        f"    dnf_feed = {pprint.pformat(record, indent=4, width=96, sort_dicts=False)}\n\n"
        "    operations = [\n"
        "        migrations.RunSQL(\n"
        f"            sql={_python_string(forward)},\n"
        f"            reverse_sql={_python_string(backward)},\n"
        "        ),\n"
        "    ]\n"
    )


def unmigrated(feed: Any, state: ProjectState) -> list[str]:
    """What the feed reads that no migration on disk creates yet (``state``), as labels.

    A feed's migration runs SQL against its content and interaction tables and depends
    on the newest migration of the content app, so it can only be written once the
    migrations that create those tables and columns exist: written earlier, it would
    come first and fail. Labels look like ``blog.Article`` or ``blog.Article.embedding``.
    """
    spec = feed.get_spec()
    content = feed.get_setting("content_django_model")
    interactions = feed.get_setting("interaction_django_model")
    content_columns = {
        spec.embedding_column,
        spec.embedding_hash_column,
        spec.freshness_column,
        *spec.text_columns,
        # Where lookups start from (a foreign key's column).
        *(lookup.hops[0].source_column for lookup in spec.text_lookups),
    }
    missing = _missing(state, content, content_columns)
    # Tables read through lookups.
    for model in text_models(feed):
        missing += (
            _through_missing(state, model)
            if model._meta.auto_created
            else _missing(state, model, set())
        )
    owner = interactions._meta.auto_created
    if owner:
        missing += _through_missing(state, interactions)
    else:
        interaction_columns = {
            spec.interaction_user_column,
            spec.interaction_item_column,
            spec.interaction_order_column,
            spec.interaction_value_column,
        }
        missing += _missing(state, interactions, interaction_columns)
    # An m2m's owner is usually the content model: name it once.
    return list(dict.fromkeys(missing))


def _through_missing(state: ProjectState, through: Any) -> list[str]:
    """A ManyToManyField's own table comes with the field that declares it."""
    owner = through._meta.auto_created
    declaring = [f.name for f in owner._meta.many_to_many if f.remote_field.through is through]
    return _missing(state, owner, set(), declaring)


def _missing(
    state: ProjectState, model: Any, columns: set[str | None], names: list[str] | None = None
) -> list[str]:
    """``model`` or those of its fields (by column, or by name) absent from ``state``."""
    label = model._meta.label
    model_state = state.models.get((model._meta.app_label, model._meta.model_name))
    if model_state is None:
        return [label]
    wanted = [f.name for f in model._meta.concrete_fields if f.column in columns]
    return [
        f"{label}.{name}" for name in [*wanted, *(names or [])] if name not in model_state.fields
    ]
