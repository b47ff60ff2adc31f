"""Compiles a Django feed class into a framework-free :class:`FeedSpec`."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models.constants import LOOKUP_SEP

from dnf_core.encoders import BaseVectorEncoder, encoder_path, load_encoder
from dnf_core.encoders.backends import DEFAULT_BACKEND, check_backend, has_backends
from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec, check_number
from dnf_core.text_lookups import MAX_HOPS, TextHop, TextLookup
from dnf_django.conf import feed_setting

# SQL types whose ::text is the value itself, the same in every session. Others are
# refused in text_fields: timestamps and dates print per the session's TimeZone and
# DateStyle (the trigger's and the worker's sessions could disagree, and the text
# hash would never match), floats per extra_float_digits, and booleans, JSON,
# arrays, bytes and UUIDs print as syntax rather than words.
_TEXT_TYPES = frozenset(
    {"varchar", "character varying", "text", "citext", "char", "character", "bpchar"}
)
_NUMBER_TYPES = frozenset({"integer", "bigint", "smallint", "numeric", "serial", "bigserial"})


def _key_type(field: models.Field[Any, Any]) -> str:
    """The SQL type a foreign key to ``field`` would have, without length modifiers."""
    db_type = (field.rel_db_type(connection) or "").split("(")[0].strip().lower()
    return {"character varying": "varchar", "serial": "integer", "bigserial": "bigint"}.get(
        db_type, db_type
    )


def _column(field: models.Field[Any, Any]) -> str:
    assert field.column is not None, f"{field} has no column"
    return field.column


def _field(
    model: type[models.Model], name: str, feed: str, attribute: str
) -> models.Field[Any, Any]:
    try:
        field = model._meta.get_field(name)
    except Exception:
        raise ConfigurationError(
            f"feed {feed}: {attribute} names {name!r}, which is not a field of {model._meta.label}"
        ) from None
    if not isinstance(field, models.Field) or not field.concrete:
        raise ConfigurationError(f"feed {feed}: {attribute} {name!r} is not a concrete column")
    return field


def _text_field(model: type[models.Model], name: Any, feed: str) -> models.Field[Any, Any]:
    """A field of ``text_fields`` on ``model``: one column whose value reads as text."""
    label = model._meta.label
    try:
        field = model._meta.get_field(name)
    except Exception:
        field = None
    if field is not None and field.is_relation:
        related = field.related_model._meta.label if field.related_model else "another model"
        what = (
            f"a many-valued relation: it links any number of {related} rows"
            if field.many_to_many or field.one_to_many
            else f"a relation: its column holds the key of a {related} row"
        )
        raise ConfigurationError(
            f"feed {feed}: text_fields {name!r} is a {type(field).__name__}, {what}, "
            f"not text. Name the related field to embed with a lookup, such as "
            f"'{name}{LOOKUP_SEP}name'"
        )
    field = _field(model, name, feed, "text_fields")
    if name in ("embedding", "embedding_hash"):
        # The mixin's own column: text that included its hash would change with
        # every embedding written, and be embedded again forever.
        raise ConfigurationError(
            f"feed {feed}: text_fields {name!r} is NeuralRecommendMixin's column, not text"
        )
    # Without modifiers, but keeping what follows them: varchar(20)[] is an array.
    sql_type = re.sub(r"\(.*?\)", "", field.db_type(connection) or "").strip().lower()
    if sql_type not in _TEXT_TYPES | _NUMBER_TYPES:
        raise ConfigurationError(
            f"feed {feed}: text_fields {name!r} is a {type(field).__name__} "
            f"({sql_type or 'no column type'}), whose text form is not text to embed; "
            "text_fields takes text fields (CharField, TextField, SlugField, EmailField, "
            "URLField and other fields stored as text) and integer or decimal fields. "
            f"Store what should be embedded in a text field of {label}"
        )
    return field


def _hop(
    model: type[models.Model], relation: Any, lookup: str, feed: str
) -> tuple[TextHop, type[models.Model], list[type[models.Model]]]:
    """The hop along ``relation`` (a field of ``model``), the model it reaches, and the
    models whose tables it reads."""
    target: Any = relation.related_model
    followed = isinstance(relation, models.ForeignKey | models.ManyToManyField) or (
        isinstance(relation, models.ManyToOneRel | models.ManyToManyRel)
        and isinstance(relation.field, models.ForeignKey | models.ManyToManyField)
    )
    if not followed or not (isinstance(target, type) and issubclass(target, models.Model)):
        raise ConfigurationError(
            f"feed {feed}: text_fields {lookup!r} goes through {relation.name!r}, a "
            f"{type(relation).__name__}; lookups follow foreign keys, one-to-one and "
            "many-to-many fields (either way), not generic relations"
        )
    assert target._meta.pk is not None
    if relation.many_to_many:
        # Forward (the ManyToManyField) or reverse (its ManyToManyRel): one through
        # table with a foreign key to each side.
        forward = relation if isinstance(relation, models.ManyToManyField) else relation.field
        through: Any = forward.remote_field.through
        own, other = forward.m2m_field_name(), forward.m2m_reverse_field_name()
        if not isinstance(relation, models.ManyToManyField):
            own, other = other, own
        source_fk: Any = through._meta.get_field(own)
        target_fk: Any = through._meta.get_field(other)
        assert through._meta.pk is not None
        hop = TextHop(
            table=target._meta.db_table,
            key=_column(target._meta.pk),
            column=_column(target_fk.target_field),
            source_column=_column(source_fk.target_field),
            many=True,
            through_table=through._meta.db_table,
            through_key=_column(through._meta.pk),
            through_source=_column(source_fk),
            through_target=_column(target_fk),
        )
        return hop, target, [target, through]
    if relation.concrete:  # a ForeignKey or OneToOneField of model
        hop = TextHop(
            table=target._meta.db_table,
            key=_column(target._meta.pk),
            column=_column(relation.target_field),
            source_column=_column(relation),
            many=False,
        )
    else:  # the reverse side of a ForeignKey or OneToOneField declared on target
        hop = TextHop(
            table=target._meta.db_table,
            key=_column(target._meta.pk),
            column=_column(relation.field),
            source_column=_column(relation.field.target_field),
            many=relation.one_to_many,
        )
    return hop, target, [target]


def text_lookup(
    content: type[models.Model], name: str, feed: str
) -> tuple[TextLookup, list[type[models.Model]]]:
    """``name`` (``tags__name``, ``author__profile__bio``) as a :class:`TextLookup`,
    and the models whose tables it reads."""
    path = name.split(LOOKUP_SEP)
    if len(path) > MAX_HOPS + 1:
        raise ConfigurationError(
            f"feed {feed}: text_fields {name!r} goes through {len(path) - 1} relations; "
            f"lookups may go through at most {MAX_HOPS}"
        )
    model, hops, read = content, [], []
    for step in path[:-1]:
        try:
            relation = model._meta.get_field(step)
        except Exception:
            raise ConfigurationError(
                f"feed {feed}: text_fields {name!r}: {model._meta.label} has no field {step!r}"
            ) from None
        if not relation.is_relation:
            raise ConfigurationError(
                f"feed {feed}: text_fields {name!r}: {model._meta.label}.{step} is not a "
                "relation, so nothing can be looked up through it"
            )
        hop, model, tables = _hop(model, relation, name, feed)
        hops.append(hop)
        read += tables
    try:
        final = _text_field(model, path[-1], feed)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc} (in lookup {name!r})") from None
    return TextLookup(name=name, hops=tuple(hops), column=_column(final)), read


def text_models(feed: Any) -> list[type[models.Model]]:
    """The models whose tables ``feed``'s text reads through lookups (related models
    and many-to-many through models), without repeats."""
    content = feed.get_setting("content_django_model")
    found: list[type[models.Model]] = []
    for name in feed.get_setting("text_fields") or ():
        if isinstance(name, str) and LOOKUP_SEP in name:
            found += text_lookup(content, name, feed.__name__)[1]
    return list(dict.fromkeys(found))


def _text(
    content: type[models.Model], text_fields: Any, feed: str
) -> tuple[tuple[str, ...], tuple[TextLookup, ...]]:
    """``text_fields`` as the spec's text columns and lookups."""
    if not text_fields or isinstance(text_fields, str):
        raise ConfigurationError(f"feed {feed}: text_fields must be a tuple of field names")
    columns, lookups = [], []
    for name in text_fields:
        if isinstance(name, str) and LOOKUP_SEP in name:
            lookup = text_lookup(content, name, feed)[0]
            lookups.append(lookup)
            columns.append(name)
        else:
            columns.append(_column(_text_field(content, name, feed)))
    return tuple(columns), tuple(lookups)


