"""get_feed against the real database, with profiles and counts written directly."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Case, Count, FloatField, Value, When
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, ItemFactor, UserFeedProfile
from workers.actors.rank import write_ranks

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("upstream_weights")]


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


def write_movie_ranks(movies: Any) -> None:
    """What the workers do once items are embedded and counted: their rank vectors,
    with the workers' own SQL, in the test's transaction."""
    write_ranks(connection.connection, MovieFeed.get_spec(), [str(m.pk) for m in movies])


@pytest.fixture
def catalog(db: None) -> dict[str, Movie]:
    now = timezone.now()
    movies = {
        "space": Movie(title="space", published_at=now - timedelta(days=30)),
        "space2": Movie(title="space ships", published_at=now - timedelta(days=30)),
        "love": Movie(title="love", published_at=now),
        "old": Movie(title="old", published_at=now - timedelta(days=300)),
    }
    for name, movie in movies.items():
        movie.embedding = vector(movie.title if name != "old" else "archive")
    Movie.objects.bulk_create(movies.values())
    for name, interactions in (("old", 50), ("love", 100)):
        FeedItemStat.objects.create(
            feed_id="movies",
            item_key=str(movies[name].pk),
            interactions=interactions,
            updated_at=now,
        )
    write_movie_ranks(movies.values())
    return movies


def with_profile(text: str) -> User:
    user = User.objects.create(username=f"user-{text}")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector(text), updated_at=timezone.now()
    )
    return user


def test_items_rank_by_similarity_to_the_profile(catalog: dict[str, Movie]) -> None:
    user = with_profile("space ships")
    feed = list(MovieFeed.get_feed(user, limit=4))
    assert feed[0] == catalog["space2"]
    assert feed[1] == catalog["space"]
    top = feed[0]
    assert top.similarity == pytest.approx(1.0, abs=1e-5)
    expected = 0.6 * top.similarity + 0.2 * top.freshness + 0.2 * top.popularity
    assert top.score == pytest.approx(expected)
    assert all(0.0 <= m.freshness <= 1.0 and 0.0 <= m.popularity <= 1.0 for m in feed)


def test_users_without_profile_get_freshness_and_popularity(catalog: dict[str, Movie]) -> None:
    for user in (AnonymousUser(), User.objects.create(username="new")):
        feed = list(MovieFeed.get_feed(user, limit=4))
        assert {m.similarity for m in feed} == {0.0}
        assert feed[0] == catalog["love"]  # brand new and the most popular
        assert feed[0].popularity == pytest.approx(1.0)
        old = next(m for m in feed if m == catalog["old"])
        assert old.popularity == pytest.approx(
            math.log(51) / math.log(101)
        )  # log-scaled to the top


def test_filters_and_exclusions_are_honoured(catalog: dict[str, Movie]) -> None:
    user = with_profile("space ships")
    feed = MovieFeed.get_feed(
        user,
        queryset=Movie.objects.exclude(title="love"),
        excluded_ids=[catalog["space2"].pk],
        excluded_queryset=Movie.objects.filter(title="old"),
    )
    assert list(feed) == [catalog["space"]]


def test_feed_is_lazy_and_costs_one_query(catalog: dict[str, Movie]) -> None:
    user = with_profile("love")
    with CaptureQueriesContext(connection) as captured:
        feed = MovieFeed.get_feed(user)
        assert len(captured) == 0
        assert len(list(feed)) == 4
        list(feed)  # evaluated once, then cached
    # The one query reads the profile and sets the search settings itself.
    (query,) = (q["sql"] for q in captured)
    assert "dnf_user_profile" in query and "hnsw.ef_search" in query


def test_bad_limit_is_refused(catalog: dict[str, Movie]) -> None:
    with pytest.raises(ValueError, match="limit"):
        MovieFeed.get_feed(None, limit=0)


def exact_ranking(
    users_profile: np.ndarray | None, movies: list[Movie], now: Any, stats: dict[int, int]
) -> list[int]:
    """The hybrid ranking over ALL items, in numpy: what the two stages approximate."""
    top = max(stats.values(), default=0)
    scored = []
    for movie in movies:
        vector = np.asarray(movie.embedding, dtype=np.float64)
        similarity = (
            0.0
            if users_profile is None
            else float(
                vector @ users_profile / np.linalg.norm(vector) / np.linalg.norm(users_profile)
            )
        )
        age_h = max((now - movie.published_at).total_seconds(), 0) / 3600
        freshness = math.exp(-math.log(2) * age_h / 72)
        popularity = math.log1p(stats.get(movie.pk, 0)) / math.log1p(top) if top else 0.0
        scored.append((-(0.6 * similarity + 0.2 * freshness + 0.2 * popularity), movie.pk))
    return [pk for _, pk in sorted(scored)]


@pytest.mark.parametrize(
    ("force_index", "rank_search_only"), [(False, False), (True, False), (True, True)]
)
def test_two_stages_find_what_a_full_scan_finds_even_under_filters(
    db: None, force_index: bool, rank_search_only: bool, settings: Any
) -> None:
    if rank_search_only:
        # Without the freshest and most popular pools, the rank vectors alone must
        # find the hybrid top 20, for users with a profile and anonymous ones alike.
        settings.DJANGO_NEURAL_FEED = {
            **settings.DJANGO_NEURAL_FEED,
            "CANDIDATES_FRESHNESS": 0,
            "CANDIDATES_POPULARITY": 0,
        }
    if force_index:
        # A table this small would be scanned; make the planner walk the HNSW index, as
        # it does at scale, so iterative scan under filters is what gets tested.
        with connection.cursor() as cur:
            cur.execute("SET enable_seqscan = off")
            cur.execute("SET enable_sort = off")
    rng = random.Random(7)
    words = ["space", "ship", "alien", "love", "war", "paris", "robot", "ocean", "crime", "jazz"]
    now = timezone.now()
    # Half the movies carry a MovieLens id: the filter the feed must honour.
    movies = [
        Movie(
            title=" ".join(rng.sample(words, 3)),
            movielens_id=i if rng.choice([True, False]) else None,
            published_at=now - timedelta(hours=rng.uniform(0, 24 * 30)),
        )
        for i in range(600)
    ]
    for movie in movies:
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create(movies)
    with connection.cursor() as cur:
        cur.execute("ANALYZE catalog_movie")  # row estimates, as autovacuum would give
    stats = {m.pk: rng.randint(1, 200) for m in rng.sample(movies, 100)}
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id="movies", item_key=str(pk), interactions=n, updated_at=now)
        for pk, n in stats.items()
    )
    write_movie_ranks(movies)
    with connection.cursor() as cur:
        # Estimates for this table, not those an earlier test's rolled-back rows left.
        cur.execute("ANALYZE dnf_item_rank")
    recalls = []
    for i in range(10):
        user = with_profile(" ".join(rng.sample(words, 2)) + f" {i}")
        profile = np.asarray(UserFeedProfile.objects.get(user=user).embedding, dtype=np.float64)
        for queryset in (None, Movie.objects.filter(movielens_id__isnull=False)):
            allowed = [m for m in movies if queryset is None or m.movielens_id is not None]
            # A filter that rules out half the nearest items: HNSW must not starve.
            feed = MovieFeed.get_feed(user, queryset=queryset, limit=20, now=now)
            got = [m.pk for m in feed]
            exact = exact_ranking(profile, allowed, now, stats)[:20]
            assert len(got) == 20
            recalls.append(len(set(got) & set(exact)) / 20)
    for queryset in (None, Movie.objects.filter(movielens_id__isnull=False)):
        allowed = [m for m in movies if queryset is None or m.movielens_id is not None]
        feed = MovieFeed.get_feed(AnonymousUser(), queryset=queryset, limit=20, now=now)
        got = [m.pk for m in feed]
        recalls.append(len(set(got) & set(exact_ranking(None, allowed, now, stats)[:20])) / 20)
    assert np.mean(recalls) >= 0.95, recalls
    plan = MovieFeed.get_feed(
        user, queryset=Movie.objects.filter(movielens_id__isnull=False)
    ).explain()
    assert ("dnf_rank_movies" in plan) == force_index, plan


def test_custom_expressions_replace_the_built_in_signals(
    catalog: dict[str, Movie], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Upstream's README style: popularity from a live Count, freshness by hand.
    user = with_profile("space ships")
    for liker in range(3):
        User.objects.create(username=f"liker{liker}").liked_movies.add(catalog["old"])
    monkeypatch.setattr(
        MovieFeed, "popularity_expression", Count("likes", output_field=FloatField()) / 3.0
    )
    monkeypatch.setattr(
        MovieFeed,
        "freshness_expression",
        Case(When(title="old", then=Value(1.0)), default=Value(0.0), output_field=FloatField()),
    )
    feed = {m.title: m for m in MovieFeed.get_feed(user, limit=4)}
    assert feed["old"].popularity == pytest.approx(1.0) and feed["old"].freshness == 1.0
    assert feed["love"].popularity == 0.0 and feed["love"].freshness == 0.0
    old = feed["old"]
    assert old.score == pytest.approx(0.6 * old.similarity + 0.2 + 0.2)


def test_diversity_trades_near_duplicates_for_variety(db: None, settings: Any) -> None:
    now = timezone.now()
    twins = [Movie(title="space ship", published_at=now) for _ in range(8)]
    others = [Movie(title=f"space {word}", published_at=now) for word in ("love", "war", "jazz")]
    for movie in [*twins, *others]:
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create([*twins, *others])
    write_movie_ranks([*twins, *others])
    user = with_profile("space ship")
    plain = list(MovieFeed.get_feed(user, limit=4, now=now))
    assert {m.pk for m in plain} <= {m.pk for m in twins}

    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "DIVERSITY": 0.5}
    varied = list(MovieFeed.get_feed(user, limit=4, now=now))
    assert len(varied) == 4 and varied[0].pk == plain[0].pk
    assert {m.pk for m in varied} & {m.pk for m in others}, "variety must make room"
    assert [m.pk for m in MovieFeed.get_feed(user, limit=4, now=now).iterator()] == [
        m.pk for m in varied
    ]
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "DIVERSITY": 1.0}
    assert [m.pk for m in MovieFeed.get_feed(user, limit=4, now=now)] == [m.pk for m in plain]


@pytest.mark.parametrize("pool", ["rank", "collaborative"])
def test_search_settings_reach_each_index_scan(db: None, settings: Any, pool: str) -> None:
    # Only 15 of 300 items pass the filter. Without iterative scan an HNSW scan yields
    # at most ef_search rows (dead ones from earlier tests among them), with it the
    # scan goes on until the pool is full: how many of the 15 come back shows which
    # settings the scan ran with. The statement itself sets them, one scan at a time.
    rng = np.random.default_rng(3)
    now = timezone.now()
    movies = [
        # One in 20 carries a MovieLens id: the rare items the filter keeps.
        Movie(title=f"movie {i}", movielens_id=i if i % 20 == 0 else None, published_at=now)
        for i in range(300)
    ]
    for movie in movies:
        movie.embedding = rng.normal(size=384)
    Movie.objects.bulk_create(movies)
    write_movie_ranks(movies)
    dimension = MovieFeed.get_spec().collaborative_dimension
    ItemFactor.objects.bulk_create(
        ItemFactor(feed_id="movies", item_key=str(m.pk), factor=rng.normal(size=dimension))
        for m in movies
    )
    user = with_profile("movie")
    UserFeedProfile.objects.filter(user=user).update(collaborative=rng.normal(size=dimension))
    weights = (
        {}
        if pool == "rank"
        else {
            "WEIGHT_SIMILARITY": 0.0,
            "WEIGHT_FRESHNESS": 0.0,
            "WEIGHT_POPULARITY": 0.0,
            "WEIGHT_COLLABORATIVE": 1.0,
        }
    )
    ef_key = "HNSW_EF_SEARCH" if pool == "rank" else "HNSW_EF_SEARCH_COLLABORATIVE"
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_sort = off")

    def found(scan: str, ef_search: int) -> int:
        # The index pools alone: get_feed adds a pool that covers the limit whatever
        # the searches find, which would hide what they found.
        from dnf_django.candidates import candidate_ids_sql
        from dnf_django.query import _pools, _rank_query, user_profile

        settings.DJANGO_NEURAL_FEED = {
            **settings.DJANGO_NEURAL_FEED,
            **weights,
            "CANDIDATES_FRESHNESS": 0,
            "CANDIDATES_POPULARITY": 0,
            "HNSW_ITERATIVE_SCAN": scan,
            ef_key: ef_search,
        }
        rare = Movie.objects.filter(movielens_id__isnull=False)
        spec = MovieFeed.get_spec()
        rank = _rank_query(MovieFeed, user_profile(MovieFeed, spec, user), now)
        pools = dataclasses.replace(_pools(MovieFeed, rank, limit=ef_search), covering=0)
        sql, params = candidate_ids_sql(spec, rare, rank=rank, freshness_order=None, pools=pools)
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM ({sql}) AS pool", params)
            return int(cur.fetchone()[0])

    assert found("off", 10) <= 3
    assert found("relaxed_order", 10) == 15


def test_users_without_a_profile_keep_the_full_freshest_pool(db: None, settings: Any) -> None:
    # For a user with a profile the rank search carries freshness, and the freshest
    # pool shrinks to limit; for one without, a search led by two coordinates follows
    # the graph poorly, and the freshest pool keeps its size. The statement decides.
    from dnf_django.candidates import candidate_ids_sql
    from dnf_django.query import _freshness, _pools, _rank_query, user_profile

    settings.DJANGO_NEURAL_FEED = {
        **settings.DJANGO_NEURAL_FEED,
        "CANDIDATES_SIMILARITY": 1,
        "CANDIDATES_FRESHNESS": 50,
        "CANDIDATES_POPULARITY": 0,
        "CANDIDATES_COLLABORATIVE": 0,
    }
    now = timezone.now()
    movies = [Movie(title=f"m{i}", published_at=now - timedelta(hours=i)) for i in range(60)]
    for movie in movies:
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create(movies)
    write_movie_ranks(movies)
    spec = MovieFeed.get_spec()

    def candidates(user: Any) -> int:
        profile = user_profile(MovieFeed, spec, user)
        rank = _rank_query(MovieFeed, profile, now)
        sql, params = candidate_ids_sql(
            spec,
            Movie.objects.all(),
            rank=rank,
            freshness_order=_freshness(MovieFeed, now)[1],
            pools=_pools(MovieFeed, rank, limit=5),
        )
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM ({sql}) AS pool", params)
            return int(cur.fetchone()[0])

    # The rank pool grows to the limit too (1 -> 5), the freshest shrinks to it.
    assert candidates(with_profile("m1")) <= 10
    assert candidates(User.objects.create(username="no-likes-yet")) >= 50
    assert candidates(AnonymousUser()) >= 50


def test_a_negative_similarity_weight_searches_for_the_least_similar(
    db: None, settings: Any
) -> None:
    # The search scales its query vector by 1/|w_s|; the sign must survive, or a
    # negative weight would search for the most similar items and stage two, which
    # scores only what stage one found, could not put it right.
    rng = np.random.default_rng(5)
    now = timezone.now()
    movies = [Movie(title=f"m{i}", published_at=now) for i in range(200)]
    for movie in movies:
        movie.embedding = rng.normal(size=384)
    Movie.objects.bulk_create(movies)
    write_movie_ranks(movies)
    user = with_profile("anything")
    profile = np.asarray(UserFeedProfile.objects.get(user=user).embedding, dtype=np.float64)
    settings.DJANGO_NEURAL_FEED = {
        **settings.DJANGO_NEURAL_FEED,
        "WEIGHT_SIMILARITY": -1.0,
        "WEIGHT_FRESHNESS": 0.0,
        "WEIGHT_POPULARITY": 0.0,
        "CANDIDATES_SIMILARITY": 10,
        "CANDIDATES_FRESHNESS": 0,
        "CANDIDATES_POPULARITY": 0,
    }
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
    cosine = {
        m.pk: float(np.asarray(m.embedding) @ profile / np.linalg.norm(m.embedding)) for m in movies
    }
    least_similar = sorted(cosine, key=cosine.__getitem__)[:5]
    got = [m.pk for m in MovieFeed.get_feed(user, limit=5, now=now)]
    assert got == least_similar
