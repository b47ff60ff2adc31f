"""``Feed.similar`` ("more like this") against the real database and the real SQL.

Embeddings, counts, collaborative vectors and rank vectors (with the workers' own
SQL) are written directly; every answer is checked against a full-scan reference:
each eligible item scored in Python, against the item's own vectors, with the feed's
formula and clock.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.errors import InvalidArgument, InvalidArgumentType, ItemNotFound
from dnf_django.conf import feed_setting
from dnf_django.models import FeedItemStat, ItemFactor
from workers.actors.rank import write_ranks

pytestmark = pytest.mark.services

DIMENSION = 384


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    x = rng.normal(size=size)
    return x / np.linalg.norm(x)


def make_catalog(
    count: int, seed: int, *, now: datetime, embedded: float = 1.0, factored: float = 0.7
) -> list[Movie]:
    """``count`` movies in a few topics (so some are alike), about ``embedded`` of
    them embedded, ``factored`` with a collaborative vector, a third counted."""
    rng = np.random.default_rng(seed)
    topics = [_unit(rng, DIMENSION) for _ in range(3)]
    movies = [
        Movie(title=f"movie {i}", published_at=now - timedelta(hours=float(rng.uniform(-5, 300))))
        for i in range(count)
    ]
    for i, movie in enumerate(movies):
        if rng.random() < embedded:
            mixed = topics[i % 3] + 0.8 * _unit(rng, DIMENSION)
            movie.embedding = mixed / np.linalg.norm(mixed)
    Movie.objects.bulk_create(movies)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(
            feed_id="movies",
            item_key=str(m.pk),
            interactions=int(rng.integers(1, 50)),
            updated_at=now,
        )
        for m in movies[::3]
    )
    dimension = MovieFeed.get_spec().collaborative_dimension
    ItemFactor.objects.bulk_create(
        ItemFactor(
            feed_id="movies",
            item_key=str(m.pk),
            factor=list(_unit(rng, dimension) * float(rng.uniform(0.2, 1.0))),
        )
        for m in movies
        if rng.random() < factored
    )
    write_ranks(
        connection.connection,
        MovieFeed.get_spec(),
        [str(pk) for pk in Movie.objects.values_list("pk", flat=True)],
    )
    return movies


def reference(items: QuerySet[Movie], source: Movie, now: datetime) -> dict[Any, float]:
    """The exact score of every item in ``items`` against ``source``: a full scan."""
    weights = {
        name: float(MovieFeed.get_setting(f"weight_{name}"))
        for name in ("similarity", "collaborative", "freshness", "popularity")
    }
    half_life_s = float(feed_setting("FRESHNESS_HALF_LIFE_HOURS")) * 3600.0
    factors = {
        f.item_key: np.asarray(f.factor, dtype=np.float64)
        for f in ItemFactor.objects.filter(feed_id="movies")
    }
    counts = dict(
        FeedItemStat.objects.filter(feed_id="movies").values_list("item_key", "interactions")
    )
    largest = max(counts.values(), default=0)
    text = None
    if source.embedding is not None:
        text = np.asarray(source.embedding, dtype=np.float64)
        text /= np.linalg.norm(text)
    colike = factors.get(str(source.pk))
    if colike is not None:
        colike = colike / np.linalg.norm(colike)
    scores = {}
    for movie in items:
        similarity = 0.0
        if text is not None and movie.embedding is not None:
            vector = np.asarray(movie.embedding, dtype=np.float64)
            similarity = float(vector @ text / np.linalg.norm(vector))
        mine = factors.get(str(movie.pk))
        collaborative = float(mine @ colike) if colike is not None and mine is not None else 0.0
        age = max((now - movie.published_at).total_seconds(), 0.0)
        count = counts.get(str(movie.pk), 0)
        scores[movie.pk] = (
            weights["similarity"] * similarity
            + weights["collaborative"] * collaborative
            + weights["freshness"] * math.exp(-math.log(2) * age / half_life_s)
            + weights["popularity"] * (math.log1p(count) / math.log1p(largest) if largest else 0)
        )
    return scores


def assert_ranked(found: list[Movie], scores: dict[Any, float]) -> None:
    """``found`` holds only scored items, each with its exact score, best first."""
    assert {m.pk for m in found} <= set(scores)
    for movie in found:
        assert movie.score == pytest.approx(scores[movie.pk], abs=1e-5)
    ordered = [m.score for m in found]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(ordered))


# The property: random catalogues, weights, pool sizes, filters, exclusions and items
# with or without each vector.
CASES = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**16),
        "count": st.integers(2, 60),
        "source": st.integers(0, 59),
        "limit": st.integers(1, 25),
        # Pools far below the catalogue (the covering pool must fill the answer) or
        # above it (then the answer is the exact top).
        "pool": st.sampled_from([2, 200]),
        "weights": st.tuples(
            st.sampled_from([0.0, 0.2, 0.6]),
            st.sampled_from([0.0, 0.3, 0.6]),
            st.sampled_from([0.0, 0.1, 0.2]),
            st.sampled_from([0.0, 0.1, 0.2]),
        ),
        "kept": st.sampled_from([None, 0, 1, 2]),  # a filter: every third movie, or none
        "excluded": st.sets(st.integers(0, 59), max_size=10),
        "embedded": st.sampled_from([0.7, 1.0]),
        "factored": st.sampled_from([0.0, 0.6, 1.0]),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=CASES)
def test_similar_is_the_top_of_a_full_scan(case: dict[str, Any]) -> None:
    pool = case["pool"]
    w_s, w_c, w_f, w_p = case["weights"]
    with (
        transaction.atomic(),
        override_settings(
            DJANGO_NEURAL_FEED={
                **django_settings.DJANGO_NEURAL_FEED,
                "WEIGHT_SIMILARITY": w_s,
                "WEIGHT_COLLABORATIVE": w_c,
                "WEIGHT_FRESHNESS": w_f,
                "WEIGHT_POPULARITY": w_p,
                "CANDIDATES_SIMILARITY": pool,
                "CANDIDATES_COLLABORATIVE": pool,
                "CANDIDATES_FRESHNESS": pool,
                "CANDIDATES_POPULARITY": pool,
            }
        ),
    ):
        now = timezone.now()
        movies = make_catalog(
            case["count"],
            case["seed"],
            now=now,
            embedded=case["embedded"],
            factored=case["factored"],
        )
        source = movies[case["source"] % len(movies)]
        source.refresh_from_db()
        kept = case["kept"]
        chosen = Movie.objects.all()
        if kept is not None:
            chosen = chosen.filter(pk__in=[m.pk for m in movies[kept::3]])
        excluded = [movies[i].pk for i in case["excluded"] if i < len(movies)]
        eligible = chosen.exclude(pk__in=[*excluded, source.pk])
        limit = case["limit"]

        found = list(
            MovieFeed.similar(source, queryset=chosen, excluded_ids=excluded, limit=limit, now=now)
        )

        has_factor = ItemFactor.objects.filter(item_key=str(source.pk)).exists()
        if source.embedding is None and not has_factor:
            assert found == []  # nothing to be like: not padded with fresh or popular items
        else:
            scores = reference(eligible, source, now)
            assert len(found) == min(limit, len(scores))
            assert_ranked(found, scores)
            # Pools that hold the whole catalogue give the exact top. (Unembedded items
            # come only through the freshest and popular pools, which then shrink to
            # the limit, as they do for a user with a profile.)
            text_search = source.embedding is not None and w_s != 0
            if pool >= case["count"] and (case["embedded"] == 1.0 or not text_search):
                rest = [scores[pk] for pk in set(scores) - {m.pk for m in found}]
                lowest = min((m.score for m in found), default=math.inf)
                assert lowest >= max(rest, default=-math.inf) - 1e-5
            # Every object explains itself against the item it is like.
            for movie in found[:1]:
                explained = MovieFeed.explain(None, movie)
                assert explained.similar_to == source.pk
                assert explained.score == pytest.approx(movie.score, abs=1e-9)
        transaction.set_rollback(True)


@pytest.fixture
def catalogue(db: None) -> list[Movie]:
    movies = make_catalog(30, seed=3, now=timezone.now(), embedded=1.0, factored=0.8)
    for movie in movies:
        movie.refresh_from_db()
    return movies


def test_one_lazy_query_that_leaves_the_item_out(catalogue: list[Movie]) -> None:
    source = catalogue[0]
    with CaptureQueriesContext(connection) as queries:
        result = MovieFeed.similar(source, limit=5)
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        found = list(result)
    assert len(queries) == 1
    assert len(found) == 5 and source.pk not in {m.pk for m in found}
    # A key, or its text, is the same item.
    assert [m.pk for m in MovieFeed.similar(source.pk, limit=5)] == [m.pk for m in found]
    assert [m.pk for m in MovieFeed.similar(str(source.pk), limit=5)] == [m.pk for m in found]
    assert isinstance(result, QuerySet)
    assert all(m.dnf_similar_to == source.pk for m in found)


def test_similar_items_are_alike_in_text(catalogue: list[Movie], settings: Any) -> None:
    settings.DJANGO_NEURAL_FEED = {
        **settings.DJANGO_NEURAL_FEED,
        "WEIGHT_SIMILARITY": 1.0,
        "WEIGHT_COLLABORATIVE": 0.0,
        "WEIGHT_FRESHNESS": 0.0,
        "WEIGHT_POPULARITY": 0.0,
    }
    source = catalogue[4]  # topic 1: movies 1, 4, 7, ...
    found = list(MovieFeed.similar(source, limit=9))
    assert {int(m.title.split()[1]) % 3 for m in found} == {1}
    assert all(m.similarity == pytest.approx(m.score) for m in found)


def test_explain_takes_apart_what_similar_returns(catalogue: list[Movie]) -> None:
    user = User.objects.create(username="someone")
    top = next(iter(MovieFeed.similar(catalogue[2], limit=3)))
    with CaptureQueriesContext(connection) as queries:
        explained = MovieFeed.explain(user, top)
    # The signals are to the item, not to the user: nothing to read.
    assert len(queries) == 0
    assert explained.similar_to == catalogue[2].pk and explained.has_profile
    assert explained.score == pytest.approx(top.score)
    assert sum(explained.contributions.values()) == pytest.approx(top.score)
    assert f"(like item {catalogue[2].pk})" in str(explained)


def test_an_item_without_vectors_has_nothing_like_it(catalogue: list[Movie]) -> None:
    fresh = Movie.objects.create(title="just created")
    with CaptureQueriesContext(connection) as queries:
        assert list(MovieFeed.similar(fresh)) == []
    # The answer, then the lookup that tells "no match" from "no such item".
    assert len(queries) == 2
    # Once its collaborative vector exists, co-likes alone make it like others.
    ItemFactor.objects.create(
        feed_id="movies",
        item_key=str(fresh.pk),
        factor=list(ItemFactor.objects.filter(feed_id="movies").first().factor),  # type: ignore[union-attr]
    )
    assert len(list(MovieFeed.similar(fresh))) == 10


def test_a_key_no_item_has_is_an_error_when_evaluated(catalogue: list[Movie]) -> None:
    missing = max(m.pk for m in catalogue) + 1000
    result = MovieFeed.similar(missing)
    with pytest.raises(ItemNotFound, match=f"Movie with key {missing} does not exist"):
        list(result)
    with pytest.raises(Movie.DoesNotExist):  # type: ignore[attr-defined]
        list(MovieFeed.similar(missing))
    with pytest.raises(ItemNotFound):
        async_to_sync(MovieFeed.asimilar)(missing)


def test_filters_and_exclusions_are_honoured(catalogue: list[Movie]) -> None:
    source = catalogue[0]
    evens = Movie.objects.filter(pk__in=[m.pk for m in catalogue[::2]])
    found = list(MovieFeed.similar(source, queryset=evens, limit=30))
    assert {m.pk for m in found} == {m.pk for m in catalogue[2::2]}
    excluded = [m.pk for m in found[:3]]
    rest = list(MovieFeed.similar(source, queryset=evens, excluded_ids=excluded, limit=30))
    assert [m.pk for m in rest] == [m.pk for m in found[3:]]
    others = list(MovieFeed.similar(source, excluded_queryset=evens, limit=30, now=timezone.now()))
    assert {m.pk for m in others} == {m.pk for m in catalogue[1::2]}


def test_bad_arguments_are_refused_by_name(catalogue: list[Movie]) -> None:
    user = User.objects.create(username="not-a-movie")
    with pytest.raises(InvalidArgumentType, match=r"item is an instance of auth\.User"):
        MovieFeed.similar(user)
    with pytest.raises(InvalidArgument, match=r"cannot be a key of catalog\.Movie"):
        MovieFeed.similar("not a key")
    with pytest.raises(InvalidArgument, match="unsaved"):
        MovieFeed.similar(Movie(title="unsaved"))
    with pytest.raises(InvalidArgument, match=r"queryset is a QuerySet of auth\.User"):
        MovieFeed.similar(catalogue[0], queryset=User.objects.all())
    with pytest.raises(InvalidArgumentType, match="queryset must be a QuerySet"):
        MovieFeed.similar(catalogue[0], queryset=[1, 2])  # type: ignore[arg-type]
    for limit in (0, 1001, 2.5, True):
        with pytest.raises(InvalidArgument, match="limit"):
            MovieFeed.similar(catalogue[0], limit=limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match="excluded_ids"):
        MovieFeed.similar(catalogue[0], excluded_ids=5)


@pytest.mark.django_db(transaction=True)
def test_async_views_get_a_list(django_db_setup: None) -> None:
    movies = make_catalog(12, seed=5, now=timezone.now())
    found = async_to_sync(MovieFeed.asimilar)(movies[0].pk, limit=4)
    assert [m.pk for m in found] == [m.pk for m in MovieFeed.similar(movies[0], limit=4)]
    assert len(found) == 4


def test_the_exact_freshness_and_popularity_pool_runs_for_an_item(db: None, settings: Any) -> None:
    # Text tells no item apart (one embedding for all) and only the freshest and the
    # most popular item come through their own pools: the best of freshness and
    # popularity together comes only through the exact pool, which a user's feed
    # skips once there is a profile but similar() keeps (its item's similarities are
    # flatter than a user's, so those signals weigh more in its top).
    settings.DJANGO_NEURAL_FEED = {
        **settings.DJANGO_NEURAL_FEED,
        "WEIGHT_SIMILARITY": 0.1,
        "WEIGHT_COLLABORATIVE": 0.0,
        "WEIGHT_FRESHNESS": 0.5,
        "WEIGHT_POPULARITY": 0.5,
        "CANDIDATES_SIMILARITY": 0,
        "CANDIDATES_COLLABORATIVE": 0,
        "CANDIDATES_FRESHNESS": 1,
        "CANDIDATES_POPULARITY": 1,
    }
    now = timezone.now()
    half_life = timedelta(hours=float(feed_setting("FRESHNESS_HALF_LIFE_HOURS")))
    same = _unit(np.random.default_rng(1), DIMENSION)
    ages_and_counts = {
        "source": (40, 0),
        "freshest": (0, 0),
        "popular": (40, 100),
        "both": (0.3, 60),
    }
    movies = {}
    for name, (half_lives, count) in ages_and_counts.items():
        movies[name] = Movie.objects.create(
            title=name, published_at=now - half_life * half_lives, embedding=same
        )
        if count:
            FeedItemStat.objects.create(
                feed_id="movies", item_key=str(movies[name].pk), interactions=count, updated_at=now
            )
    write_ranks(connection.connection, MovieFeed.get_spec(), [str(m.pk) for m in movies.values()])
    scores = reference(Movie.objects.exclude(pk=movies["source"].pk), movies["source"], now)
    assert max(scores, key=scores.__getitem__) == movies["both"].pk
    found = list(MovieFeed.similar(movies["source"], limit=1, now=now))
    assert [m.pk for m in found] == [movies["both"].pk]


def test_diversity_re_ranks_similar_items_too(catalogue: list[Movie], settings: Any) -> None:
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "DIVERSITY": 0.5}
    source = catalogue[0]
    found = list(MovieFeed.similar(source, limit=6))
    assert len(found) == 6 and source.pk not in {m.pk for m in found}
    # The re-rank keeps the best item first and picks the rest from the fetched top.
    best = next(iter(MovieFeed.similar(source, limit=24)))
    assert found[0].pk == best.pk
    assert all(MovieFeed.explain(None, m).similar_to == source.pk for m in found)
