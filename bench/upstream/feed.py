"""Time django-neural-feed 1.1.0's ``get_feed``, its HNSW mode off or on.

Runs in the upstream virtualenv, against the database named by
``DNF_BENCH_UPSTREAM_DATABASE_URL``: ``python feed.py < config.json``. Prints one
JSON object on stdout. Two actions:

- ``migrate``: creates upstream's tables (its ``UserFeedProfile``, the README's
  ``Post``) in that database; the feed bench then fills them itself, in SQL.
- ``time``: ``list(Feed.get_feed(user, limit=20))``, fully evaluated, for the given
  users with a profile and cold-start users, after a few warm-up calls.

The feed is the README's ``PostFeed`` with the README's scoring expressions:
popularity ``Ln(Count("likes") + 1) / Ln(1000)`` and freshness
``1 / (1 + age in hours)`` (``popularity_expression`` / ``freshness_expression``).
HNSW mode on is what ``DJANGO_NEURAL_FEED["HNSW"] = {"ENABLED": True}`` gives: the
feed class reads that setting once, into ``hnsw_config``, when it is defined, so the
bench sets the same dict on a subclass to run both modes in one process.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "upstream_site.settings"

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, ExpressionWrapper, F, FloatField, Value  # noqa: E402
from django.db.models.functions import Cast, Extract, Ln, Now  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_neural_feed.conf import DEFAULT_CONFIG  # noqa: E402
from errorcount import ErrorCount  # noqa: E402
from posts.feeds import PostFeed  # noqa: E402


class ReadmePostFeed(PostFeed):
    """The README's PostFeed: its popularity and freshness expressions, verbatim."""

    popularity_expression = ExpressionWrapper(
        Ln(Cast(Count("likes"), FloatField()) + Value(1.0)) / Ln(Value(1000.0)),
        output_field=FloatField(),
    )
    freshness_expression = ExpressionWrapper(
        Value(1.0) / (Value(1.0) + (Extract(Now() - F("created_at"), "epoch") / 3600.0)),
        output_field=FloatField(),
    )


class ReadmePostFeedHnsw(ReadmePostFeed):
    """HNSW mode on, with the README's (and upstream's default) ef_search and pool."""

    hnsw_config = {k.lower(): v for k, v in {**DEFAULT_CONFIG["HNSW"], "ENABLED": True}.items()}


FEEDS = {"off": ReadmePostFeed, "on": ReadmePostFeedHnsw}


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _time_calls(feed: Any, users: list[User]) -> dict[str, Any]:
    """One fully evaluated get_feed per user; milliseconds per call."""
    times = []
    lengths = []
    for user in users:
        start = time.perf_counter()
        items = list(feed.get_feed(user, limit=20))
        times.append(1000 * (time.perf_counter() - start))
        lengths.append(len(items))
    return {
        "calls": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": _percentile(times, 95),
        "min_ms": min(times),
        "max_ms": max(times),
        "ms": [round(t, 2) for t in times],
        "min_items_returned": min(lengths),
    }


def _time(config: dict[str, Any]) -> dict[str, Any]:
    feed = FEEDS[config["mode"]]
    users = User.objects.in_bulk(config["users"] + config["cold_users"] + config["warmup_users"])
    warm = [users[pk] for pk in config["warmup_users"]]
    for user in warm:
        list(feed.get_feed(user, limit=20))
    with CaptureQueriesContext(connection) as queries:
        top = [item.pk for item in feed.get_feed(users[config["users"][0]], limit=20)]
    result: dict[str, Any] = {
        "mode": config["mode"],
        "hnsw_config": feed.get_setting("hnsw_config"),
        "queries_per_call": len(queries.captured_queries),
        "sample_user": config["users"][0],
        "sample_top20": top,
        "profile": _time_calls(feed, [users[pk] for pk in config["users"]]),
    }
    if config["cold_users"]:
        result["cold"] = _time_calls(feed, [users[pk] for pk in config["cold_users"]])
    return result


def main(config: dict[str, Any]) -> dict[str, Any]:
    errors = ErrorCount()
    logging.getLogger("django_neural_feed").addHandler(errors)
    if config["action"] == "migrate":
        call_command("migrate", verbosity=0)
        result: dict[str, Any] = {"migrated": True}
    else:
        result = _time(config)
    result.update(errors_logged=errors.count, first_error=errors.first, django=django.get_version())
    connection.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.load(sys.stdin))))
