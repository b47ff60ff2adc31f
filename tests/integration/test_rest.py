"""dnf_django.rest with Django REST framework's test client, against the real database;
and the embedding columns kept out of every serializer (DRF's and dumpdata's)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from rest_framework import generics, routers, serializers, viewsets
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile
from dnf_django.rest import FeedCursorPagination, FeedScoreSerializerMixin

pytestmark = [
    pytest.mark.services,
    pytest.mark.usefixtures("upstream_weights"),
    # This module is the URLconf of its tests: the views below.
    pytest.mark.urls(__name__),
]

WORDS = ["space", "ship", "alien", "love", "war", "paris", "robot", "ocean"]
SCORES = {"score", "similarity", "collaborative", "freshness", "popularity"}


class MovieSerializer(FeedScoreSerializerMixin, serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Movie
        fields = "__all__"


class MoviePagination(FeedCursorPagination):
    feed = MovieFeed
    page_size = 10


class MovieFeedView(generics.ListAPIView):  # type: ignore[type-arg]
    queryset = Movie.objects.all()
    serializer_class = MovieSerializer
    pagination_class = MoviePagination

    def get_queryset(self) -> QuerySet[Movie]:
        # A filter of the view's own: the feed ranks within it.
        movies = Movie.objects.all()
        word = self.request.query_params.get("word")
        return movies.filter(title__contains=word) if word else movies


class MovieViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    queryset = Movie.objects.all()
    serializer_class = MovieSerializer
    pagination_class = FeedCursorPagination
    feed = MovieFeed  # named on the view this time


class LikesView(generics.ListAPIView):  # type: ignore[type-arg]
    """A mistake: a queryset of another model than the feed's."""

    queryset = Movie.likes.through.objects.all()
    serializer_class = MovieSerializer
    pagination_class = MoviePagination


router = routers.SimpleRouter()
router.register("movies", MovieViewSet)
urlpatterns = [
    path("feed/", MovieFeedView.as_view()),
    path("likes/", LikesView.as_view()),
    path("api/", include(router.urls)),
]


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def movies(db: None) -> list[Movie]:
    now = timezone.now()
    movies = []
    for i in range(25):
        title = f"{WORDS[i % 8]} {WORDS[(i * 3 + 1) % 8]} {i}"
        movies.append(
            Movie(title=title, published_at=now - timedelta(hours=7 * i), embedding=vector(title))
        )
    Movie.objects.bulk_create(movies)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id="movies", item_key=str(m.pk), interactions=i, updated_at=now)
        for i, m in enumerate(movies[::3], start=1)
    )
    return movies


@pytest.fixture
def reader(movies: list[Movie]) -> User:
    user = User.objects.create(username="reader")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector("space ship"), updated_at=timezone.now()
    )
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_pages_chain_through_next_links_with_scores_and_no_embeddings(
    movies: list[Movie], reader: User
) -> None:
    client = client_for(reader)
    url: str | None = "/feed/?limit=7"
    pages: list[list[dict[str, Any]]] = []
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "results"}
        pages.append(body["results"])
        url = body["next"]
        if url is not None:
            # The request's own URL with the cursor: limit and filters carry over.
            query = parse_qs(urlsplit(url).query)
            assert query["limit"] == ["7"] and len(query["cursor"]) == 1
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    ids = [row["id"] for page in pages for row in page]
    assert sorted(ids) == sorted(m.pk for m in movies)
    # The first page is the feed, with the feed's own numbers.
    feed = list(MovieFeed.get_feed(reader, limit=7))
    assert ids[:7] == [m.pk for m in feed]
    first = pages[0][0]
    assert first["score"] == pytest.approx(feed[0].score, abs=1e-6)
    assert first["similarity"] > 0
    for row in (row for page in pages for row in page):
        assert set(row) >= SCORES
        assert "embedding" not in row and "embedding_hash" not in row
        assert set(row) == SCORES | {"id", "title", "genres", "tags", "movielens_id"} | {
            "published_at",
            "likes",
        }


def test_the_view_queryset_filters_and_limit_is_bounded(
    movies: list[Movie], reader: User, settings: Any
) -> None:
    client = client_for(reader)
    body = client.get("/feed/", {"word": "love", "limit": 50}).json()
    expected = {m.pk for m in movies if "love" in m.title}
    assert {row["id"] for row in body["results"]} == expected and body["next"] is None
    # Above MAX_LIMIT the page is MAX_LIMIT long, never an error.
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "MAX_LIMIT": 4}
    body = client.get("/feed/", {"limit": 1000}).json()
    assert len(body["results"]) == 4 and body["next"] is not None
    # Not a positive integer: the page_size.
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "MAX_LIMIT": 100}
    for junk in ("-3", "0", "ten"):
        assert len(client.get("/feed/", {"limit": junk}).json()["results"]) == 10


