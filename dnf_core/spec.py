"""The framework-free description of a feed that every part of the pipeline shares.

A Django feed class compiles to a :class:`FeedSpec`; migrations store it in the
registry table as JSON; workers read it back and need nothing else.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from dnf_core.encoders.backends import DEFAULT_BACKEND, check_backend, identity_of
from dnf_core.errors import ConfigurationError
from dnf_core.identifiers import (
    quote_identifier,
    validate_feed_id,
    validate_identifier,
    validate_key_type,
)
from dnf_core.text_lookups import (
    MAX_SEPARATOR_LENGTH,
    MAX_VALUES_LIMIT,
    ORDERS,
    TextLookup,
    check_template,
    lookup_expression,
    template_expression,
)

SPEC_VERSION = 1


def is_finite_number(value: Any) -> bool:
    """An int or a finite float, not a bool.

    NaN and infinity are refused wherever a number enters: one NaN weight makes every
    score NaN, which Postgres sorts above every real number, so the feed would come
    back in an arbitrary order instead of failing.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


# What each numeric feed attribute must hold, as (test, description). The one place
# these are defined: FeedSpec applies them, the feed compiler applies the weights and
# ``diversity`` (read per request, not stored in the spec), and the settings check
# applies them to the keys that give these attributes their defaults.
NUMBER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "weight": (is_finite_number, "a finite number"),
    "freshness_half_life_hours": (
        lambda v: is_finite_number(v) and v > 0,
        "a finite number > 0",
    ),
    "dislike_weight": (lambda v: is_finite_number(v) and v >= 0, "a finite number >= 0"),
    "diversity": (
        lambda v: v is None or (is_finite_number(v) and 0 < v <= 1),
        "None or a number in (0, 1]",
    ),
}


def check_number(rule: str, value: Any, label: str) -> None:
    """Raise :class:`ConfigurationError` ``"<label> must be <description>, got <value>"``
    unless ``value`` passes :data:`NUMBER_RULES` ``[rule]``."""
    test, description = NUMBER_RULES[rule]
    if not test(value):
        raise ConfigurationError(f"{label} must be {description}, got {value!r}")


