"""Time django-neural-feed 1.1.0's like path, its signals connected vs disconnected.

Runs in the upstream virtualenv, against the database named by
``DNF_BENCH_UPSTREAM_DATABASE_URL`` (a scratch database it migrates):
``python measure.py < config.json``. Prints one JSON object on stdout.

With ``CELERY_ENABLED`` off (its default), upstream's m2m_changed handler schedules,
on commit, a thread of the web process that opens its own connection, averages the
user's 20 latest liked embeddings in numpy and upserts the profile. That thread is
*counted*: each like waits for the thread it started, so a like's figure holds all
the work it causes; the time the caller alone waits is reported beside it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "upstream_site.settings"

import django

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.signals import m2m_changed  # noqa: E402
from django_neural_feed import signals as upstream_signals  # noqa: E402
from django_neural_feed.models import UserFeedProfile  # noqa: E402
from posts.feeds import PostFeed  # noqa: E402
from posts.models import Post  # noqa: E402

Through = Post.likes.through
Pair = tuple[int, int]  # (user id, post id)

# Threads upstream's signal handlers started and nobody has joined yet.
_started: list[threading.Thread] = []


class _RecordedThread(threading.Thread):
    """Upstream's own thread, remembered so the bench can wait for its work."""

    def start(self) -> None:
        _started.append(self)
        super().start()


def _record_upstream_threads() -> None:
    # signals.py calls threading.Thread(...) through its module global `threading`.
    upstream_signals.threading = types.SimpleNamespace(Thread=_RecordedThread)  # type: ignore[assignment]


def _join_started() -> int:
    count = len(_started)
    while _started:
        _started.pop().join()
    return count


