"""Evaluation datasets given as two CSV files: items and interactions.

Both files need a header row (UTF-8, comma-separated):

- items: ``id``, one column per text field of the feed (named like the model's
  fields), and optionally ``timestamp`` (Unix seconds or ISO 8601; fills the feed's
  freshness field). Other columns are ignored.
- interactions: ``user``, ``item`` (an ``id`` of the items file), ``timestamp``
  (Unix seconds or ISO 8601; orders each user's likes), and optionally ``rating``.
  With a minimum rating, only rows rated at least that much are likes and
  ``rating`` is required; without one, every row is a like.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dnf_core.errors import EvaluationError


@dataclass(frozen=True)
class ItemRecord:
    """One item of the items file: its id, its text fields, its date if given."""

    key: str
    texts: dict[str, str]
    timestamp: float | None = None


@dataclass(frozen=True)
class Dataset:
    """Items in file order, and likes as ``(user, item, timestamp)`` in file order."""

    items: list[ItemRecord]
    likes: list[tuple[str, str, float]]


def parse_timestamp(value: str, where: str) -> float:
    """Unix seconds, or an ISO 8601 date (UTC when it has no offset), as seconds."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise EvaluationError(
            f"{where}: timestamp {value!r} is neither Unix seconds nor ISO 8601"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise EvaluationError(f"{path}: no such file")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [name for name in required if name not in header]
        if missing:
            raise EvaluationError(
                f"{path}: missing column(s) {', '.join(missing)} in the header row "
                f"(found: {', '.join(header) or 'nothing'})"
            )
        for row in reader:
            if None in row or any(row[name] is None for name in required):
                raise EvaluationError(f"{path}:{reader.line_num}: wrong number of fields")
            yield reader.line_num, row


def read_items(path: str | Path, text_fields: Sequence[str]) -> list[ItemRecord]:
    """The items file, with the given text fields (each a required column)."""
    path = Path(path)
    items, seen = [], set()
    has_time: bool | None = None
    for line, row in _rows(path, ["id", *text_fields]):
        if has_time is None:
            has_time = "timestamp" in row
        key = row["id"].strip()
        if not key:
            raise EvaluationError(f"{path}:{line}: empty id")
        if key in seen:
            raise EvaluationError(f"{path}:{line}: id {key!r} appears twice")
        seen.add(key)
        stamp = row.get("timestamp") if has_time else None
        items.append(
            ItemRecord(
                key=key,
                texts={name: row[name] for name in text_fields},
                timestamp=parse_timestamp(stamp, f"{path}:{line}") if stamp else None,
            )
        )
    if not items:
        raise EvaluationError(f"{path}: no items")
    return items


def read_likes(
    path: str | Path, known_items: set[str], min_rating: float | None = None
) -> list[tuple[str, str, float]]:
    """The interactions file's likes; every item must be one of ``known_items``."""
    path = Path(path)
    required = ["user", "item", "timestamp"] + (["rating"] if min_rating is not None else [])
    likes = []
    for line, row in _rows(path, required):
        where = f"{path}:{line}"
        user, item = row["user"].strip(), row["item"].strip()
        if not user or not item:
            raise EvaluationError(f"{where}: empty user or item")
        if item not in known_items:
            raise EvaluationError(f"{where}: item {item!r} is not in the items file")
        if min_rating is not None:
            try:
                rating = float(row["rating"])
            except ValueError:
                raise EvaluationError(
                    f"{where}: rating {row['rating']!r} is not a number"
                ) from None
            if rating < min_rating:
                continue
        likes.append((user, item, parse_timestamp(row["timestamp"], where)))
    if not likes:
        raise EvaluationError(
            f"{path}: no likes" + (f" rated >= {min_rating}" if min_rating else "")
        )
    return likes


def read_dataset(
    items_path: str | Path,
    interactions_path: str | Path,
    text_fields: Sequence[str],
    min_rating: float | None = None,
) -> Dataset:
    """Both files, checked against each other."""
    items = read_items(items_path, text_fields)
    likes = read_likes(interactions_path, {item.key for item in items}, min_rating)
    return Dataset(items=items, likes=likes)