@dataclass(frozen=True)
class FeedSpec:
    """Everything the triggers, workers and queries need to know about one feed."""

    feed_id: str
    content_table: str
    content_key: str
    content_key_type: str
    text_columns: tuple[str, ...]
    interaction_table: str
    interaction_user_column: str
    interaction_item_column: str
    interaction_order_column: str
    user_key_type: str
    encoder: str
    model_name: str
    dimension: int
    window: int = 20
    embedding_column: str = "embedding"
    embedding_hash_column: str = "embedding_hash"
    freshness_column: str | None = None
    # Rank vectors store freshness relative to this half-life.
    freshness_half_life_hours: float = 72.0
    # Size of the item vectors learned from interactions (0: no collaborative signal).
    collaborative_dimension: int = 0
    # The interaction table's primary key: breaks ties between equal order values.
    interaction_key_column: str = "id"
    # Interactions whose value here is negative are dislikes, zero is neutral.
    interaction_value_column: str | None = None
    # How strongly a dislike pushes the profile away, relative to a like.
    dislike_weight: float = 0.5
    # How the encoder runs its model: "torch", "onnx" or "onnx-int8" (ENCODER_BACKEND;
    # only the sentence-transformers encoder has backends). The default is the default
    # ENCODER_BACKEND, so a registry row written before backends existed reads as
    # declaring it, as the unchanged settings it was compiled from now do. What a
    # feed's vectors were made with is recorded apart (dnf_embedding_model), and the
    # workers keep embedding with that until dnf_reembed moves the feed
    # (dnf_core.encoders.backends.embedding_target).
    encoder_backend: str = DEFAULT_BACKEND
    # Entries of text_columns read through relations ("tags__name"), by that name.
    text_lookups: tuple[TextLookup, ...] = ()
    # How the values of one lookup are joined, ordered ("value" or "added") and bounded.
    text_separator: str = ", "
    text_order: str = "value"
    text_max_values: int = 20
    # str.format template over text_columns; None joins them with spaces.
    text_template: str | None = None

    def __post_init__(self) -> None:
        validate_feed_id(self.feed_id)
        check_backend(self.encoder_backend, f"feed {self.feed_id!r}: encoder_backend")
        for name in (
            "content_table",
            "content_key",
            "interaction_table",
            "interaction_user_column",
            "interaction_item_column",
            "interaction_order_column",
            "interaction_key_column",
            "embedding_column",
            "embedding_hash_column",
        ):
            validate_identifier(getattr(self, name), f"feed {self.feed_id!r}: {name}")
        for name in ("freshness_column", "interaction_value_column"):
            if getattr(self, name) is not None:
                validate_identifier(getattr(self, name), f"feed {self.feed_id!r}: {name}")
        if not self.text_columns:
            raise ConfigurationError(f"feed {self.feed_id!r}: text_fields must name at least one")
        for column in self.text_columns:
            validate_identifier(column, f"feed {self.feed_id!r}: text field")
        self._check_text()
        validate_key_type(self.content_key_type, f"feed {self.feed_id!r}: content key")
        validate_key_type(self.user_key_type, f"feed {self.feed_id!r}: user key")
        for name in ("dislike_weight", "freshness_half_life_hours"):
            check_number(name, getattr(self, name), f"feed {self.feed_id!r}: {name}")
        collaborative = self.collaborative_dimension
        if (
            isinstance(collaborative, bool)
            or not isinstance(collaborative, int)
            or collaborative < 0
        ):
            raise ConfigurationError(
                f"feed {self.feed_id!r}: collaborative_dimension must be an integer >= 0, "
                f"got {collaborative!r}"
            )
        for name in ("dimension", "window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"feed {self.feed_id!r}: {name} must be a positive integer, got {value!r}"
                )

    def _check_text(self) -> None:
        label = f"feed {self.feed_id!r}"
        names = [lookup.name for lookup in self.text_lookups]
        stray = [n for n in names if n not in self.text_columns]
        if stray or len(set(names)) != len(names):
            raise ConfigurationError(
                f"{label}: text lookups {names} must each be one entry of text_columns"
            )
        if len(set(self.text_columns)) != len(self.text_columns):
            raise ConfigurationError(f"{label}: text_fields names a field twice")
        separator = self.text_separator
        if not isinstance(separator, str) or len(separator) > MAX_SEPARATOR_LENGTH:
            raise ConfigurationError(
                f"{label}: text_separator must be a string of at most {MAX_SEPARATOR_LENGTH} "
                f"characters, got {separator!r}"
            )
        if "\x00" in separator:
            raise ConfigurationError(f"{label}: text_separator cannot hold NUL characters")
        if self.text_order not in ORDERS:
            raise ConfigurationError(
                f"{label}: text_order must be one of {', '.join(map(repr, ORDERS))}, "
                f"got {self.text_order!r}"
            )
        bound = self.text_max_values
        if (
            isinstance(bound, bool)
            or not isinstance(bound, int)
            or not 1 <= bound <= MAX_VALUES_LIMIT
        ):
            raise ConfigurationError(
                f"{label}: text_max_values must be an integer from 1 to {MAX_VALUES_LIMIT}, "
                f"got {bound!r}"
            )
        if self.text_template is not None:
            check_template(self.text_template, self.text_columns, label)

    def text_expression(self, alias: str) -> str:
        """SQL expression of the text that gets embedded, for table alias ``alias``.

        Columns of the row, and lookups through relations rendered as subqueries
        correlated with ``alias`` (:func:`dnf_core.text_lookups.lookup_expression`),
        joined by spaces or by :attr:`text_template`. ``concat_ws`` skips NULLs, so a
        NULL column or a lookup with no value never turns the whole text NULL.
        """
        validate_identifier(alias, "table alias")
        lookups = {lookup.name: (i, lookup) for i, lookup in enumerate(self.text_lookups)}
        parts = {}
        for name in self.text_columns:
            if name in lookups:
                index, lookup = lookups[name]
                parts[name] = lookup_expression(
                    lookup,
                    index,
                    alias,
                    separator=self.text_separator,
                    max_values=self.text_max_values,
                    order=self.text_order,
                )
            else:
                parts[name] = f"{alias}.{quote_identifier(name)}::text"
        if self.text_template is not None:
            return template_expression(self.text_template, parts)
        return f"concat_ws(' ', {', '.join(parts.values())})"

    def capture_expression(self, alias: str) -> str:
        """SQL of what, in the content row at ``alias``, the text depends on: the text
        itself when it reads only the row, else the row's text columns and the columns
        its lookups start from (what lookups reach is captured on their own tables)."""
        if not self.text_lookups:
            return self.text_expression(alias)
        validate_identifier(alias, "table alias")
        lookups = {lookup.name for lookup in self.text_lookups}
        columns = [c for c in self.text_columns if c not in lookups]
        columns += [lookup.hops[0].source_column for lookup in self.text_lookups]
        unique = dict.fromkeys(columns)
        return "ROW(" + ", ".join(f"{alias}.{quote_identifier(c)}" for c in unique) + ")"

    @property
    def embedding_identity(self) -> str:
        """What made a vector besides the text; hashed with it so a new model re-embeds.

        ``encoder:model:dimension``, the encoder marked with its backend unless that is
        torch (``...SentenceTransformerEncoder[onnx-int8]:all-MiniLM-L6-v2:384``).
        """
        return identity_of(self.encoder, self.encoder_backend, self.model_name, self.dimension)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, stamped with the spec format version."""
        data = asdict(self)
        data["text_columns"] = list(self.text_columns)
        data["text_lookups"] = [
            {**asdict(lookup), "hops": [asdict(hop) for hop in lookup.hops]}
            for lookup in self.text_lookups
        ]
        data["spec_version"] = SPEC_VERSION
        return data

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), so equal specs serialize identically."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedSpec:
        """Rebuild a spec from :meth:`to_dict` output, refusing unknown format versions."""
        data = dict(data)
        version = data.pop("spec_version", None)
        if version != SPEC_VERSION:
            raise ConfigurationError(
                f"feed spec version {version!r} is not supported by this neural-feed "
                f"(expects {SPEC_VERSION}); upgrade the worker to match the web code"
            )
        data["text_columns"] = tuple(data["text_columns"])
        data["text_lookups"] = tuple(map(TextLookup.from_dict, data.get("text_lookups", ())))
        # Specs written by earlier versions (registry rows, migrations) carry weights,
        # never used: the query layer reads the feed class's at request time.
        data.pop("weights", None)
        return cls(**data)

    @property
    def fingerprint(self) -> str:
        """Short hash of what the pipeline depends on; a new one means a migration is due.

        Weights are not in the spec: only the query layer uses them, and it reads them
        from the feed class at request time, so tuning them needs no migration. Fields
        at their default are left out, so a field added in a later version (whose
        default means what earlier versions did) keeps existing fingerprints.
        """
        data = self.to_dict()
        for f in fields(self):
            value = data[f.name]
            # Lists in the dict stand for tuples in the spec (text_lookups: () is []).
            default = f.default
            if default is not MISSING and (
                value == default or (isinstance(default, tuple) and value == list(default))
            ):
                del data[f.name]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]
