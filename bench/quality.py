"""Ranking quality: the example feed through the real pipeline on MovieLens, by ``dnf_evaluate``.

MovieLens ml-latest-small (``BENCH_MOVIELENS``, default the shared datasets folder
next to the repository) is turned into the two files ``dnf_evaluate`` reads; likes
are ratings >= 4, users with >= 10 likes, the latest 20% of each user's likes held
out; the example project's ``MovieFeed`` with the example site's settings is evaluated
in a scratch database, real worker and real model included, next to the baselines
computed on the same split. ``BENCH_QUALITY_SPLIT=validation`` evaluates on the
training likes alone (the same hold-out again), where settings are chosen. See
docs/evaluation.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scratch import ROOT, scratch_database, server_url, setup_example_project

DB = "dnf_bench_quality"
DEFAULT_MOVIELENS = ROOT.parent / "shared" / "datasets" / "movielens-small"


def validation_split(dataset: Any) -> Any:
    """``dataset`` without the likes the test split holds out: evaluated as usual, it
    holds out each user's latest training likes, for choosing settings without looking
    at the test likes."""
    from dnf_core.evaluation.datasets import Dataset
    from dnf_core.evaluation.split import temporal_split

    held = temporal_split(dataset.likes, min_likes=10, holdout=0.2).held_out_rows
    likes = [like for row, like in enumerate(dataset.likes) if row not in held]
    return Dataset(items=dataset.items, likes=likes)


def movielens_source() -> Path:
    """The MovieLens folder (``BENCH_MOVIELENS``, default the shared datasets'), checked."""
    source = Path(os.environ.get("BENCH_MOVIELENS", DEFAULT_MOVIELENS))
    if not (source / "ratings.csv").is_file():
        raise SystemExit(f"no MovieLens ratings.csv under {source}; set BENCH_MOVIELENS")
    return source


def movielens_dataset(source: Path, folder: Path) -> Any:
    """MovieLens as the example feed's dataset (likes: ratings >= 4), its two files
    written into ``folder``. Needs the example project set up."""
    from movielens_files import convert

    from catalog.feeds import MovieFeed
    from dnf_core.evaluation.datasets import read_dataset

    convert(source, folder)
    return read_dataset(
        folder / "items.csv",
        folder / "interactions.csv",
        MovieFeed.text_fields or (),
        min_rating=4,
    )


def run() -> dict[str, Any]:
    source = movielens_source()
    started = time.perf_counter()
    with (
        scratch_database(server_url(), DB),
        tempfile.TemporaryDirectory(prefix="dnf-quality-") as folder,
    ):
        setup_example_project(DB)
        from catalog.feeds import MovieFeed
        from dnf_django.evaluation import evaluate_feed

        dataset = movielens_dataset(source, Path(folder))
        if os.environ.get("BENCH_QUALITY_SPLIT") == "validation":
            dataset = validation_split(dataset)
        report = evaluate_feed(MovieFeed, dataset, k=10, recall_k=20, progress=True)
        print(report.table(), file=sys.stderr)
    rows = report.rows
    feed = rows[f"{MovieFeed.feed_id} (feed)"]
    return {
        "ndcg_at_10": feed.ndcg,
        "hr_at_10": feed.hit_rate,
        "recall_at_20": feed.recall,
        "coverage": feed.coverage,
        "cold_share_at_10": feed.cold_share,
        "popularity_ndcg_at_10": rows["popularity"].ndcg,
        "popularity_hr_at_10": rows["popularity"].hit_rate,
        "upstream_ndcg_at_10": rows["upstream formula"].ndcg,
        "upstream_hr_at_10": rows["upstream formula"].hit_rate,
        "random_ndcg_at_10": rows["random"].ndcg,
        "ndcg_ratio_to_popularity": feed.ndcg / rows["popularity"].ndcg,
        "ndcg_ratio_to_upstream": feed.ndcg / rows["upstream formula"].ndcg,
        "targets": {"ndcg_at_10": 0.095, "hr_at_10": 0.40},
        "report": report.as_dict(),
        "split": os.environ.get("BENCH_QUALITY_SPLIT", "test"),
        "source": str(source),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