def _relation(
    interactions: type[models.Model], feed: Any, attribute: str, target: type[models.Model]
) -> models.Field[Any, Any]:
    name = feed.get_setting(attribute)
    if not name:
        raise ConfigurationError(f"feed {feed.__name__}: mode 'model' needs {attribute}")
    field = _field(interactions, name, feed.__name__, attribute)
    if not (isinstance(field, models.ForeignKey) and field.related_model is target):
        raise ConfigurationError(
            f"feed {feed.__name__}: {attribute} {name!r} must be a ForeignKey "
            f"to {target._meta.label}"
        )
    return field


def _foreign_key_to(
    through: type[models.Model], target: type[models.Model], feed: str
) -> models.Field[Any, Any]:
    matches = [
        f
        for f in through._meta.get_fields()
        if isinstance(f, models.ForeignKey) and f.related_model is target
    ]
    if len(matches) != 1:
        raise ConfigurationError(
            f"feed {feed}: {through._meta.label} needs exactly one foreign key to "
            f"{target._meta.label} in mode 'm2m' (found {len(matches)}); use mode 'model' "
            "with user_field_name and content_field_name"
        )
    return matches[0]


def compile_spec(feed: Any) -> FeedSpec:
    """Resolve a feed class's models and fields to tables, columns and types."""
    name = feed.__name__
    feed_id = feed.get_setting("feed_id")
    if not feed_id:
        raise ConfigurationError(f"feed {name}: feed_id is not set")
    content = feed.get_setting("content_django_model")
    interactions = feed.get_setting("interaction_django_model")
    for attribute, model in (
        ("content_django_model", content),
        ("interaction_django_model", interactions),
    ):
        if not (isinstance(model, type) and issubclass(model, models.Model)):
            raise ConfigurationError(f"feed {name}: {attribute} must be a Django model class")
    embedding = _field(content, "embedding", name, "NeuralRecommendMixin")
    embedding_hash = _field(content, "embedding_hash", name, "NeuralRecommendMixin")

    text_columns, text_lookups = _text(content, feed.get_setting("text_fields"), name)

    user_model = _user_model()
    mode = feed.get_setting("mode")
    if mode == "m2m":
        user_fk = _foreign_key_to(interactions, user_model, name)
        item_fk = _foreign_key_to(interactions, content, name)
    elif mode == "model":
        user_fk = _relation(interactions, feed, "user_field_name", user_model)
        item_fk = _relation(interactions, feed, "content_field_name", content)
    else:
        raise ConfigurationError(f"feed {name}: mode must be 'm2m' or 'model', got {mode!r}")
    value_name = feed.get_setting("value_field_name")
    if value_name and mode != "model":
        raise ConfigurationError(f"feed {name}: value_field_name needs mode 'model'")
    value = (
        _column(_field(interactions, value_name, name, "value_field_name")) if value_name else None
    )
    order_name = feed.get_setting("order_field_name")
    order = (
        _field(interactions, order_name, name, "order_field_name")
        if order_name
        else interactions._meta.pk
    )
    freshness_name = feed.get_setting("freshness_field")
    freshness = (
        _column(_field(content, freshness_name, name, "freshness_field"))
        if freshness_name
        else None
    )
    dimension = feed_setting("VECTOR_DIMENSION")
    if getattr(embedding, "dimensions", dimension) != dimension:
        raise ConfigurationError(
            f"feed {name}: {content._meta.label}.embedding has {embedding.dimensions} "  # type: ignore[attr-defined]
            f"dimensions but VECTOR_DIMENSION is {dimension}; run makemigrations"
        )
    assert content._meta.pk is not None and user_model._meta.pk is not None and order is not None
    assert interactions._meta.pk is not None
    # Read per request rather than stored in the spec, but refused here all the same:
    # every request compiles the spec first, so a bad value never reaches a query.
    check_number("diversity", feed.get_setting("diversity"), f"feed {name}: diversity")
    for signal in ("similarity", "freshness", "popularity", "collaborative"):
        attribute = f"weight_{signal}"
        check_number("weight", feed.get_setting(attribute), f"feed {name}: {attribute}")
    return FeedSpec(
        feed_id=feed_id,
        content_table=content._meta.db_table,
        content_key=_column(content._meta.pk),
        content_key_type=_key_type(content._meta.pk),
        text_columns=text_columns,
        interaction_table=interactions._meta.db_table,
        interaction_user_column=_column(user_fk),
        interaction_item_column=_column(item_fk),
        interaction_order_column=_column(order),
        interaction_key_column=_column(interactions._meta.pk),
        user_key_type=_key_type(user_model._meta.pk),
        encoder=(encoder := _encoder(feed.get_setting("encoder_class"), name)),
        encoder_backend=_backend(feed.get_setting("encoder_backend"), encoder, name),
        model_name=feed.get_setting("embedding_model_name"),
        dimension=dimension,
        window=feed.get_setting("user_likes_limit"),
        embedding_column=_column(embedding),
        embedding_hash_column=_column(embedding_hash),
        freshness_column=freshness,
        freshness_half_life_hours=feed.get_setting("freshness_half_life_hours"),
        collaborative_dimension=feed.get_setting("collaborative_dimension"),
        interaction_value_column=value,
        dislike_weight=feed.get_setting("dislike_weight"),
        text_lookups=text_lookups,
        **_text_options(feed),
    )


