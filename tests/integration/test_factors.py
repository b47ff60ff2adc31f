"""Collaborative vectors learned by real workers from likes that flow through the triggers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.models import (
    FactorState,
    ItemFactor,
    ItemRank,
    UserFactor,
    UserFeedProfile,
)
from tests.conftest import wait_until
from tests.integration.test_pipeline import all_embedded
from workers.factorization import support_weight

pytestmark = pytest.mark.services


def test_likes_teach_items_who_else_liked_them(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "0")
    start_worker()
    # Unrelated titles: text says nothing about which movies go together, likes do.
    movies = Movie.objects.bulk_create([Movie(title=f"title {i} word{i}") for i in range(12)])
    camp_a, camp_b = movies[:6], movies[6:]
    users = [User.objects.create(username=f"u{i}") for i in range(8)]
    for user in users[:4]:
        user.liked_movies.add(*camp_a)
    for user in users[4:7]:
        user.liked_movies.add(*camp_b)
    # The newcomer has liked two of camp A only.
    users[7].liked_movies.add(*camp_a[:2])
    wait_until(all_embedded, what="every movie embedded")

    def learned() -> bool:
        state = FactorState.objects.filter(feed_id="movies").first()
        profile = UserFeedProfile.objects.filter(user=users[7], feed_id="movies").first()
        return bool(
            state is not None
            and state.built_at is not None
            and state.interactions == 4 * 6 + 3 * 6 + 2
            and ItemFactor.objects.filter(feed_id="movies").count() == 12
            and profile is not None
            and profile.collaborative is not None
        )

    wait_until(learned, what="collaborative vectors from every like, and profiles with them")

    # Two like patterns: the factorization is exact, so inner products are the cosine
    # of co-likes (1 within a camp, 0 across), scaled by the support of 8 users.
    keys = [str(m.pk) for m in movies]
    factors = {
        f.item_key: np.asarray(f.factor) for f in ItemFactor.objects.filter(feed_id="movies")
    }
    gram = np.array([[factors[a] @ factors[b] for b in keys] for a in keys])
    likes = np.array([[m in liked for m in movies] for liked in ([*camp_a], [*camp_b])], float)
    counts = np.array([4 + (m in camp_a[:2]) for m in camp_a] + [3] * 6, float)
    weights = np.array([[4, 0], [0, 3]], float)  # users per pattern, newcomer aside
    matrix = np.repeat(likes, [4, 3], axis=0)
    matrix = np.vstack([matrix, [[m in camp_a[:2] for m in movies]]])
    cosine = (matrix.T @ matrix) / np.sqrt(np.outer(counts, counts))
    assert weights.sum() == 7
    weight = support_weight(8)
    assert 0 < weight < 1
    assert np.allclose(gram, weight**2 * cosine / cosine.diagonal().max(), atol=1e-4)

    # The profile's collaborative part: normalized mean of the liked items' vectors.
    profile = UserFeedProfile.objects.get(user=users[7], feed_id="movies")
    mean = np.mean([factors[str(m.pk)] for m in camp_a[:2]], axis=0)
    assert np.allclose(profile.collaborative, mean / np.linalg.norm(mean), atol=1e-5)

    # Ranked on that signal alone, the newcomer is offered the rest of camp A first.
    only_collaborative = {
        **settings.DJANGO_NEURAL_FEED,  # type: ignore[attr-defined]
        "WEIGHT_SIMILARITY": 0.0,
        "WEIGHT_FRESHNESS": 0.0,
        "WEIGHT_POPULARITY": 0.0,
        "WEIGHT_COLLABORATIVE": 1.0,
    }
    with override_settings(DJANGO_NEURAL_FEED=only_collaborative):
        feed = list(
            MovieFeed.get_feed(
                users[7],
                limit=4,
                excluded_queryset=Movie.objects.filter(pk__in=[m.pk for m in camp_a[:2]]),
            )
        )
        explained = MovieFeed.explain(users[7], feed[0])
    assert {m.pk for m in feed} == {m.pk for m in camp_a[2:]}
    assert all(0.5 * weight < m.collaborative <= weight + 1e-6 for m in feed)
    assert explained.contributions["collaborative"] == pytest.approx(feed[0].score)


def basis_rows() -> dict[str, np.ndarray]:
    return {
        f.user_key: np.asarray(f.factor, dtype=np.float64)
        for f in UserFactor.objects.filter(feed_id="movies")
    }


def test_a_like_folds_a_new_item_into_the_basis_at_once_and_deletes_take_its_vectors(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    # One rebuild, then none for an hour: what follows is the incremental path alone.
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "3600")
    start_worker()
    movies = Movie.objects.bulk_create([Movie(title=f"title {i} word{i}") for i in range(6)])
    users = [User.objects.create(username=f"u{i}") for i in range(4)]
    for i, user in enumerate(users):
        user.liked_movies.add(*movies[i : i + 3])
    wait_until(
        lambda: (
            FactorState.objects.filter(feed_id="movies", built_at__isnull=False).exists()
            and len(basis_rows()) == 4
        ),
        what="a first basis",
    )
    built_at = FactorState.objects.get(feed_id="movies").built_at
    basis = basis_rows()

    # A new item, liked by two users of the basis and one newcomer.
    newcomer = User.objects.create(username="newcomer")
    item = Movie.objects.create(title="brand new")
    for user in (users[0], users[2], newcomer):
        user.liked_movies.add(item)
    expected = (basis[str(users[0].pk)] + basis[str(users[2].pk)]) / np.sqrt(3)

    def folded() -> bool:
        row = ItemFactor.objects.filter(feed_id="movies", item_key=str(item.pk)).first()
        return row is not None and np.allclose(row.factor, expected, atol=1e-6)

    wait_until(folded, timeout=10, what="the new item folded into the basis")
    # Its likers' profiles read it: the newcomer's is that vector alone.
    wait_until(
        lambda: (
            (p := UserFeedProfile.objects.filter(user=newcomer, feed_id="movies").first())
            is not None
            and p.collaborative is not None
            and np.allclose(p.collaborative, expected / np.linalg.norm(expected), atol=1e-5)
        ),
        timeout=10,
        what="the newcomer's collaborative profile",
    )
    assert FactorState.objects.get(feed_id="movies").built_at == built_at, "no rebuild ran"

    # An unlike refolds the column: one basis liker fewer.
    users[2].liked_movies.remove(item)
    expected = basis[str(users[0].pk)] / np.sqrt(2)
    wait_until(folded, timeout=10, what="the item refolded after an unlike")

    # A deleted item takes its rank and collaborative vectors along; a key reused
    # afterwards inherits neither.
    key = item.pk
    item.delete()

    def gone(pk: int) -> bool:
        rows = {"feed_id": "movies", "item_key": str(pk)}
        return not ItemFactor.objects.filter(**rows).exists() and not (
            ItemRank.objects.filter(**rows).exists()
        )

    wait_until(lambda: gone(key), timeout=10, what="the deleted item's vectors gone")
    Movie.objects.create(pk=key, title="another movie on the old key")
    wait_until(lambda: Movie.objects.get(pk=key).embedding is not None, what="reused key embedded")
    assert not ItemFactor.objects.filter(feed_id="movies", item_key=str(key)).exists()

    # TRUNCATE: every vector of the removed items goes.
    assert ItemFactor.objects.filter(feed_id="movies").exists()
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {Movie._meta.db_table} CASCADE")
    wait_until(
        lambda: (
            not ItemFactor.objects.filter(feed_id="movies").exists()
            and not ItemRank.objects.filter(feed_id="movies").exists()
        ),
        timeout=15,
        what="vectors of truncated items gone",
    )


def test_two_users_with_disjoint_likes_each_get_their_own_topic_first(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "0")
    start_worker()
    coffee = Movie.objects.bulk_create(
        Movie(title=t)
        for t in (
            "espresso coffee roast",
            "coffee beans roast grinder",
            "coffee brewing espresso crema",
            "coffee shop latte espresso",
        )
    )
    games = Movie.objects.bulk_create(
        Movie(title=t)
        for t in (
            "video game console controller",
            "game console multiplayer online",
            "video game arcade controller",
            "online multiplayer video game",
        )
    )
    barista, gamer = User.objects.create(username="barista"), User.objects.create(username="gamer")
    # As many likes each: a rank-1 basis of two users would mix both tastes at random.
    barista.liked_movies.add(*coffee[:3])
    gamer.liked_movies.add(*games[:3])
    wait_until(all_embedded, what="every movie embedded")
    wait_until(
        lambda: (
            FactorState.objects.filter(
                feed_id="movies", built_at__isnull=False, scheduled_for__isnull=True, users=2
            ).exists()
            and all(
                p.collaborative is not None
                for p in UserFeedProfile.objects.filter(feed_id="movies", user__in=[barista, gamer])
            )
            and UserFeedProfile.objects.filter(feed_id="movies").count() == 2
        ),
        what="collaborative vectors of both users' likes",
    )
    weight = support_weight(2)
    for user, own, other in ((barista, coffee, games), (gamer, games, coffee)):
        feed = list(MovieFeed.get_feed(user, limit=8))
        assert feed[0].pk in {m.pk for m in own}
        # The user's own likes lead, ahead of the other's (as popular, and co-liked
        # only by someone else).
        assert {m.pk for m in feed[:3]} == {m.pk for m in own[:3]}
        # Two users support 4% of the collaborative signal: the other's likes get none.
        for m in feed:
            assert abs(m.collaborative) <= weight + 1e-6
            if m.pk in {o.pk for o in other}:
                assert abs(m.collaborative) < 1e-6
