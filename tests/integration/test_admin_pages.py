"""The admin's status and feed preview pages, rendered by the test client on real data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html import unescape

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import Failure, FeedItemStat, UserFeedProfile
from dnf_django.query import SIGNALS
from dnf_django.status import pipeline_status

pytestmark = pytest.mark.services

STATUS_URL = "/admin/dnf_django/status/"
PREVIEW_URL = "/admin/dnf_django/feedpreview/"


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def broker(redis_url: str, redis_client: redis.Redis) -> Iterator[None]:
    """The status reads the tests' own, emptied Redis database."""
    with override_settings(
        DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, "REDIS_URL": redis_url}
    ):
        yield


@pytest.fixture
def staff(db: None) -> Client:
    """A staff user holding the two pages' view permissions, and nothing else."""
    user = User.objects.create_user("operator", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="dnf_django", codename__in=["view_status", "view_feedpreview"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def movies(db: None) -> list[Movie]:
    """Six movies (the last never embedded), likes and counts, a profile for one reader."""
    now = timezone.now()
    titles = ["space", "space ships", "space station", "love", "love story", "unembedded"]
    movies = [
        Movie(title=title, published_at=now - timedelta(days=3 * i))
        for i, title in enumerate(titles)
    ]
    for movie in movies[:-1]:
        # As a worker would leave it; the hash's value matters only to the workers.
        movie.embedding, movie.embedding_hash = vector(movie.title), "written-by-the-test"
    Movie.objects.bulk_create(movies)
    for movie, interactions in zip(movies, (1, 0, 7, 30, 2, 0), strict=True):
        FeedItemStat.objects.create(
            feed_id="movies", item_key=str(movie.pk), interactions=interactions, updated_at=now
        )
    reader = User.objects.create_user("reader")
    reader.liked_movies.add(movies[0])
    UserFeedProfile.objects.create(
        user=reader, feed_id="movies", embedding=vector("space"), updated_at=now
    )
    User.objects.create_user("newcomer").liked_movies.add(movies[-1])
    return movies


def text_of(html: bytes) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html.decode())).split())


def test_status_page_shows_the_numbers_dnf_status_computes(
    staff: Client, movies: list[Movie], broker: None
) -> None:
    # An hour old: a failure within --max-lag would make the status unhealthy.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Failure.objects.create(
        feed_id="movies",
        task="embed",
        key=str(movies[-1].pk),
        error="EncoderError: empty",
        first_failed_at=an_hour_ago,
        last_failed_at=an_hour_ago,
    )
    response = staff.get(STATUS_URL)
    assert response.status_code == 200
    shown = response.context["status"]
    expected = {feed.feed_id: feed for feed in pipeline_status().feeds or ()}
    # Everything but the clock-dependent age of the oldest event.
    assert {f.feed_id: replace(f, oldest_event_s=None) for f in shown.feeds} == {
        feed_id: replace(f, oldest_event_s=None) for feed_id, f in expected.items()
    }
    movies_row = expected["movies"]
    assert (movies_row.items, movies_row.items_never_embedded) == (len(movies), 1)
    assert (movies_row.users_with_interactions, movies_row.profiles) == (2, 1)
    assert (movies_row.users_without_profile, movies_row.failures) == (1, 1)
    row = re.search(rb'<tr id="feed-movies">.*?</tr>', response.content, re.S)
    assert row is not None
    cells = text_of(row.group()).split()
    assert cells[0] == "movies" and cells[1] == str(movies_row.outbox_events)
    assert cells[3:9] == [str(n) for n in (len(movies), 1, 2, 1, 1, 1)]
    assert "dnf_django/failure/?feed_id=movies" in response.content.decode()
    assert "Healthy" in text_of(response.content)
    assert "Last worker heartbeat never" in text_of(response.content)


def test_admin_index_lists_both_pages_under_the_app(staff: Client) -> None:
    index = staff.get("/admin/").content.decode()
    assert f'href="{STATUS_URL}"' in index and f'href="{PREVIEW_URL}"' in index
    assert reverse("admin:dnf_django_status_changelist") == STATUS_URL
    app_index = staff.get("/admin/dnf_django/").content.decode()
    assert f'href="{STATUS_URL}"' in app_index and f'href="{PREVIEW_URL}"' in app_index


@pytest.mark.parametrize("url", [STATUS_URL, f"{PREVIEW_URL}?feed=movies&user=reader"])
def test_pages_refuse_anyone_but_staff_with_the_permission(
    db: None, url: str, movies: list[Movie], broker: None
) -> None:
    client = Client()
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(User.objects.create_user("member"))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(User.objects.create_user("intern", is_staff=True))
    assert client.get(url).status_code == 403
    assert "/dnf_django/" not in client.get("/admin/").content.decode()


