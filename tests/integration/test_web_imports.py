"""A web process imports no worker dependency, and serves the admin and feeds without them.

Each test runs a fresh interpreter (an import made by this pytest process, or by
another test, must not hide one): Django setup, admin autodiscovery, URL resolution,
the admin's status and preview pages, ``pipeline_status`` (dnf_status's library
function) and every public call of the query layer, against the test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from catalog.models import Movie
from dnf_core.broker_layout import message_hashes
from dnf_core.encoders import HashingEncoder
from dnf_core.sqlfiles import load_sql
from dnf_django.models import UserFeedProfile

pytestmark = pytest.mark.services

# What the [worker] extra brings and a web process must not need.
WORKER_DEPENDENCIES = ("dramatiq", "redis", "torch", "sentence_transformers")

WEB_PROCESS = r"""
import json, sys

blocked = sys.argv[1:]


class Uninstalled:
    '''Imports of the blocked packages fail, as in an install without them.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"No module named {name!r} (blocked: not in the [django] extra)")
        return None


sys.meta_path.insert(0, Uninstalled())

import django

django.setup()

from django.test.utils import setup_test_environment

setup_test_environment()  # so the test client's responses carry their context

from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import resolve, reverse

from catalog.feeds import MovieFeed
from dnf_django.status import pipeline_status

admin.autodiscover()
status_url = reverse("admin:dnf_django_status_changelist")
preview_url = reverse("admin:dnf_django_feedpreview_changelist")
assert resolve(status_url).url_name == "dnf_django_status_changelist"

client = Client()
client.force_login(User.objects.get(username="operator"))
status_page = client.get(status_url)
preview_page = client.get(preview_url, {"feed": "movies", "user": "reader", "limit": "3"})

reader = User.objects.get(username="reader")
feed = list(MovieFeed.get_feed(reader, limit=3))
page = MovieFeed.get_page(reader, limit=2)
next_page = MovieFeed.get_page(reader, cursor=page.next_cursor, limit=2)
explanation = MovieFeed.explain(reader, feed[0])
vector = MovieFeed.get_user_vector(reader)
status = pipeline_status()

stdlib = set(sys.stdlib_module_names)
print(json.dumps({
    "third_party": sorted(
        {name.partition(".")[0] for name in sys.modules} - stdlib - {"__main__"}
    ),
    "status_page": status_page.status_code,
    "preview_page": preview_page.status_code,
    "preview_rows": len(preview_page.context["rows"]),
    "feed": [movie.title for movie in feed],
    "pages": [len(page.items), len(next_page.items)],
    "explained": explanation.has_profile,
    "vector": len(vector or ()),
    "broker_messages": status.broker.messages,
    "broker_error": status.broker.error,
    "problems": list(status.problems),
}))
"""


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def site(database_url: str, redis_url: str, redis_client: redis.Redis) -> dict[str, str]:
    """Committed movies, a reader with a profile, a superuser; a message in the broker."""
    now = timezone.now()
    movies = [
        Movie(title=title, published_at=now - timedelta(days=i))
        for i, title in enumerate(["space", "space ships", "love", "love story", "war"])
    ]
    for movie in movies:
        movie.embedding, movie.embedding_hash = vector(movie.title), "written-by-the-test"
    Movie.objects.bulk_create(movies)
    reader = User.objects.create_user("reader")
    reader.liked_movies.add(movies[0])
    UserFeedProfile.objects.create(
        user=reader, feed_id="movies", embedding=vector("space"), updated_at=now
    )
    User.objects.create_superuser("operator")
    # One message waiting in this database's queues, which the status must count
    # without redis-py.
    with connection.cursor() as cur:
        cur.execute(load_sql("queries/broker_namespace"))
        (namespace,) = cur.fetchone()
    redis_client.hset(message_hashes(namespace)[0], "message-1", "{}")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DNF_DATABASE_URL": database_url,
        "DNF_REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }


def web_process(env: dict[str, str], *blocked: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, *blocked],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def served(result: dict[str, Any]) -> None:
    """Every page and call answered, the broker read included."""
    assert result["status_page"] == 200 and result["preview_page"] == 200
    assert result["preview_rows"] == 3
    assert result["feed"][0] == "space" and len(result["feed"]) == 3
    assert result["pages"] == [2, 2]
    assert result["explained"] is True and result["vector"] == 384
    assert result["broker_error"] is None and result["broker_messages"] == 1


def test_a_web_process_imports_no_worker_dependency(site: dict[str, str]) -> None:
    result = web_process(site)
    served(result)
    imported = set(result["third_party"])
    assert not imported & {*WORKER_DEPENDENCIES, "workers"}, sorted(imported)
    # What a web process does import from the project's dependencies (see the report
    # of `pytest -s`): the [django] extra, numpy, and the project's own packages.
    print("web process imports:", ", ".join(result["third_party"]))


def test_a_web_process_serves_without_the_worker_extra(site: dict[str, str]) -> None:
    # As installed with only neural-feed[django]: importing any of these fails.
    served(web_process(site, *WORKER_DEPENDENCIES, "workers"))