def test_a_bad_or_foreign_cursor_is_a_400_naming_the_parameter(
    movies: list[Movie], reader: User
) -> None:
    nxt = client_for(reader).get("/feed/").json()["next"]
    cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
    other = User.objects.create(username="other")
    for client, token in ((client_for(reader), "nonsense"), (client_for(other), cursor)):
        response = client.get("/feed/", {"cursor": token})
        assert response.status_code == 400
        assert list(response.json()) == ["cursor"]


def test_anonymous_requests_get_the_anonymous_feed(movies: list[Movie]) -> None:
    body = client_for(None).get("/feed/").json()
    assert [row["id"] for row in body["results"]] == [
        m.pk for m in MovieFeed.get_feed(None, limit=10)
    ]
    assert all(row["similarity"] == 0 for row in body["results"])


def test_a_viewset_lists_the_feed_and_retrieves_plain_objects(
    movies: list[Movie], reader: User
) -> None:
    client = client_for(reader)
    listed = client.get("/api/movies/", {"limit": 5}).json()
    assert [row["id"] for row in listed["results"]] == [
        m.pk for m in MovieFeed.get_feed(reader, limit=5)
    ]
    assert listed["next"].startswith("http://testserver/api/movies/?")
    second = client.get(listed["next"]).json()
    assert not {r["id"] for r in second["results"]} & {r["id"] for r in listed["results"]}
    # A detail view's object did not come from the feed: no scores, and no embedding.
    detail = client.get(f"/api/movies/{movies[3].pk}/").json()
    assert detail["id"] == movies[3].pk
    assert not SCORES & set(detail) and "embedding" not in detail


def test_a_queryset_of_another_model_is_refused(movies: list[Movie], reader: User) -> None:
    with pytest.raises(ValueError, match=r"ranks catalog\.Movie"):
        client_for(reader).get("/likes/")


def test_a_page_costs_no_query_per_item_for_the_deferred_embedding(
    movies: list[Movie], reader: User
) -> None:
    # The feed defers the vector; a serializer that read it would cost a query per row.
    request = APIRequestFactory().get("/feed/", {"limit": 10})
    force_authenticate(request, user=reader)
    view = MovieFeedView.as_view()

    with CaptureQueriesContext(connection) as queries:
        response = view(request)
        response.render()
    assert response.status_code == 200 and len(response.data["results"]) == 10
    loads = [q["sql"] for q in queries if '"catalog_movie"."embedding" FROM' in q["sql"]]
    assert loads == []
    # The feed, the chain's row, and one query per item for each many-to-many field
    # (likes, genres, tags).
    assert len(queries) <= 1 + 2 + 3 * 10


def test_model_serializers_and_dumpdata_leave_the_embedding_columns_out(
    movies: list[Movie],
) -> None:
    movie = Movie.objects.get(pk=movies[0].pk)
    assert movie.embedding is not None  # the attribute still reads the column

    class Everything(serializers.ModelSerializer):  # type: ignore[type-arg]
        class Meta:
            model = Movie
            fields = "__all__"

    data = Everything(movie).data
    assert "embedding" not in data and "embedding_hash" not in data and data["title"]

    out = io.StringIO()
    call_command("dumpdata", "catalog.movie", format="json", stdout=out)
    dumped = json.loads(out.getvalue())
    assert len(dumped) == len(movies)
    assert not {"embedding", "embedding_hash"} & set(dumped[0]["fields"])


def test_loaddata_inserts_rows_for_the_workers_to_embed(db: None, tmp_path: Any) -> None:
    fixture = tmp_path / "movies.json"
    rows = [{"model": "catalog.movie", "pk": 9001, "fields": {"title": "space ship", "genres": []}}]
    fixture.write_text(json.dumps(rows))
    call_command("loaddata", str(fixture), verbosity=0)
    loaded = Movie.objects.get(pk=9001)
    # No vector came with it: the insert trigger queued it, so the workers embed it.
    assert loaded.embedding is None and loaded.embedding_hash is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dnf_outbox WHERE '9001' = ANY(item_keys)")
        (queued,) = cursor.fetchone()
    assert queued >= 1


def test_the_flag_writes_no_migration(db: None) -> None:
    # serialize is no part of the schema: deconstruct describes the plain fields the
    # projects' migrations already hold, so makemigrations finds nothing to write.
    field = Movie._meta.get_field("embedding")
    assert field.serialize is False
    _, path_, _, kwargs = field.deconstruct()
    assert path_ == "pgvector.django.vector.VectorField" and "serialize" not in kwargs
    _, path_, _, kwargs = Movie._meta.get_field("embedding_hash").deconstruct()
    assert path_ == "django.db.models.CharField" and "serialize" not in kwargs
    out = io.StringIO()
    try:
        call_command("makemigrations", "catalog", "feedapp", check=True, dry_run=True, stdout=out)
    except SystemExit:
        pytest.fail(f"makemigrations would write:\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()