def test_preview_shows_get_feed_in_order_with_explain_numbers(
    staff: Client, movies: list[Movie]
) -> None:
    response = staff.get(PREVIEW_URL, {"feed": "movies", "user": "reader", "limit": "4"})
    assert response.status_code == 200
    preview = response.context["preview"]
    reader = User.objects.get(username="reader")
    expected = list(MovieFeed.get_feed(reader, limit=4, now=preview.now))
    rows = response.context["rows"]
    assert [row["key"] for row in rows] == [movie.pk for movie in expected]
    assert len(rows) == 4 and response.context["has_profile"] is True
    for row, movie in zip(rows, expected, strict=True):
        explanation = MovieFeed.explain(reader, movie.pk, now=preview.now)
        shown = [number for part in row["parts"] for number in part]
        assert shown == pytest.approx(
            [
                number
                for n in SIGNALS
                for number in (
                    explanation.signals[n],
                    explanation.weights[n],
                    explanation.contributions[n],
                )
            ]
        )
        assert row["score"] == pytest.approx(explanation.score)
        assert row["score"] == pytest.approx(movie.score)
    shown_keys = re.findall(rb'<tr data-key="(\d+)">', response.content)
    assert [int(key) for key in shown_keys] == [movie.pk for movie in expected]
    first = text_of(re.search(rb'<tr data-key="\d+">.*?</tr>', response.content, re.S).group())
    top = MovieFeed.explain(reader, expected[0].pk, now=preview.now)
    numbers = [f"{top.signals[n]:.4f} {top.contributions[n]:.4f}" for n in SIGNALS]
    assert first.endswith(" ".join([*numbers, f"{top.score:.4f}"]))


def test_preview_of_an_anonymous_visitor_and_the_default_length(
    staff: Client, movies: list[Movie]
) -> None:
    response = staff.get(PREVIEW_URL, {"feed": "movies", "user": ""})
    assert response.status_code == 200 and response.context["has_profile"] is False
    preview = response.context["preview"]
    expected = list(MovieFeed.get_feed(AnonymousUser(), limit=20, now=preview.now))
    assert [row["key"] for row in response.context["rows"]] == [m.pk for m in expected]
    assert len(expected) == len(movies) < 20
    assert "an anonymous visitor" in text_of(response.content)
    assert "No profile in this feed" in text_of(response.content)


def test_profile_list_links_to_the_users_preview(db: None, movies: list[Movie]) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root"))
    profiles = client.get("/admin/dnf_django/userfeedprofile/").content.decode()
    link = f"{PREVIEW_URL}?feed=movies&amp;user=reader"
    assert link in profiles
    preview = client.get(unescape(link))
    assert preview.status_code == 200 and preview.context["rows"]
    assert preview.context["has_profile"] is True


def test_a_user_can_be_given_by_id(staff: Client, movies: list[Movie]) -> None:
    reader = User.objects.get(username="reader")
    response = staff.get(PREVIEW_URL, {"feed": "movies", "user": str(reader.pk)})
    assert response.context["form"].cleaned_data["user"] == reader


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"feed": "movies", "user": "nobody"}, "user", "No user with username or id “nobody”."),
        ({"feed": "movies", "user": "x" * 300}, "user", "No user with username or id"),
        (
            {"feed": "films", "user": "reader"},
            "feed",
            "Unknown feed “films”. The feeds are: movies, posts, reactions, saved_articles.",
        ),
        ({"feed": "movies", "limit": "0"}, "limit", "greater than or equal to 1"),
        ({"feed": "movies", "limit": "many"}, "limit", "Enter a whole number."),
    ],
)
def test_bad_input_gets_a_form_error(
    staff: Client, movies: list[Movie], query: dict[str, str], field: str, message: str
) -> None:
    response = staff.get(PREVIEW_URL, query)
    assert response.status_code == 200 and response.context["preview"] is None
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in errors[field][0]
    assert message in unescape(response.content.decode())


def test_status_page_lists_the_problems(staff: Client, movies: list[Movie]) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dnf_outbox (feed_id, kind, item_keys, created_at) "
            "VALUES ('movies', 'item', ARRAY['1'], clock_timestamp() - interval '1 hour')"
        )
    unreachable = {**settings.DJANGO_NEURAL_FEED, "REDIS_URL": "redis://:secret@127.0.0.1:1/0"}
    with override_settings(DJANGO_NEURAL_FEED=unreachable):
        response = staff.get(STATUS_URL)
    assert response.status_code == 200
    problems = re.search(rb'<ul class="errorlist" id="problems">.*?</ul>', response.content)
    assert problems is not None
    listed = re.findall(r"<li>(.*?)</li>", unescape(problems.group().decode()))
    assert listed == list(response.context["status"].problems)
    assert re.fullmatch(r"feed movies: oldest outbox event is 36\d\d s old", listed[0])
    assert listed[1].startswith("cannot read the broker at redis://:***@127.0.0.1:1/0")
    assert "secret" not in response.content.decode()
