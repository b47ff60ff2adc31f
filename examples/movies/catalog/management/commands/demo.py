"""``manage.py demo``: MovieLens through the whole pipeline, then three users' feeds."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from catalog.feeds import MovieFeed
from catalog.models import Genre, Movie, Tag
from dnf_django.endpoints import database_url, redis_url
from dnf_django.management.commands._worker_runs import run_worker_until_idle

DATA = Path(__file__).resolve().parents[3] / "data"
SHOWN_USERS = (41, 73, 24)
SIMILAR_TO = 1  # MovieLens id of Toy Story (1995): "more like this" for it
TIMEOUT_S = 1800


def read_tags() -> dict[str, list[str]]:
    """Each movie's tags (by MovieLens id): lowercased, each once, in order of first use."""
    tags: dict[str, list[str]] = defaultdict(list)
    with open(DATA / "tags.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            tag = row["tag"].strip().lower()
            if tag and tag not in tags[row["movieId"]]:
                tags[row["movieId"]].append(tag)
    return tags


def read_movies() -> list[tuple[Movie, list[str], list[str]]]:
    """Each movie, unsaved, with the names of its genres and of its tags, in order."""
    tags = read_tags()
    movies = []
    with open(DATA / "movies.csv", encoding="utf-8", newline="") as f:
        for movie_id, title, genres in csv.reader(f):
            names = [] if genres == "(no genres listed)" else genres.split("|")
            movies.append((Movie(movielens_id=int(movie_id), title=title), names, tags[movie_id]))
    return movies


def save_names(model: Any, through: Any, column: str, links: list[tuple[Movie, list[str]]]) -> None:
    """A row of ``model`` per name not saved yet, and through rows linking each saved
    movie to its names in order: the feed reads them in the order they were linked."""
    names = dict.fromkeys(name for _, names in links for name in names)
    ids = dict(model.objects.filter(name__in=names).values_list("name", "pk"))
    new = [model(name=name) for name in names if name not in ids]
    ids.update((row.name, row.pk) for row in model.objects.bulk_create(new, batch_size=2000))
    through.objects.bulk_create(
        [through(movie_id=m.pk, **{column: ids[n]}) for m, names in links for n in names],
        batch_size=5000,
    )


class Command(BaseCommand):
    help = "Load MovieLens, run the pipeline until it is idle, print feeds of three users."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        self.load()
        started = time.monotonic()
        self.stdout.write("worker started: embedding, profiles, counts, collaborative vectors")
        # The same run-until-idle as dnf_evaluate: a worker that learns collaborative
        # vectors as soon as the likes stop, and idle only once it has.
        run_worker_until_idle(
            database_url(),
            redis_url(),
            Movie,
            "default",
            timeout=TIMEOUT_S,
            progress=True,
            factors_of=MovieFeed.feed_id,
        )
        self.stdout.write(f"pipeline idle after {time.monotonic() - started:.1f}s\n")
        self.show_feeds()
        self.show_similar()

    def load(self) -> None:
        if Movie.objects.exists():
            self.stdout.write(f"{Movie.objects.count()} movies already loaded")
            return
        with transaction.atomic():
            read = read_movies()
            movies = Movie.objects.bulk_create([m for m, _, _ in read], batch_size=2000)
            save_names(Genre, Movie.genres.through, "genre_id", [(m, g) for m, g, _ in read])
            save_names(Tag, Movie.tags.through, "tag_id", [(m, t) for m, _, t in read])
            by_movielens = {m.movielens_id: m.pk for m in movies}
            user_model = get_user_model()
            users: dict[str, Any] = {}
            likes = []
            with open(DATA / "likes.csv", encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):  # sorted by time: the through ids follow it
                    uid = row["userId"]
                    if uid not in users:
                        users[uid] = user_model.objects.create(username=f"movielens_{uid}")
                    likes.append(
                        Movie.likes.through(
                            user_id=users[uid].pk, movie_id=by_movielens[int(row["movieId"])]
                        )
                    )
            Movie.likes.through.objects.bulk_create(likes, batch_size=5000)
        self.stdout.write(f"loaded {len(movies)} movies, {len(users)} users, {len(likes)} likes")

    def show_feeds(self) -> None:
        user_model = get_user_model()
        for uid in SHOWN_USERS:
            user = user_model.objects.get(username=f"movielens_{uid}")
            liked = Movie.objects.filter(likes=user)
            recent = Movie.likes.through.objects.filter(user=user).order_by("-id")
            titles = [like.movie.title for like in recent.select_related("movie")[:5]]
            self.stdout.write(
                f"\n== {user.username}: {liked.count()} likes, latest: " + "; ".join(titles)
            )
            self.stdout.write(
                f"   {'score':>6} {'sim':>6} {'colike':>6} {'fresh':>6} {'pop':>6}  title"
            )
            feed = MovieFeed.get_feed(user, excluded_queryset=liked, limit=10)
            for movie in feed.prefetch_related("genres"):
                genres = ", ".join(genre.name for genre in movie.genres.all())
                self.stdout.write(
                    f"   {movie.score:6.3f} {movie.similarity:6.3f} {movie.collaborative:6.3f} "
                    f"{movie.freshness:6.3f} {movie.popularity:6.3f}  {movie.title} [{genres}]"
                )
        connection.close()

    def show_similar(self) -> None:
        """More like this: the movies most like one movie, by text and by co-likes."""
        movie = Movie.objects.get(movielens_id=SIMILAR_TO)
        self.stdout.write(f"\n== more like this: {movie.title}")
        columns = ("score", "sim", "colike", "fresh", "pop")
        self.stdout.write("   " + " ".join(f"{c:>6}" for c in columns) + "  title")
        for other in MovieFeed.similar(movie, limit=10):
            self.stdout.write(
                f"   {other.score:6.3f} {other.similarity:6.3f} {other.collaborative:6.3f} "
                f"{other.freshness:6.3f} {other.popularity:6.3f}  {other.title}"
            )
        connection.close()
