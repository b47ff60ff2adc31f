"""System checks: invalid feeds, feeds that need a migration, databases that drifted.

Drift is reported as a warning, not an error, because errors would block ``migrate``
and ``dnf_makemigrations``, the very commands that fix it.
"""

from __future__ import annotations

from collections import defaultdict
from difflib import get_close_matches
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models import F
from django.db.models.expressions import OrderBy

from dnf_core.encoders.backends import backend_of, same_model
from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from dnf_django.conf import DEFAULTS, RULES, UPSTREAM_KEYS
from dnf_django.migration_writer import pending_migrations, unmigrated
from dnf_django.model_changes import model_change_steps
from dnf_django.query import excludes_interacted
from dnf_django.registry import installed_specs, registered_feeds

FIX_MIGRATIONS = "run: python manage.py dnf_makemigrations && python manage.py migrate"


def _compiled() -> tuple[list[tuple[Any, FeedSpec]], list[CheckMessage]]:
    try:
        feeds = registered_feeds()
    except ConfigurationError as exc:
        return [], [Error(str(exc), id="dnf_django.E001")]
    compiled: list[tuple[Any, FeedSpec]] = []
    messages: list[CheckMessage] = []
    for feed in feeds:
        upstream = _upstream_text(feed)
        if upstream:
            # Reported instead of E001's bare "text_fields must be a tuple", which would
            # not say what to write.
            messages += upstream
            continue
        try:
            compiled.append((feed, feed.get_spec()))
        except ConfigurationError as exc:
            messages.append(Error(str(exc), obj=feed, id="dnf_django.E001"))
    return compiled, messages


# Text-like fields that are identifiers or addresses rather than prose.
_NOT_PROSE = (models.SlugField, models.EmailField, models.URLField)


def _upstream_text(feed: Any) -> list[CheckMessage]:
    """A feed whose content model still builds its text with 1.x's ``get_ready_text()``
    and declares no ``text_fields``: say which fields to declare.

    neural-feed builds the text in SQL (so writes from any client are embedded), and
    never calls Python methods of the model.
    """
    model = feed.get_setting("content_django_model")
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        return []
    if not callable(getattr(model, "get_ready_text", None)) or feed.get_setting("text_fields"):
        return []
    suggested = tuple(
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField)
        and not isinstance(field, _NOT_PROSE)
        and field.name != "embedding_hash"
        and not field.primary_key
    )
    declaration = f"text_fields = {suggested!r}" if suggested else 'text_fields = ("...",)'
    label = model._meta.label
    return [
        Error(
            f"feed {feed.__name__}: {label} defines django-neural-feed 1.x's "
            "get_ready_text(), which neural-feed never calls, and the feed declares no "
            "text_fields: nothing says what to embed",
            hint=(
                f"add to {feed.__name__}: {declaration}, keeping the fields of {label} "
                "that get_ready_text() joins (their values are joined with spaces, in "
                "that order). Text from related rows cannot be named yet (lookups such "
                "as 'category__name' come in a later release): denormalize it into a "
                f"field of {label}, or keep such fields on the model."
            ),
            obj=feed,
            id="dnf_django.E005",
        )
    ]