def _text_options(feed: Any) -> dict[str, Any]:
    """The feed's text_separator, text_order, text_max_values and text_template, where
    set (the spec's defaults otherwise; it checks them)."""
    options = {}
    for attribute in ("text_separator", "text_order", "text_max_values", "text_template"):
        value = feed.get_setting(attribute)
        if value is not None:
            options[attribute] = value
    return options


def _encoder(value: Any, feed: str) -> str:
    """The dotted path of the feed's encoder, which the worker will import.

    Imported here (once per process; later imports are a dictionary lookup) so that
    a typo fails ``check`` and the compile, not the worker's first batch.
    """
    # Upstream accepted the class itself; specs store its dotted path.
    if isinstance(value, type) and issubclass(value, BaseVectorEncoder):
        path = encoder_path(value)
    elif isinstance(value, str):
        path = value
    else:
        raise ConfigurationError(
            f"feed {feed}: encoder_class must be the dotted path of a BaseVectorEncoder "
            f"subclass (or the class), got {value!r}"
        )
    try:
        load_encoder(path)
    except ConfigurationError as exc:
        raise ConfigurationError(f"feed {feed}: encoder_class: {exc}") from None
    return path


def _backend(value: Any, encoder: str, feed: str) -> str:
    """The feed's ENCODER_BACKEND. An encoder without backends gets the default, which
    leaves its spec, fingerprint and embedding identity as they were."""
    backend = check_backend(value, f"feed {feed}: encoder_backend")
    return backend if has_backends(encoder) else DEFAULT_BACKEND


def _user_model() -> type[models.Model]:
    from django.apps import apps

    return apps.get_model(settings.AUTH_USER_MODEL)
