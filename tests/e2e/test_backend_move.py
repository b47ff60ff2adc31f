"""A feed embedded with torch, after ENCODER_BACKEND becomes onnx-int8: nothing is
re-embedded until ``dnf_reembed`` asks, which re-embeds in place while it serves."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.checks import check_installed
from dnf_django.models import EmbeddingModel
from dnf_django.registry import installed_specs
from tests.conftest import wait_until
from workers.database import connect
from workers.reembed import in_place_progress
from workers.spawn import stop_worker

pytestmark = [pytest.mark.e2e, pytest.mark.services]

ST = "dnf_core.encoders.SentenceTransformerEncoder"
TORCH_ID = f"{ST}:all-MiniLM-L6-v2:384"
INT8_ID = f"{ST}[onnx-int8]:all-MiniLM-L6-v2:384"
TOPICS = ["space opera", "cooking show", "jazz concert", "war drama", "romantic comedy"]


def install(backend: str) -> dict[str, Any]:
    """Install the movies feed as declaring ``backend`` (as its migration would);
    the previous registry spec."""
    with connection.cursor() as cur:
        cur.execute("SELECT spec FROM dnf_feed WHERE feed_id = 'movies'")
        (previous,) = cur.fetchone()
        previous = json.loads(previous) if isinstance(previous, str) else dict(previous)
        spec = previous | {
            "encoder": ST,
            "model_name": "all-MiniLM-L6-v2",
            "encoder_backend": backend,
        }
        cur.execute(
            "UPDATE dnf_feed SET spec = %s::jsonb WHERE feed_id = 'movies'", [json.dumps(spec)]
        )
    return previous


@pytest.fixture
def torch_feed(clean_pipeline: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The movies feed declared and installed on torch, nothing embedded yet."""
    monkeypatch.setattr(MovieFeed, "encoder_backend", "torch")
    previous = install("torch")
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_embedding_model")
    yield clean_pipeline
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE dnf_feed SET spec = %s::jsonb WHERE feed_id = 'movies'", [json.dumps(previous)]
        )


def vectors() -> dict[int, np.ndarray]:
    return {m.pk: np.asarray(m.embedding) for m in Movie.objects.order_by("pk")}


def embedded_by(database_url: str, backend: str) -> int:
    """How many movies hold a vector ``backend`` made from their current text."""
    spec = replace(installed_specs("default")["movies"], encoder_backend=backend)
    with connect(database_url) as conn:
        return in_place_progress(conn, spec).done


def messages(code: str) -> list[Any]:
    return [m for m in check_installed(databases=["default"]) if m.id == code]


def test_a_torch_feed_stays_on_torch_until_dnf_reembed_moves_it(
    torch_feed: str, start_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = start_worker()
    movies = Movie.objects.bulk_create(
        Movie(title=f"{topic} number {i}") for i, topic in enumerate(TOPICS * 3)
    )
    wait_until(
        lambda: not Movie.objects.filter(embedding__isnull=True).exists(), what="all embedded"
    )
    assert EmbeddingModel.objects.get(feed_id="movies").identity == TORCH_ID
    assert embedded_by(torch_feed, "torch") == len(movies)
    old = vectors()

    # ENCODER_BACKEND is now onnx-int8 (the default of a newer neural-feed), migrated.
    monkeypatch.setattr(MovieFeed, "encoder_backend", "onnx-int8")
    install("onnx-int8")
    stop_worker(worker, timeout=30)
    start_worker()
    (warning,) = messages("dnf_django.W010")
    assert "embedded with the torch backend" in warning.msg and "'onnx-int8'" in warning.msg
    assert "dnf_reembed --feed movies" in warning.hint
    assert not messages("dnf_django.W007")

    # A new item is embedded with torch, the backend the feed serves; nothing else moves.
    added = Movie.objects.create(title="a jazz concert added after the upgrade")
    wait_until(lambda: Movie.objects.get(pk=added.pk).embedding is not None, what="the new item")
    assert embedded_by(torch_feed, "torch") == len(movies) + 1
    assert EmbeddingModel.objects.get(feed_id="movies").identity == TORCH_ID
    now = vectors()
    assert all(np.array_equal(old[pk], now[pk]) for pk in old)

    out = io.StringIO()
    call_command("dnf_reembed", "--feed", "movies", "--poll", "0.2", stdout=out)
    assert "moving from the torch backend to onnx-int8" in out.getvalue()
    assert "now serve" in out.getvalue()
    assert EmbeddingModel.objects.get(feed_id="movies").identity == INT8_ID
    assert embedded_by(torch_feed, "onnx-int8") == len(movies) + 1
    moved = vectors()
    for pk, vector in now.items():
        cosine = vector @ moved[pk] / (np.linalg.norm(vector) * np.linalg.norm(moved[pk]))
        assert cosine >= 0.99
        assert not np.array_equal(vector, moved[pk])
    assert not messages("dnf_django.W010")

    out = io.StringIO()
    call_command("dnf_reembed", "--feed", "movies", stdout=out)
    assert f"already serves vectors of {INT8_ID}" in out.getvalue()
