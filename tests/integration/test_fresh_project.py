"""A new project's first makemigrations and migrate, run as a user runs them.

The checks must be quiet while the project is being set up (no feed migration can be
written before the model's, and migrate is about to create what the database lacks),
and speak once something is really missing or drifted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from dnf_django.endpoints import database_url

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]

SETTINGS = """
import os

from dnf_django import django_database

SECRET_KEY = "fresh-project"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "dnf_django", "blog"]
DATABASES = {"default": django_database(os.environ["DNF_DATABASE_URL"])}
DJANGO_NEURAL_FEED = {"FEEDS": ["blog.feeds.ArticleFeed"]}
"""

MODELS = """
from django.conf import settings
from django.db import models
from django.utils import timezone

from dnf_django.mixins import NeuralRecommendMixin


class Article(NeuralRecommendMixin, models.Model):
    title = models.CharField(max_length=200)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    likes = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="liked_articles")
"""

FEEDS = """
from blog.models import Article
from dnf_django.feeds import BaseNeuralFeed


class ArticleFeed(BaseNeuralFeed):
    feed_id = "fresh_articles"
    content_django_model = Article
    interaction_django_model = Article.likes.through
    mode = "m2m"
    text_fields = ("title",)
    freshness_field = "published_at"
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project folder with the ``blog`` app and no migrations, and an empty database."""
    (tmp_path / "blog" / "migrations").mkdir(parents=True)
    (tmp_path / "blog" / "__init__.py").write_text("")
    (tmp_path / "blog" / "migrations" / "__init__.py").write_text("")
    (tmp_path / "settings.py").write_text(SETTINGS)
    (tmp_path / "blog" / "models.py").write_text(MODELS)
    (tmp_path / "blog" / "feeds.py").write_text(FEEDS)
    name = f"dnf_fresh_{os.getpid()}"
    server = make_conninfo(database_url(), dbname="postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield tmp_path, make_conninfo(database_url(), dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def manage(project: tuple[Path, str], *args: str, code: int = 0) -> str:
    """``python -m django ARGS`` in the project, exiting ``code``; stdout and stderr."""
    folder, url = project
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)]),
        "DNF_DATABASE_URL": url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    return output


def test_a_new_project_sets_up_quietly_and_is_then_checked(
    project: tuple[Path, str],
) -> None:
    # No model migration yet: the feed's cannot be written, so no W001, and
    # dnf_makemigrations refuses to write one that would run before the model's.
    output = manage(project, "dnf_makemigrations", code=1)
    assert (
        "feed 'fresh_articles' reads blog.Article, which no migration creates yet: "
        "run python manage.py makemigrations blog first"
    ) in output
    # Migration files only: a __pycache__ appears wherever Python may write bytecode.
    assert sorted(p.name for p in (project[0] / "blog" / "migrations").glob("*.py")) == [
        "__init__.py"
    ]
    output = manage(project, "makemigrations", "blog")
    assert "0001_initial.py" in output and "System check" not in output
    # Now it can, and it is missing.
    output = manage(project, "check")
    assert "(dnf_django.W001) feed 'fresh_articles' has no migration yet" in output
    assert "0002_dnf_fresh_articles.py" in manage(project, "dnf_makemigrations")

    # migrate checks the empty database before it creates the tables: no W002, no W003.
    output = manage(project, "migrate")
    assert "Applying blog.0002_dnf_fresh_articles... OK" in output
    assert "System check" not in output
    assert "no issues" in manage(project, "check", "--database", "default")

    # Drift after migrate is still reported.
    with psycopg.connect(project[1], autocommit=True) as conn:
        conn.execute("DROP TRIGGER dnf_fresh_articles_content_insert ON blog_article")
    output = manage(project, "check", "--database", "default")
    assert "(dnf_django.W003)" in output and "1 of 8 triggers missing" in output
