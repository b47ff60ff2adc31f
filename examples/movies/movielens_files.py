"""Write a MovieLens folder as the two files ``manage.py dnf_evaluate`` reads.

    python examples/movies/movielens_files.py /path/to/ml-latest-small OUT_DIR

``OUT_DIR/items.csv`` gets ``id,title,genres__name,tags__name`` (the example feed's
text fields; genres and tags as ``manage.py demo`` links them, in order, separated
by ``|``) and ``OUT_DIR/interactions.csv``
gets ``user,item,timestamp,rating`` from ``ratings.csv``. Header rows in the
MovieLens files are optional (some copies have none).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path


def _rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if row and not row[0].isdigit():  # a header row
                continue
            yield row


def convert(source: Path, out: Path) -> tuple[int, int]:
    """Write both files; returns (items, interactions) written."""
    tags: dict[str, list[str]] = defaultdict(list)
    for _, movie_id, tag, *_ in _rows(source / "tags.csv"):
        tag = tag.strip().lower()
        if tag and tag not in tags[movie_id]:
            tags[movie_id].append(tag)
    out.mkdir(parents=True, exist_ok=True)
    items = 0
    with open(out / "items.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "genres__name", "tags__name"])
        for movie_id, title, genres in _rows(source / "movies.csv"):
            genres = "" if genres == "(no genres listed)" else genres
            writer.writerow([movie_id, title, genres, "|".join(tags.get(movie_id, []))])
            items += 1
    interactions = 0
    with open(out / "interactions.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user", "item", "timestamp", "rating"])
        for user, movie_id, rating, timestamp in _rows(source / "ratings.csv"):
            writer.writerow([user, movie_id, timestamp, rating])
            interactions += 1
    return items, interactions


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n_items, n_interactions = convert(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{sys.argv[2]}: {n_items} items, {n_interactions} interactions")