@register()
def check_feeds(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every feed compiles, ids are unique, shared embeddings agree, migrations are written."""
    compiled, messages = _compiled()
    by_id: dict[str, list[Any]] = defaultdict(list)
    by_column: dict[tuple[str, str], list[tuple[Any, FeedSpec]]] = defaultdict(list)
    for feed, spec in compiled:
        by_id[spec.feed_id].append(feed)
        by_column[(spec.content_table, spec.embedding_column)].append((feed, spec))
    for feed_id, feeds in by_id.items():
        if len(feeds) > 1:
            names = ", ".join(f.__name__ for f in feeds)
            messages.append(Error(f"feeds {names} share feed_id {feed_id!r}", id="dnf_django.E002"))
    for (table, column), sharing in by_column.items():
        # The rendered text, so lookups joined or bounded differently disagree too.
        kinds = {(s.text_expression("c"), s.embedding_identity) for _, s in sharing}
        if len(kinds) > 1:
            names = ", ".join(f.__name__ for f, _ in sharing)
            messages.append(
                Error(
                    f"feeds {names} embed into {table}.{column} but disagree on text_fields "
                    "(or the text_* attributes that join them) or model; they would "
                    "overwrite each other's vectors",
                    hint="give them the same text_fields, text_* attributes and model",
                    id="dnf_django.E003",
                )
            )
    for feed, spec in compiled:
        messages += _freshness_index(feed, spec)
        messages += _query_attributes(feed)
    if not any(m.is_serious() for m in messages):
        declared = {spec.feed_id: feed for feed, spec in compiled}
        state: ProjectState | None = None
        for migration in pending_migrations(list(declared.values())):
            spec, previous = migration.spec, migration.previous
            if previous is not None and previous.embedding_identity != spec.embedding_identity:
                messages.append(
                    Warning(
                        f"feed {spec.feed_id!r} changes its embedding model from "
                        f"{previous.embedding_identity} to {spec.embedding_identity}: "
                        "every item must be embedded again",
                        hint=model_change_steps(
                            declared[spec.feed_id],
                            spec,
                            previous.embedding_identity,
                            migrated=False,
                        ),
                        id="dnf_django.W006",
                    )
                )
                continue
            # Quiet until the migrations on disk create the tables and columns the feed
            # reads: its migration can only be written after theirs, so on a project's
            # first makemigrations (or when a feed starts reading a new field) this
            # warning would ask for the impossible. (Django's migrate names models that
            # lack a migration.)
            state = state or MigrationLoader(None, ignore_no_migrations=True).project_state()
            if unmigrated(declared[spec.feed_id], state):
                continue
            change = (
                "has no migration yet"
                if previous is None
                else "changed since its last migration: its installed triggers and "
                "registry row do not match its declaration"
            )
            messages.append(
                Warning(
                    f"feed {spec.feed_id!r} {change}",
                    hint=FIX_MIGRATIONS,
                    id="dnf_django.W001",
                )
            )
    return messages


def _query_attributes(feed: Any) -> list[CheckMessage]:
    """Attributes read per request rather than compiled into the spec, validated here
    all the same, so a bad value fails ``check`` rather than the first request."""
    try:
        excludes_interacted(feed)
    except ConfigurationError as exc:
        return [Error(str(exc), obj=feed, id="dnf_django.E001")]
    return []


def _freshness_index(feed: Any, spec: FeedSpec) -> list[CheckMessage]:
    """The freshest-items candidate pool needs an index that yields that order."""
    name = feed.get_setting("freshness_field")
    if not name or feed.get_setting("freshness_expression") is not None:
        return []
    model = feed.get_setting("content_django_model")
    if _orders_freshest_first(model, name):
        return []
    field = model._meta.get_field(name)
    hint = f"set db_index=True on {model._meta.label}.{name} and run makemigrations"
    if field.null:
        # A plain index read backwards gives DESC NULLS FIRST; the feed needs NULLS LAST.
        hint = (
            f"make {model._meta.label}.{name} NOT NULL with db_index=True, or add "
            f"models.Index(F({name!r}).desc(nulls_last=True), name=...) to its Meta.indexes"
        )
    return [
        Warning(
            f"feed {spec.feed_id!r}: no index gives the freshest items of "
            f"{model._meta.label} by {name!r}: every feed request would sort the whole table",
            hint=hint,
            obj=feed,
            id="dnf_django.W004",
        )
    ]


def _orders_freshest_first(model: Any, name: str) -> bool:
    field = model._meta.get_field(name)
    if not field.null and (field.db_index or field.unique or field.primary_key):
        return True
    for index in model._meta.indexes:
        if index.fields:
            if index.fields[0].lstrip("-") == name and not field.null:
                return True
        elif index.expressions:
            first = index.expressions[0]
            if (
                isinstance(first, OrderBy)
                and isinstance(first.expression, F)
                and getattr(first.expression, "name", None) == name
                and (not field.null or (first.descending and first.nulls_last))
            ):
                return True
    return False


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every key of ``DJANGO_NEURAL_FEED`` is known and holds a valid value."""
    user_settings = getattr(settings, "DJANGO_NEURAL_FEED", {}) or {}
    if not isinstance(user_settings, dict):
        return [Error("settings.DJANGO_NEURAL_FEED must be a dict", id="dnf_django.E004")]
    messages: list[CheckMessage] = []
    for key, value in user_settings.items():
        if key in UPSTREAM_KEYS:
            messages.append(
                Warning(
                    f"DJANGO_NEURAL_FEED[{key!r}] is a django-neural-feed 1.x setting, ignored",
                    hint=UPSTREAM_KEYS[key],
                    id="dnf_django.W005",
                )
            )
        elif key not in DEFAULTS:
            close = get_close_matches(key, DEFAULTS, n=1)
            messages.append(
                Error(
                    f"DJANGO_NEURAL_FEED has an unknown key {key!r}",
                    hint=f"did you mean {close[0]!r}?" if close else f"known: {sorted(DEFAULTS)}",
                    id="dnf_django.E004",
                )
            )
        elif key in RULES and not RULES[key][0](value):
            messages.append(
                Error(
                    f"DJANGO_NEURAL_FEED[{key!r}] must be {RULES[key][1]}, got {value!r}",
                    id="dnf_django.E004",
                )
            )
    return messages


@register(Tags.database)
def check_installed(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """The database holds each feed's registry row, triggers and index as declared."""
    compiled, messages = _compiled()
    if messages or not databases:
        return []
    for alias in databases:
        try:
            # A savepoint when called inside a transaction: a failed read must not
            # leave the caller's transaction aborted.
            with transaction.atomic(using=alias):
                messages += _installed(alias, compiled)
        except DatabaseError as exc:
            messages.append(
                Warning(
                    f"database {alias!r}: cannot read neural-feed's tables ({exc})",
                    # Its migrations are applied (else this check stays quiet), so the
                    # role lacks privileges or a table was dropped by hand.
                    hint="neural-feed's migrations are applied: grant this role what "
                    "`python manage.py dnf_grants web ROLE` prints, run as the tables' owner "
                    "(or restore a table that was dropped by hand)",
                    id="dnf_django.W002",
                )
            )
    return messages


def _installed(alias: str, compiled: list[tuple[Any, FeedSpec]]) -> list[CheckMessage]:
    """Drift on ``alias``, but not where migrations are about to install something."""
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    unapplied = set(loader.graph.nodes) - set(loader.applied_migrations)
    # Drift is a database that differs from what its applied migrations installed.
    # Tables and feeds whose migrations are not applied yet are no drift: migrate, which
    # runs this check before it applies anything, is about to install them, and Django
    # itself reports unapplied migrations (runserver, migrate --check). A model change
    # (W007) is still named: its steps go beyond migrate.
    if any(label == "dnf_django" for label, _ in unapplied):
        return []
    pending = {
        record["feed_id"]
        for key, migration in loader.disk_migrations.items()
        if key in unapplied and (record := getattr(migration, "dnf_feed", None))
    }
    return _drift(alias, compiled, pending)


def _other_backend(alias: str, spec: FeedSpec, made_by: str) -> CheckMessage:
    """A feed embedded with another backend of its model: it stays on that backend."""
    recorded, declared = backend_of(made_by), spec.encoder_backend
    return Warning(
        f"database {alias!r}: feed {spec.feed_id!r} was embedded with the {recorded} backend "
        f"and ENCODER_BACKEND is {declared!r}: the workers keep embedding it with {recorded} "
        "(same model; nothing is re-embedded unless you ask)",
        hint=(
            f"to move it to {declared}: python manage.py dnf_reembed --feed {spec.feed_id} "
            f"(every item re-embedded in place, the feed serving meanwhile); to stay on "
            f"{recorded}, set ENCODER_BACKEND = {recorded!r}, then {FIX_MIGRATIONS[5:]}"
            + ("; torch needs neural-feed[worker-torch]" if recorded == "torch" else "")
        ),
        id="dnf_django.W010",
    )


def _drift(
    alias: str, compiled: list[tuple[Any, FeedSpec]], pending: set[str]
) -> list[CheckMessage]:
    """Feeds installed otherwise than declared; ``pending``: feeds with unapplied migrations."""
    installed = installed_specs(alias)
    with connections[alias].cursor() as cur:
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dnf\\_%%'")
        triggers = {row[0] for row in cur.fetchall()}
    with connections[alias].cursor() as cur:
        cur.execute(load_sql("queries/embedding_model_all"))
        serving = dict(cur.fetchall())
    messages: list[CheckMessage] = []
    for feed, spec in compiled:
        current = installed.get(spec.feed_id)
        made_by = serving.get(spec.feed_id)
        if made_by is not None and same_model(made_by, spec.embedding_identity):
            # Another backend of the same model: no re-embedding is due (W010, not W007).
            if made_by != spec.embedding_identity:
                messages.append(_other_backend(alias, spec, made_by))
            made_by = None
        if made_by is not None and made_by != spec.embedding_identity:
            migrated = current is not None and current.embedding_identity == spec.embedding_identity
            messages.append(
                Warning(
                    f"database {alias!r}: feed {spec.feed_id!r} serves vectors made by "
                    f"{made_by}, but declares {spec.embedding_identity}",
                    hint=model_change_steps(feed, spec, made_by, migrated=migrated),
                    id="dnf_django.W007",
                )
            )
        expected = {
            f"dnf_{spec.feed_id}_{side}_{event}"
            for side in ("content", "interaction")
            for event in ("insert", "update", "delete", "truncate")
        }
        if spec.feed_id in pending:
            continue
        if current is None or current.fingerprint != spec.fingerprint or not expected <= triggers:
            messages.append(
                Warning(
                    f"database {alias!r}: feed {spec.feed_id!r} is not installed as declared "
                    f"(registry row {'missing' if current is None else 'differs'}, "
                    f"{len(expected - triggers)} of 8 triggers missing)",
                    hint=FIX_MIGRATIONS,
                    id="dnf_django.W003",
                )
            )
    return messages
