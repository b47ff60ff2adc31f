"""Status: what a health probe costs, ``dnf_status --lag-only`` against the full status.

A scratch database with ``BENCH_ITEMS`` movies (default 1,000,000) and as many likes
by 10,000 users, written with the triggers off, is read by
``dnf_django.status.pipeline_status`` with and without ``lag_only``: once with an
empty outbox (a healthy pipeline) and once with ``BENCH_BACKLOG`` (default 100,000)
waiting events (a lagging one, when probes matter most). Reported: p50 of each,
and the ratio lag-only / full (lower is better; the probe should not grow with
the tables).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import psycopg

from bench.ingest import _flush_redis, _redis_url
from bench.scratch import scratch_database, server_url, setup_example_project

DB = "dnf_bench_status"
REDIS_DB = 12
USERS = 10_000
RUNS = 15


def run() -> dict[str, Any]:
    items = int(os.environ.get("BENCH_ITEMS", 1_000_000))
    backlog = int(os.environ.get("BENCH_BACKLOG", 100_000))
    redis_url = _redis_url(REDIS_DB)
    _flush_redis(redis_url)
    previous_redis_url = os.environ.get("DNF_REDIS_URL")
    os.environ["DNF_REDIS_URL"] = redis_url  # what the example settings read
    with scratch_database(server_url(), DB) as url:
        setup_example_project(DB)
        try:
            load_s = _load(url, items)
            idle = _time_both()
            _add_backlog(url, backlog)
            lagging = _time_both()
        finally:
            from django.db import connections

            connections.close_all()  # before the scratch database is dropped
            if previous_redis_url is not None:
                os.environ["DNF_REDIS_URL"] = previous_redis_url
    return {
        "items": items,
        "likes": items,
        "users": USERS,
        "backlog_events": backlog,
        "load_s": load_s,
        "idle_outbox": idle,
        "lagging_outbox": lagging,
        "notes": (
            "p50 over runs of pipeline_status() in-process (what dnf_status runs after "
            "Django starts); ratio = lag-only / full."
        ),
    }


def _load(url: str, items: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        # Rows that predate the feed: no outbox events, so only the counts are measured.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, "
            "email, is_staff, is_active, date_joined) SELECT 'u' || n, '', false, '', '', '', "
            "false, true, now() FROM generate_series(1, %s) AS n",
            [USERS],
        )
        conn.execute(
            "INSERT INTO catalog_movie (title, published_at) "
            "SELECT 'movie ' || n, now() FROM generate_series(1, %s) AS n",
            [items],
        )
        conn.execute(
            "INSERT INTO catalog_movie_likes (movie_id, user_id) "
            "SELECT m.id, (SELECT min(id) FROM auth_user) + (m.id %% %s) FROM catalog_movie m",
            [USERS],
        )
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def _add_backlog(url: str, events: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO dnf_outbox (feed_id, kind, item_keys) "
            "SELECT 'movies', 'item', ARRAY[n::text] FROM generate_series(1, %s) AS n",
            [events],
        )
        conn.execute("ANALYZE dnf_outbox")


def _time_both() -> dict[str, Any]:
    from dnf_django.status import pipeline_status

    full = _p50(lambda: pipeline_status(max_lag_s=3600))
    lag_only = _p50(lambda: pipeline_status(max_lag_s=3600, lag_only=True))
    return {"full_ms": full, "lag_only_ms": lag_only, "ratio": lag_only / full}


def _p50(call: Any) -> float:
    call()  # warm: connections, caches
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
