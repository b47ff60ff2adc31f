"""evaluate_feed end to end: scratch database, real worker, get_feed; and the command's errors."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.feeds import MovieFeed
from catalog.models import Genre, Movie
from dnf_core.encoders import HashingEncoder
from dnf_core.evaluation import read_dataset, summarize, temporal_split
from dnf_django.evaluation import evaluate_feed

pytestmark = pytest.mark.services

TOPICS = ("space ships", "love story", "western horse", "heist bank", "zombie horror")
HASHING = ("dnf_core.encoders.HashingEncoder", "hashing-384")


def write_dataset(folder: Path) -> tuple[Path, Path]:
    """40 items in 5 topics (each with a word of its own), 14 users with a favourite topic."""
    rng = random.Random(7)
    items = ["id,title,genres__name,tags__name,timestamp"]
    for n in range(40):
        # One date for all: freshness is the same for every item.
        items.append(f"m{n},{TOPICS[n % 5]} word{n},drama,,1700000000")
    likes = ["user,item,timestamp,rating"]
    for user in range(14):
        favourite = [f"m{n}" for n in range(40) if n % 5 == user % 5]
        other = [f"m{n}" for n in range(40) if n % 5 != user % 5]
        chosen = rng.sample(favourite, 6) + rng.sample(other, 6)
        rng.shuffle(chosen)
        for t, item in enumerate(chosen):
            likes.append(f"u{user},{item},{1000 + t * 10 + user},{rng.choice([3, 4, 5])}")
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    (folder / "likes.csv").write_text("\n".join(likes) + "\n")
    return folder / "items.csv", folder / "likes.csv"


def direct_rankings(
    items: list[str], texts: dict[str, str], train: dict[str, list[str]], test: list[str], k: int
) -> dict[str, list[str]]:
    """The feed's score by hand: 0.6 cos(mean of the last window likes, item) + 0.2 log
    popularity (freshness is one constant here), training likes left out, ties by item
    order."""
    window = MovieFeed.get_spec().window
    vectors = np.array([HashingEncoder.text_to_vector(texts[i], "hashing-384") for i in items])
    counts = Counter(i for liked in train.values() for i in liked)
    pop = np.array([math.log1p(counts[i]) / math.log1p(max(counts.values())) for i in items])
    out = {}
    for user in test:
        profile = vectors[[items.index(i) for i in train[user][-window:]]].mean(axis=0)
        scores = 0.6 * vectors @ (profile / np.linalg.norm(profile)) + 0.2 * pop
        ranked = [items[i] for i in np.argsort(-scores, kind="stable")]
        out[user] = [i for i in ranked if i not in train[user]][:k]
    return out


def test_a_feed_evaluated_through_the_pipeline_matches_a_direct_computation(
    database_url: str, redis_url: str, tmp_path: Path, upstream_weights: None
) -> None:
    items_csv, likes_csv = write_dataset(tmp_path)
    dataset = read_dataset(items_csv, likes_csv, MovieFeed.text_fields or (), min_rating=4)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database")
        (databases_before,) = cur.fetchone()

    report = evaluate_feed(
        MovieFeed, dataset, k=5, recall_k=10, encoder=HASHING, progress=False, timeout=300
    )

    # The same split and the same score, computed here without the pipeline.
    split = temporal_split(dataset.likes)
    keys = [item.key for item in dataset.items]
    texts = {
        item.key: f"{item.texts['title']} {item.texts['genres__name']}" for item in dataset.items
    }
    expected_feed = direct_rankings(keys, texts, split.train, split.evaluated, 10)
    counts = split.item_counts()
    popular = sorted(keys, key=lambda i: -counts[i])  # stable: ties keep item order
    expected_popularity = {
        u: [i for i in popular if i not in split.train[u]][:10] for u in split.evaluated
    }
    options = {"warm": set(counts), "catalogue_size": 40, "k": 5, "recall_k": 10}
    for name, rankings in (
        ("movies (feed)", expected_feed),
        ("upstream formula", expected_feed),
        ("popularity", expected_popularity),
    ):
        assert report.rows[name] == summarize(rankings, split.test, **options), name
    assert report.rows["movies (feed)"].users == len(split.evaluated) > 0
    assert report.protocol["held_out_likes"] == sum(map(len, split.test.values()))
    assert report.protocol["items_without_vector"] == 0
    # The topics are learnable: the feed beats random.
    assert report.rows["movies (feed)"].ndcg > report.rows["random"].ndcg
    # Nothing was written to the test's database, and the scratch database is gone.
    assert not Movie.objects.exists()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database")
        assert cur.fetchone() == (databases_before,)


def test_the_command_evaluates_the_feeds_own_tables(
    clean_pipeline: str, redis_url: str, tmp_path: Path
) -> None:
    from django.contrib.auth.models import User

    items_csv, likes_csv = write_dataset(tmp_path)
    dataset = read_dataset(items_csv, likes_csv, MovieFeed.text_fields or ())
    movies = {i.key: Movie.objects.create(title=i.texts["title"]) for i in dataset.items}
    # The text reads genres through the many-to-many table: the scratch copy needs them.
    for item in dataset.items:
        genre = Genre.objects.get_or_create(name=item.texts["genres__name"])[0]
        movies[item.key].genres.add(genre)
    users = {
        u: User.objects.create(username=u) for u in dict.fromkeys(u for u, _, _ in dataset.likes)
    }
    through = Movie.likes.through
    ordered = sorted(dataset.likes, key=lambda like: like[2])  # ids follow time
    through.objects.bulk_create(through(user=users[u], movie=movies[i]) for u, i, _ in ordered)
    likes_before = through.objects.count()
    out = tmp_path / "report.json"

    encoder = ":".join(HASHING)
    call_command(
        "dnf_evaluate",
        "--feed",
        "movies",
        "--k",
        "5",
        "--json",
        str(out),
        "--no-progress",
        "--encoder",
        encoder,
    )

    report = json.loads(out.read_text())
    split = temporal_split([(u, i, t) for u, i, t in ordered])
    assert report["protocol"]["evaluated_users"] == len(split.evaluated)
    assert report["protocol"]["train_likes"] == likes_before - report["protocol"]["held_out_likes"]
    assert set(report["rankers"]) == {"movies (feed)", "random", "popularity", "upstream formula"}
    # Source data untouched: no embedding written, no like removed.
    assert through.objects.count() == likes_before
    assert not Movie.objects.filter(embedding__isnull=False).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feed", "nope"], "unknown feed 'nope'"),
        (["--feed", "catalog.models.Movie"], "not a BaseNeuralFeed"),
        (["--feed", "movies", "--k", "0"], "--k must be at least 1"),
        (["--feed", "movies", "--recall-k", "-3"], "--recall-k must be at least 1"),
        (["--feed", "movies", "--items", "x.csv"], "go together"),
        (
            ["--feed", "movies", "--items", "/nonexistent/i.csv", "--interactions", "l.csv"],
            "no such file",
        ),
        (["--feed", "movies", "--min-rating", "4"], "files only"),
        (["--feed", "movies", "--encoder", "x"], "CLASS:MODEL"),
    ],
)
def test_bad_command_input_gets_a_clear_error(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("dnf_evaluate", *args)