class _ErrorCount(logging.Handler):
    """Upstream logs and swallows its errors; count them so a broken run shows."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@dataclass
class Fixture:
    posts: dict[int, Post]
    users: dict[int, User]
    base_max_id: int
    singles: tuple[list[Pair], list[Pair]]  # two disjoint sets, one per variant
    bulk: list[Pair]


def _pairs(
    rng: random.Random, users: list[int], items: list[int], counts: list[int]
) -> list[list[Pair]]:
    """Disjoint sets of (user, item) pairs, counts[k] items per user in set k, shuffled."""
    sets: list[list[Pair]] = [[] for _ in counts]
    for user in users:
        picked = iter(rng.sample(items, sum(counts)))
        for pairs, count in zip(sets, counts, strict=True):
            pairs.extend((user, next(picked)) for _ in range(count))
    for pairs in sets:
        rng.shuffle(pairs)
    return sets


def _populate(config: dict[str, Any]) -> Fixture:
    """Users, posts with random 384-d embeddings, and a history of likes per user.

    Everything goes through bulk_create, which sends neither post_save nor
    m2m_changed: no embedding thread (it would load the model and encode every post)
    and no profile thread runs during the setup.
    """
    rng = random.Random(config["seed"])
    vectors = np.random.default_rng(config["seed"]).standard_normal(
        (config["items"], 384), dtype=np.float32
    )
    users = User.objects.bulk_create(User(username=f"bench{i}") for i in range(config["users"]))
    posts = Post.objects.bulk_create(
        Post(title=f"Post {i}", content="bench", embedding=vector.tolist())
        for i, vector in enumerate(vectors)
    )
    single_per_user = config["single_n"] // config["users"]
    base, single_a, single_b, bulk = _pairs(
        rng,
        [u.pk for u in users],
        [p.pk for p in posts],
        [
            config["base_per_user"],
            single_per_user,
            single_per_user,
            config["bulk_n"] // config["users"],
        ],
    )
    Through.objects.bulk_create(Through(user_id=u, post_id=p) for u, p in base)
    # Steady state: every user already has a profile, so each like updates one.
    UserFeedProfile.objects.bulk_create(
        UserFeedProfile(user=u, feed_id=PostFeed.feed_id) for u in users
    )
    # Loaded once, outside the timers; the mixin's __init__ reads title and content.
    loaded = Post.objects.defer("embedding").in_bulk([p.pk for p in posts])
    base_max_id = Through.objects.order_by("-id").values_list("id", flat=True)[0]
    return Fixture(loaded, {u.pk: u for u in users}, base_max_id, (single_a, single_b), bulk)


def _quiet_tables() -> None:
    # Autovacuum would wake at random moments of either variant; we vacuum between runs.
    with connection.cursor() as cur:
        for table in (Through._meta.db_table, UserFeedProfile._meta.db_table):
            cur.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')


def _set_signals(connected: bool) -> None:
    """Connect or disconnect the feed's m2m_changed handler, as upstream's ready() does."""
    label = Through._meta.label_lower
    m2m_changed.disconnect(sender=Through, dispatch_uid=f"dnf_m2m_{PostFeed.feed_id}_{label}")
    if connected:
        upstream_signals.register_feed_signals(PostFeed)


def _reset(fixture: Fixture) -> None:
    """Back to the same table contents and a vacuumed heap before every timed run."""
    with connection.cursor() as cur:
        cur.execute(f'DELETE FROM "{Through._meta.db_table}" WHERE id > %s', [fixture.base_max_id])
        cur.execute(
            f'VACUUM (ANALYZE) "{Through._meta.db_table}", "{UserFeedProfile._meta.db_table}"'
        )


def _time_likes(fixture: Fixture, pairs: list[Pair]) -> dict[str, float]:
    """One ``post.likes.add(user)`` per transaction (autocommit), each waiting for its thread."""
    caller = 0.0
    threads = 0
    start = time.perf_counter()
    for user, post in pairs:
        before = time.perf_counter()
        fixture.posts[post].likes.add(fixture.users[user])
        caller += time.perf_counter() - before
        threads += _join_started()
    return {"total": time.perf_counter() - start, "caller": caller, "threads": threads}


def _time_bulk(pairs: list[Pair]) -> dict[str, float]:
    """One ``Through.objects.bulk_create`` of every pair (one statement, one transaction)."""
    rows = [Through(user_id=u, post_id=p) for u, p in pairs]
    start = time.perf_counter()
    Through.objects.bulk_create(rows)
    total = time.perf_counter() - start
    return {"total": total, "caller": total, "threads": _join_started()}


VARIANTS = ("with", "without")
Run = dict[str, float]  # total and caller seconds, threads started
Runs = dict[str, list[Run]]  # variant -> timed runs, paired by index


def _abba(index: int) -> tuple[str, str]:
    # Alternating which variant goes first cancels drift and "second run" effects.
    return VARIANTS if index % 2 == 0 else (VARIANTS[1], VARIANTS[0])


def _blocks(fixture: Fixture, reps: int, block: int) -> Runs:
    """Single likes, interleaved in blocks so the shared machine's load hits both alike.

    Each rep starts from the same table; the variants take turns block by block
    (ABBA) on disjoint like sets, which swap between reps.
    """
    runs: Runs = {variant: [] for variant in VARIANTS}
    for rep in range(reps):
        _reset(fixture)
        sets = fixture.singles if rep % 2 == 0 else fixture.singles[::-1]
        pairs = dict(zip(VARIANTS, sets, strict=True))
        for index, start in enumerate(range(0, len(sets[0]), block)):
            for variant in _abba(index):
                _set_signals(variant == "with")
                chunk = pairs[variant][start : start + block]
                runs[variant].append(_without_gc(lambda c=chunk: _time_likes(fixture, c)))
    _reset(fixture)
    return runs


def _statements(fixture: Fixture, reps: int) -> Runs:
    """Bulk runs, each from the same table, paired ABBA rep by rep."""
    runs: Runs = {variant: [] for variant in VARIANTS}
    for rep in range(reps):
        for variant in _abba(rep):
            _reset(fixture)
            _set_signals(variant == "with")
            runs[variant].append(_without_gc(lambda: _time_bulk(fixture.bulk)))
    _reset(fixture)
    return runs


def _without_gc(timer: Callable[[], Run]) -> Run:
    # A collection of the previous run's 10k objects would land in a random run.
    gc.collect()
    gc.disable()
    try:
        return timer()
    finally:
        gc.enable()


def _paired(runs: Runs, key: str) -> dict[str, Any]:
    """Median and quartiles of the paired ratios (without / with) of one timing."""
    ratios = [wo[key] / w[key] for w, wo in zip(runs["with"], runs["without"], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return {"ratio": statistics.median(ratios), "q1_q3": [q1, q3]}


def _median(runs: Iterable[Run], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _summary(rows_per_run: int, runs: Runs) -> dict[str, Any]:
    """Per-op figures from the median run; ratios are medians of paired ratios."""
    total, caller = _paired(runs, "total"), _paired(runs, "caller")
    with_s, without_s = _median(runs["with"], "total"), _median(runs["without"], "total")
    return {
        "rows_per_run": rows_per_run,
        "runs_per_variant": len(runs["with"]),
        "ms_per_op_with": 1000 * with_s / rows_per_run,
        "ms_per_op_without": 1000 * without_s / rows_per_run,
        "rows_per_s_with": rows_per_run / with_s,
        "rows_per_s_without": rows_per_run / without_s,
        "ratio": total["ratio"],
        "ratio_q1_q3": total["q1_q3"],
        "ratio_of_totals": sum(r["total"] for r in runs["without"])
        / sum(r["total"] for r in runs["with"]),
        "caller_ms_per_op_with": 1000 * _median(runs["with"], "caller") / rows_per_run,
        "caller_ms_per_op_without": 1000 * _median(runs["without"], "caller") / rows_per_run,
        "caller_ratio": caller["ratio"],
        "threads_started_with": sum(r["threads"] for r in runs["with"]),
        "threads_started_without": sum(r["threads"] for r in runs["without"]),
    }


def _warm_up(fixture: Fixture, count: int) -> None:
    """Caches, plans and connections warm for both variants before anything is timed."""
    for connected in (True, False):
        _reset(fixture)
        _set_signals(connected)
        _time_likes(fixture, fixture.singles[0][:count])


def main(config: dict[str, Any]) -> dict[str, Any]:
    errors = _ErrorCount()
    logging.getLogger("django_neural_feed").addHandler(errors)
    _record_upstream_threads()
    call_command("migrate", verbosity=0)
    fixture = _populate(config)
    setup_threads = _join_started()
    _quiet_tables()
    _warm_up(fixture, config["warmup_n"])
    single = _blocks(fixture, config["upstream_single_reps"], config["block"])
    bulk = _statements(fixture, config["bulk_reps"])
    profiles = UserFeedProfile.objects.filter(embedding__isnull=False).count()
    return {
        "single_add": {
            "n": config["single_n"],
            "reps": config["upstream_single_reps"],
            **_summary(config["block"], single),
        },
        "bulk_create": {"n": config["bulk_n"], **_summary(len(fixture.bulk), bulk)},
        "signal_errors_logged": errors.count,
        "threads_started_during_setup": setup_threads,
        "profiles_with_embedding": profiles,
        "users": config["users"],
        "items": config["items"],
        "base_likes_per_user": config["base_per_user"],
        "sentence_transformers_installed": find_spec("sentence_transformers") is not None,
        "django": django.get_version(),
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    print(json.dumps(main(json.load(sys.stdin))))
