"""Fill the scratch database: items, and the training interactions only.

Two sources: the feed's own tables (read from the user's database, copied row by
row) or a dataset given as files. Either way the rows are written with the ORM into
the scratch database, where the feed's triggers capture them exactly as they would
capture a live write; the held-out likes are never written.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models.constants import LOOKUP_SEP
from tqdm import tqdm

from dnf_core.errors import EvaluationError
from dnf_core.evaluation.datasets import Dataset
from dnf_core.evaluation.split import HoldOut, temporal_split
from dnf_core.spec import FeedSpec
from dnf_django.compiler import text_models

BATCH = 2000


@dataclass(frozen=True)
class Loaded:
    """What the scratch database holds: the split (on primary keys) and the catalogue."""

    split: HoldOut
    items: list[Hashable]  # every item's primary key, in primary-key order


def _field(model: type[models.Model], column: str) -> models.Field[Any, Any]:
    for f in model._meta.concrete_fields:
        if f.column == column:
            return f
    raise EvaluationError(f"{model._meta.label} has no column {column!r}")


def _bar(total: int, desc: str, progress: bool) -> tqdm[Any]:
    return tqdm(total=total, unit="row", desc=desc, disable=not progress, file=sys.stderr)


def _write(
    model: type[models.Model], alias: str, rows: Iterable[models.Model], bar: tqdm[Any]
) -> None:
    batch: list[models.Model] = []
    try:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                model._base_manager.using(alias).bulk_create(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            model._base_manager.using(alias).bulk_create(batch)
            bar.update(len(batch))
    except (DatabaseError, ValueError, TypeError) as exc:
        raise EvaluationError(f"cannot write {model._meta.label} rows: {exc}") from exc


def _catalogue(content: type[models.Model], alias: str) -> list[Hashable]:
    return list(content._base_manager.using(alias).order_by("pk").values_list("pk", flat=True))


def copy_own_tables(
    feed: Any,
    spec: FeedSpec,
    source: str,
    alias: str,
    *,
    min_likes: int,
    holdout: float,
    progress: bool,
) -> Loaded:
    """Copy the feed's items and its training interactions from ``source``.

    Likes are the interaction rows (with a value field, those with a positive value);
    the split orders them by the feed's order field. Every other interaction row
    (dislikes, neutral rows) is copied as training data. Embeddings are not copied:
    the scratch workers compute them.
    """
    content = feed.get_setting("content_django_model")
    interactions = feed.get_setting("interaction_django_model")
    key = _field(interactions, spec.interaction_key_column).attname
    user = _field(interactions, spec.interaction_user_column).attname
    item = _field(interactions, spec.interaction_item_column).attname
    order = _field(interactions, spec.interaction_order_column).attname
    value = (
        _field(interactions, spec.interaction_value_column).attname
        if spec.interaction_value_column
        else None
    )
    source_rows = interactions._base_manager.using(source)
    fields = [key, user, item, order] + ([value] if value else [])
    rows = list(source_rows.order_by(key).values_list(*fields))
    like_rows = [r for r in rows if value is None or (r[4] is not None and r[4] > 0)]
    split = temporal_split(
        [(r[1], r[2], (r[3], r[0])) for r in like_rows], min_likes=min_likes, holdout=holdout
    )
    held_keys = {like_rows[i][0] for i in split.held_out_rows}

    def items() -> Iterator[models.Model]:
        for obj in content._base_manager.using(source).order_by("pk").iterator(BATCH):
            obj.embedding = None
            obj.embedding_hash = None
            yield obj

    # The rows the text reads through lookups: related rows first, links after.
    related = text_models(feed)
    links = [m for m in related if m._meta.auto_created]
    for model in [m for m in related if m not in links]:
        _copy(model, source, alias, progress)
    total_items = content._base_manager.using(source).count()
    with transaction.atomic(using=alias), _bar(total_items, "items", progress) as bar:
        _write(content, alias, items(), bar)
    for model in links:
        _copy(model, source, alias, progress)
    training = len(rows) - len(held_keys)
    with transaction.atomic(using=alias), _bar(training, "interactions", progress) as bar:
        kept = (
            obj
            for obj in source_rows.order_by(key).iterator(BATCH)
            if getattr(obj, key) not in held_keys
        )
        _write(interactions, alias, kept, bar)
    return Loaded(split=split, items=_catalogue(content, alias))


def _copy(model: type[models.Model], source: str, alias: str, progress: bool) -> None:
    """Every row of ``model`` from ``source`` to the scratch database, keys included."""
    rows = model._base_manager.using(source)
    with transaction.atomic(using=alias), _bar(rows.count(), model._meta.db_table, progress) as bar:
        _write(model, alias, rows.order_by("pk").iterator(BATCH), bar)


# Values of a many-valued lookup in one cell of an items file.
LIST_SEPARATOR = "|"


@dataclass
class _Related:
    """How a dataset column named by a lookup becomes rows: a one-hop lookup through a
    foreign key (``values`` names the row the item points to) or a many-to-many field
    (``values`` lists the rows the item links to, in order)."""

    field: Any
    target: type[models.Model]
    column: str
    ids: dict[str, Any]

    @classmethod
    def of(cls, content: type[models.Model], name: str) -> _Related:
        relation, _, column = name.partition(LOOKUP_SEP)
        field: Any = content._meta.get_field(relation)
        if LOOKUP_SEP in column or not (
            isinstance(field, models.ForeignKey | models.ManyToManyField)
        ):
            raise EvaluationError(
                f"the items file cannot fill text field {name!r}: only lookups through one "
                "foreign key or many-to-many field of the content model can be created from "
                "a file; evaluate on the feed's own tables instead (no --items)"
            )
        return cls(field, field.related_model, column, {})

    def create(self, alias: str, values: Iterable[str]) -> None:
        """The related rows, one per distinct value, in order of first appearance."""
        new = [v for v in dict.fromkeys(values) if v not in self.ids]
        try:
            rows = self.target._base_manager.using(alias).bulk_create(
                [self.target(**{self.column: v}) for v in new], batch_size=BATCH
            )
        except (DatabaseError, ValueError, TypeError) as exc:
            raise EvaluationError(
                f"cannot write {self.target._meta.label} rows for {self.field.name}: {exc}"
            ) from exc
        self.ids.update({v: row.pk for v, row in zip(new, rows, strict=True)})

    def links(self, item: Any, values: list[str]) -> Iterator[models.Model]:
        through = self.field.remote_field.through
        own = through._meta.get_field(self.field.m2m_field_name()).attname
        other = through._meta.get_field(self.field.m2m_reverse_field_name()).attname
        for value in values:
            yield through(**{own: item, other: self.ids[value]})


def _split(cell: str, many: bool) -> list[str]:
    values = cell.split(LIST_SEPARATOR) if many else [cell]
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def load_dataset(
    feed: Any,
    spec: FeedSpec,
    dataset: Dataset,
    alias: str,
    *,
    min_likes: int,
    holdout: float,
    progress: bool,
) -> Loaded:
    """Create the dataset's items and training likes in the scratch database.

    Users become integer keys 1..n in order of first appearance (their rows are not
    created: the scratch copy has no foreign keys). Training likes are inserted in
    time order, so an auto-increment order field follows time.
    """
    content = feed.get_setting("content_django_model")
    interactions = feed.get_setting("interaction_django_model")
    freshness = feed.get_setting("freshness_field")
    text_fields = feed.get_setting("text_fields")
    pk = content._meta.pk
    assert pk is not None
    auto_pk = isinstance(pk, models.AutoField)

    related = {n: _Related.of(content, n) for n in text_fields if LOOKUP_SEP in n}
    for name, rel in related.items():
        many = rel.field.many_to_many
        rel.create(alias, (v for r in dataset.items for v in _split(r.texts[name], many)))
    objects = []
    for record in dataset.items:
        values: dict[str, Any] = {
            name: record.texts[name] for name in text_fields if name not in related
        }
        for name, rel in related.items():
            if not rel.field.many_to_many:
                first = _split(record.texts[name], many=False)
                values[rel.field.attname] = rel.ids[first[0]] if first else None
        if freshness and record.timestamp is not None:
            values[freshness] = datetime.fromtimestamp(record.timestamp, UTC)
        if not auto_pk:
            values[pk.attname] = pk.to_python(record.key)
        objects.append(content(**values))
    with transaction.atomic(using=alias), _bar(len(objects), "items", progress) as bar:
        _write(content, alias, objects, bar)
    keys = {record.key: obj.pk for record, obj in zip(dataset.items, objects, strict=True)}
    for name, rel in related.items():
        if rel.field.many_to_many:
            through = rel.field.remote_field.through
            rows = [
                link
                for record, obj in zip(dataset.items, objects, strict=True)
                for link in rel.links(obj.pk, _split(record.texts[name], many=True))
            ]
            with transaction.atomic(using=alias), _bar(len(rows), name, progress) as bar:
                _write(through, alias, rows, bar)

    users: dict[str, int] = {}
    likes = [(users.setdefault(u, len(users) + 1), keys[i], t) for u, i, t in dataset.likes]
    split = temporal_split(likes, min_likes=min_likes, holdout=holdout)
    training = sorted(
        ((t, row) for row, (_, _, t) in enumerate(likes) if row not in split.held_out_rows)
    )
    user = _field(interactions, spec.interaction_user_column).attname
    item = _field(interactions, spec.interaction_item_column).attname
    order = _field(interactions, spec.interaction_order_column)
    value = (
        _field(interactions, spec.interaction_value_column).attname
        if spec.interaction_value_column
        else None
    )

    def like(stamp: float, row: int) -> models.Model:
        values: dict[str, Any] = {user: likes[row][0], item: likes[row][1]}
        if isinstance(order, models.DateTimeField):
            values[order.attname] = datetime.fromtimestamp(stamp, UTC)
        elif not order.primary_key:
            values[order.attname] = stamp
        if value:
            values[value] = 1
        row_object: models.Model = interactions(**values)
        return row_object

    with transaction.atomic(using=alias), _bar(len(training), "likes", progress) as bar:
        _write(interactions, alias, (like(t, row) for t, row in training), bar)
    return Loaded(split=split, items=_catalogue(content, alias))
