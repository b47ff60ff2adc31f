"""Accuracy of the encoder backends against fp32 torch, on MovieLens.

Two measurements, for each ENCODER_BACKEND (torch, onnx, onnx-int8), in one run:

- cosine: every movie of the example project's MovieLens copy, its text built as the
  feed builds it (``bench.ingest``), embedded by the backend in this process in calls
  of ``BatchLimits.encode_batch`` texts as a worker calls it; each vector's cosine to
  the torch (fp32) vector of the same text: the minimum, mean and 1st percentile,
  and how many fall below the bound (onnx >= 0.9999, onnx-int8 >= 0.99).
- ranking: ``bench.quality``'s protocol (``dnf_evaluate`` on MovieLens
  ml-latest-small, the real pipeline and worker) once per backend
  (``evaluate_feed(..., backend=...)``): NDCG@10 and HR@10, and each backend's
  NDCG@10 difference to torch's (bound: 0.002).

``DNF_BENCH_QUICK=1`` takes every 8th text and 100 users, for trying the code.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.backends import BACKENDS, encoder_class
from bench.quality import movielens_dataset, movielens_source
from bench.scratch import scratch_database, server_url, setup_example_project
from dnf_core.events import BatchLimits

DB = "dnf_bench_accuracy"
MODEL_NAME = "all-MiniLM-L6-v2"
COSINE_BOUNDS = {"onnx": 0.9999, "onnx-int8": 0.99}
NDCG_BOUND = 0.002


def run() -> dict[str, Any]:
    quick = os.environ.get("DNF_BENCH_QUICK") == "1"
    source = movielens_source()
    started = time.perf_counter()
    with (
        scratch_database(server_url(), DB),
        tempfile.TemporaryDirectory(prefix="dnf-accuracy-") as folder,
    ):
        setup_example_project(DB)
        texts = _texts()[:: 8 if quick else 1]
        cosine = _cosines(texts)
        ranking = _rankings(source, Path(folder), users=100 if quick else None)
    torch_ndcg = ranking["torch"]["ndcg_at_10"]
    for row in ranking.values():
        row["ndcg_difference_to_torch"] = row["ndcg_at_10"] - torch_ndcg
    bounds_met = {
        backend: cosine[backend]["min_cosine"] >= COSINE_BOUNDS[backend]
        and abs(ranking[backend]["ndcg_difference_to_torch"]) <= NDCG_BOUND
        for backend in COSINE_BOUNDS
    }
    return {
        "texts": len(texts),
        "min_cosine": {b: c["min_cosine"] for b, c in cosine.items()},
        "mean_cosine": {b: c["mean_cosine"] for b, c in cosine.items()},
        "ndcg_at_10": {b: r["ndcg_at_10"] for b, r in ranking.items()},
        "ndcg_difference_to_torch": {b: r["ndcg_difference_to_torch"] for b, r in ranking.items()},
        "bounds": {"min_cosine": COSINE_BOUNDS, "ndcg_difference": NDCG_BOUND},
        "bounds_met": bounds_met,
        "cosine": cosine,
        "ranking": ranking,
        "source": str(source),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def _texts() -> list[str]:
    from bench.ingest import _text
    from catalog.management.commands.demo import read_movies

    return [_text(movie) for movie in read_movies()]


def _embed(backend: str, texts: list[str]) -> np.ndarray[Any, Any]:
    encoder = encoder_class(backend)
    batch = BatchLimits().encode_batch
    calls = range(0, len(texts), batch)
    return np.concatenate([encoder.encode_batch(texts[i : i + batch], MODEL_NAME) for i in calls])


def _cosines(texts: list[str]) -> dict[str, dict[str, Any]]:
    print(f"-- embedding {len(texts)} texts with torch", file=sys.stderr, flush=True)
    reference = _embed("torch", texts)
    result: dict[str, dict[str, Any]] = {}
    for backend in BACKENDS:
        if backend == "torch":
            continue
        print(f"-- embedding {len(texts)} texts with {backend}", file=sys.stderr, flush=True)
        vectors = _embed(backend, texts)
        cos = (vectors * reference).sum(axis=1) / (
            np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1)
        )
        worst = np.argsort(cos)[:3]
        result[backend] = {
            "min_cosine": float(cos.min()),
            "mean_cosine": float(cos.mean()),
            "p01_cosine": float(np.percentile(cos, 1)),
            "below_bound": int((cos < COSINE_BOUNDS[backend]).sum()),
            "worst": [{"text": texts[i], "cosine": float(cos[i])} for i in worst],
        }
    return result


def _rankings(source: Path, folder: Path, users: int | None) -> dict[str, dict[str, Any]]:
    from catalog.feeds import MovieFeed
    from dnf_django.evaluation import evaluate_feed

    dataset = movielens_dataset(source, folder)
    rows: dict[str, dict[str, Any]] = {}
    for backend in BACKENDS:
        print(f"-- dnf_evaluate on {backend}", file=sys.stderr, flush=True)
        report = evaluate_feed(
            MovieFeed, dataset, k=10, recall_k=20, users=users, backend=backend, progress=False
        )
        feed = report.rows[f"{MovieFeed.feed_id} (feed)"]
        rows[backend] = {
            "ndcg_at_10": feed.ndcg,
            "hr_at_10": feed.hit_rate,
            "recall_at_20": feed.recall,
            "protocol": report.as_dict().get("protocol"),
        }
    return rows
