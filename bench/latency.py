"""Latency: how long after its commit a like or a new item shows, idle and under load.

Everything real: the example project migrated into a scratch database (its triggers),
one worker process (relay + actors, default settings) on a Redis database of its own,
the bench as the writer and the observer. The feed's registry row is switched to the
HashingEncoder so that these are the pipeline's figures, not the model's (one call of
all-MiniLM-L6-v2 alone costs tens of ms on two cores).

- idle: one like (or one new item) at a time, each after the pipeline went idle and a
  random 0.2-0.4 s more (so no sample rides on the previous one's wake-up). A separate
  connection polls every 2 ms from just after the commit, client clock, until
  ``dnf_user_profile.embedding`` of the user changes (profile), the user's
  ``get_feed`` differs (feed), the item has a row in ``dnf_item_rank`` (rankable: stage
  one can return it), or the liked item's collaborative vector and the user's
  collaborative profile both changed (collaborative; bounded by a timeout).
- load: a writer process commits likes and new items at fixed rates for ``load_s``
  while the same probes run from probe users, and the oldest outbox row's age is
  sampled.
- stages: the worker runs as ``python -m bench.stages``, which writes when the relay
  woke up, when each enqueue began and ended, when an actor started and finished
  each message; joined with the probes' commit and detection times.
- idle cost: CPU of the idle worker and Redis commands per second over ``idle_cpu_s``.

``DNF_BENCH_QUICK=1`` shrinks every size, for trying the code, not for figures.
``DNF_BENCH_WORKER_ARGS`` adds dnf-worker flags (for before/after comparisons).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shlex
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg

from bench.meters import cpu_meter, tree
from bench.scratch import ROOT, scratch_database, server_url, setup_example_project

DB = "dnf_bench_latency"
LOGS = ROOT / ".dnf"
WORKER_LOG = LOGS / "bench-latency-worker.log"
STAGE_LOG = LOGS / "bench-latency-stages.jsonl"
FEED = "movies"
ENCODER = ("dnf_core.encoders.HashingEncoder", "hashing-384")

# Targets of issue 15, which the summary reports ratios to.
TARGETS_MS = {
    "like_profile_p50_ms": 50.0,
    "like_profile_p99_ms": 250.0,
    "item_rankable_p50_ms": 1000.0,
    "item_rankable_model_p50_ms": 1000.0,
    "like_collaborative_p50_ms": 2000.0,
    "load_p99_ms": 2000.0,
}


@dataclass(frozen=True)
class Plan:
    """Sizes, rates and clocks."""

    movies: int = 3000
    users: int = 300
    probe_users: int = 100
    seed_likes_per_user: int = 10
    idle_likes: int = 200
    idle_feeds: int = 50
    idle_items: int = 100
    # New items timed again with the feed's own encoder (the model), after the rest.
    model_items: int = 30
    collaborative_samples: int = 3
    collaborative_timeout_s: float = 45.0
    load_s: float = 60.0
    load_likes_per_s: float = 100.0
    load_items_per_s: float = 20.0
    poll_s: float = 0.002
    lag_sample_s: float = 0.1
    gap_s: tuple[float, float] = (0.2, 0.4)
    timeout_s: float = 30.0
    idle_cpu_s: float = 10.0
    seed: int = 15
    # Tests flush DB 15, other benches use 12 and 13.
    redis_db: int = 11


QUICK_PLAN = Plan(
    movies=400,
    users=60,
    probe_users=20,
    idle_likes=20,
    idle_feeds=5,
    idle_items=10,
    model_items=3,
    collaborative_samples=1,
    collaborative_timeout_s=5.0,
    load_s=10.0,
    idle_cpu_s=3.0,
)


def run() -> dict[str, Any]:
    plan = QUICK_PLAN if os.environ.get("DNF_BENCH_QUICK") == "1" else Plan()
    started = time.perf_counter()
    redis_url = _redis_url(plan.redis_db)
    with scratch_database(server_url(), DB) as url:
        setup_example_project(DB)
        from dnf_django.evaluation.scratch import set_encoder

        model = _registered_encoder(url)
        set_encoder("default", FEED, *ENCODER)
        _import_the_feed_query()
        movies = _populate(plan)
        _flush_redis(redis_url)
        with _running_worker(url, redis_url) as worker, Probe(url, redis_url, plan) as probe:
            probe.wait_idle(600.0)  # the population's embeddings, profiles and counts
            _seed_likes(url, plan, movies)
            probe.wait_idle(600.0)
            idle_cost = _idle_cost(worker, redis_url, plan)
            picker = LikePicker(url, plan, movies)
            idle = _idle(probe, plan, movies, picker)
            load = _load(probe, url, plan, movies, picker)
            collaborative = _collaborative(probe, plan, picker)
        stages = _stages(probe.samples)
        with_model = _items_with_model(url, redis_url, plan, movies, model)
        from django.db import connections

        connections.close_all()  # before the scratch database is dropped
    return _summary(plan, idle, load, collaborative, stages, idle_cost, with_model, started)


# -- set-up -------------------------------------------------------------------------


def _registered_encoder(url: str) -> tuple[str, str]:
    """The encoder and model the example feed declares, as migrate registered them."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT spec->>'encoder', spec->>'model_name' FROM dnf_feed WHERE feed_id = %s",
            [FEED],
        ).fetchone()
    assert row is not None, f"feed {FEED} is not registered"
    return row[0], row[1]


def _import_the_feed_query() -> None:
    """Evaluate one feed now, so every module get_feed needs is imported at set-up."""
    from catalog.feeds import MovieFeed

    list(MovieFeed.get_feed(None, limit=1))


def _redis_url(db: int) -> str:
    parts = urlsplit(os.environ.get("DNF_REDIS_URL", "redis://localhost:6379/0"))
    return urlunsplit(parts._replace(path=f"/{db}"))


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Movies:
    """Ids of the catalog, and texts for new items not yet inserted."""

    ids: list[int]
    new_texts: list[tuple[str]]


def _populate(plan: Plan) -> Movies:
    """Users and MovieLens movies, committed before the worker starts."""
    from django.contrib.auth.models import User

    from catalog.management.commands.demo import read_movies, save_names
    from catalog.models import Genre, Movie, Tag

    User.objects.bulk_create(User(username=f"latency{i}") for i in range(plan.users))
    movies = read_movies()
    first = movies[: plan.movies]
    Movie.objects.bulk_create([movie for movie, _, _ in first])
    save_names(Genre, Movie.genres.through, "genre_id", [(m, g) for m, g, _ in first])
    save_names(Tag, Movie.tags.through, "tag_id", [(m, t) for m, _, t in first])
    # New items arrive as one INSERT each: their title is their text.
    texts = [(movie.title,) for movie, _, _ in movies[plan.movies :]]
    ids = list(Movie.objects.order_by("id").values_list("id", flat=True))
    return Movies(ids=ids, new_texts=texts)


def _seed_likes(url: str, plan: Plan, movies: Movies) -> None:
    """Every user likes a few of the first 500 movies: profiles and co-likes exist."""
    rng = random.Random(plan.seed)
    with psycopg.connect(url) as conn:
        users = [r[0] for r in conn.execute("SELECT id FROM auth_user ORDER BY id")]
        pairs = [
            (user, movie)
            for user in users
            for movie in rng.sample(movies.ids[:500], plan.seed_likes_per_user)
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO catalog_movie_likes (user_id, movie_id) VALUES (%s, %s)", pairs
            )


@contextmanager
def _running_worker(url: str, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m bench.stages``: dnf-worker's defaults, plus the stage log."""
    from workers.config import WorkerConfig
    from workers.spawn import stop_worker, worker_command

    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    LOGS.mkdir(parents=True, exist_ok=True)
    STAGE_LOG.unlink(missing_ok=True)
    command = worker_command(WorkerConfig(database_url=url, redis_url=redis_url, backfill=False))
    command[2] = "bench.stages"
    command += shlex.split(os.environ.get("DNF_BENCH_WORKER_ARGS", ""))
    with open(WORKER_LOG, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DNF_BENCH_STAGE_LOG": str(STAGE_LOG)},
        )
        try:
            yield process
        finally:
            stop_worker(process)


# -- observing ----------------------------------------------------------------------


@dataclass
class Sample:
    """One probe: what was written, when it committed, when it was seen."""

    kind: str  # like_profile, like_feed, item_rankable, like_collaborative
    phase: str  # idle or load
    key: str  # the user (likes) or item whose message carries the change
    committed: float  # time.time() just after the commit
    seen_ms: float | None  # None: not seen within the timeout
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Probe:
    """Writes one change and polls for its effect, on connections of its own."""

    def __init__(self, url: str, redis_url: str, plan: Plan) -> None:
        self.url = url
        self.redis_url = redis_url
        self.plan = plan
        self.samples: list[Sample] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Probe:
        import redis

        self.writer = psycopg.connect(self.url, autocommit=True)
        self.reader = psycopg.connect(self.url, autocommit=True)
        self.broker = redis.Redis.from_url(self.redis_url)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.writer.close()
        self.reader.close()
        self.broker.close()

    def record(self, sample: Sample) -> Sample:
        with self._lock:
            self.samples.append(sample)
        return sample

    def wait_idle(self, timeout: float) -> None:
        from workers.backlog import measure_backlog

        deadline = time.monotonic() + timeout
        while not measure_backlog(self.reader, self.broker).idle:
            if time.monotonic() > deadline:
                raise SystemExit(f"pipeline not idle after {timeout:.0f} s; see {WORKER_LOG}")
            time.sleep(0.02)

    def poll(self, changed: Callable[[], bool], timeout: float) -> tuple[float | None, int]:
        """Call ``changed`` every ``poll_s`` until it holds: (when it first did, polls).

        ``None`` if it did not within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            if changed():
                return time.time(), polls
            if time.monotonic() > deadline:
                return None, polls
            time.sleep(self.plan.poll_s)

    # Each probe returns its Sample; ``conn`` lets the load phase use its own connections.

    def like_profile(self, user: int, movie: int, phase: str, conn: Conns) -> Sample:
        # The vector, not updated_at: a whole-feed rewrite (collaborative vectors)
        # touches every profile's updated_at without reflecting this like.
        query = (
            "SELECT md5(embedding::text) FROM dnf_user_profile WHERE user_id = %s AND feed_id = %s"
        )

        def profile() -> Any:
            row = conn.reader.execute(query, (user, FEED)).fetchone()
            return row[0] if row else None

        before = profile()
        committed = _like(conn.writer, user, movie)
        seen, polls = self.poll(lambda: profile() != before, self.plan.timeout_s)
        return self.record(
            Sample("like_profile", phase, str(user), committed, _ms(seen, committed), polls)
        )

    def like_feed(self, user: int, movie: int, phase: str, conn: Conns) -> Sample:
        from django.contrib.auth.models import User
        from django.utils import timezone

        from catalog.feeds import MovieFeed

        person = User.objects.get(pk=user)
        now = timezone.now()  # pinned: freshness must not change the feed by itself

        def feed() -> list[tuple[int, float]]:
            return [(m.pk, round(m.score, 9)) for m in MovieFeed.get_feed(person, now=now)]

        before = feed()
        query_start = time.perf_counter()
        feed()
        query_ms = (time.perf_counter() - query_start) * 1000
        committed = _like(conn.writer, user, movie)
        seen, polls = self.poll(lambda: feed() != before, self.plan.timeout_s)
        sample = Sample("like_feed", phase, str(user), committed, _ms(seen, committed), polls)
        sample.extra["get_feed_ms"] = query_ms
        return self.record(sample)

    def item_rankable(self, text: tuple[str], phase: str, conn: Conns) -> Sample:
        row = conn.writer.execute(
            "INSERT INTO catalog_movie (title, published_at) VALUES (%s, now()) RETURNING id",
            text,
        ).fetchone()
        committed = time.time()
        key = str(row[0]) if row else ""
        query = "SELECT EXISTS (SELECT 1 FROM dnf_item_rank WHERE feed_id = %s AND item_key = %s)"

        def rankable() -> bool:
            found = conn.reader.execute(query, (FEED, key)).fetchone()
            return bool(found and found[0])

        seen, polls = self.poll(rankable, self.plan.timeout_s)
        return self.record(
            Sample("item_rankable", phase, key, committed, _ms(seen, committed), polls)
        )

    def like_collaborative(
        self, user: int, movie: int, phase: str, conn: Conns, timeout: float
    ) -> Sample:
        """Until the item's collaborative vector and the user's collaborative profile
        both differ from what they were before the like."""
        item_query = "SELECT factor::text FROM dnf_item_factor WHERE feed_id = %s AND item_key = %s"
        user_query = (
            "SELECT collaborative::text FROM dnf_user_profile WHERE feed_id = %s AND user_id = %s"
        )

        def state() -> tuple[Any, Any]:
            item = conn.reader.execute(item_query, (FEED, str(movie))).fetchone()
            profile = conn.reader.execute(user_query, (FEED, user)).fetchone()
            return (item[0] if item else None, profile[0] if profile else None)

        before = state()

        def changed() -> bool:
            now = state()
            return now[0] != before[0] and now[1] != before[1] and None not in now

        committed = _like(conn.writer, user, movie)
        seen, polls = self.poll(changed, timeout)
        return self.record(
            Sample("like_collaborative", phase, str(user), committed, _ms(seen, committed), polls)
        )


@dataclass
class Conns:
    """A writer and a reader connection, both autocommit."""

    writer: psycopg.Connection[Any]
    reader: psycopg.Connection[Any]


def _like(conn: psycopg.Connection[Any], user: int, movie: int) -> float:
    conn.execute(
        "INSERT INTO catalog_movie_likes (user_id, movie_id) VALUES (%s, %s)", (user, movie)
    )
    return time.time()


def _ms(seen: float | None, committed: float) -> float | None:
    return None if seen is None else (seen - committed) * 1000


class LikePicker:
    """Fresh (user, movie) pairs of the probe users: never liked before, so each inserts."""

    def __init__(self, url: str, plan: Plan, movies: Movies) -> None:
        self.rng = random.Random(plan.seed + 1)
        self.movies = movies.ids
        self.users = _users(url)[: plan.probe_users]
        self.used = _liked(url)

    def next(self, popular: bool = False) -> tuple[int, int]:
        while True:
            # Popular movies (the seed likes' range) have collaborative vectors.
            pool = self.movies[:500] if popular else self.movies
            pair = (self.rng.choice(self.users), self.rng.choice(pool))
            if pair not in self.used:
                self.used.add(pair)
                return pair


def _users(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM auth_user ORDER BY id")]


def _liked(url: str) -> set[tuple[int, int]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT user_id, movie_id FROM catalog_movie_likes"))


# -- phases -------------------------------------------------------------------------


def _idle_cost(worker: subprocess.Popen[bytes], redis_url: str, plan: Plan) -> dict[str, Any]:
    """CPU of the idle worker, and Redis commands per second, over ``idle_cpu_s``."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        before = int(client.info("stats")["total_commands_processed"])
        with cpu_meter({"worker": tree(psutil.Process(worker.pid))}) as cpu:
            time.sleep(plan.idle_cpu_s)
        after = int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()
    seconds = cpu["wall_s"]
    return {
        "worker_cpu_share": round(cpu["worker_cpu_s"] / seconds, 4),
        # Two INFO calls are ours; everything else is the idle worker's polling.
        "redis_commands_per_s": round((after - before - 1) / seconds, 1),
        "cpu": cpu,
    }


def _idle(probe: Probe, plan: Plan, movies: Movies, picker: LikePicker) -> dict[str, list[Sample]]:
    rng = random.Random(plan.seed + 2)
    conns = Conns(probe.writer, probe.reader)
    out: dict[str, list[Sample]] = {"like_profile": [], "like_feed": [], "item_rankable": []}

    def settle() -> None:
        probe.wait_idle(plan.timeout_s)
        time.sleep(rng.uniform(*plan.gap_s))

    settle()
    for _ in range(plan.idle_likes):
        out["like_profile"].append(probe.like_profile(*picker.next(), "idle", conns))
        settle()
    for _ in range(plan.idle_feeds):
        out["like_feed"].append(probe.like_feed(*picker.next(), "idle", conns))
        settle()
    for _ in range(plan.idle_items):
        out["item_rankable"].append(probe.item_rankable(movies.new_texts.pop(), "idle", conns))
        settle()
    return out


def _collaborative(probe: Probe, plan: Plan, picker: LikePicker) -> dict[str, Any]:
    """Idle like -> collaborative part; stops at the first sample past the timeout."""
    conns = Conns(probe.writer, probe.reader)
    samples: list[Sample] = []
    for _ in range(plan.collaborative_samples):
        probe.wait_idle(plan.timeout_s)
        sample = probe.like_collaborative(
            *picker.next(popular=True), "idle", conns, plan.collaborative_timeout_s
        )
        samples.append(sample)
        if sample.seen_ms is None:
            break
    return {"samples": samples, "factors": _factor_settings()}


def _items_with_model(
    url: str, redis_url: str, plan: Plan, movies: Movies, encoder: tuple[str, str]
) -> dict[str, Any]:
    """Idle new item -> rankable with the feed's own encoder: the figure a site sees.

    A worker of its own, after the other phases: the feed's registry row back on its
    encoder, one item first to load the model (not timed), then ``model_items``."""
    from dnf_django.evaluation.scratch import set_encoder

    set_encoder("default", FEED, *encoder)
    rng = random.Random(plan.seed + 3)
    with _running_worker(url, redis_url), Probe(url, redis_url, plan) as probe:
        conns = Conns(probe.writer, probe.reader)
        probe.wait_idle(plan.timeout_s)
        warm_up = probe.item_rankable(movies.new_texts.pop(), "model", conns)
        samples = []
        for _ in range(plan.model_items):
            probe.wait_idle(plan.timeout_s)
            time.sleep(rng.uniform(*plan.gap_s))
            samples.append(probe.item_rankable(movies.new_texts.pop(), "model", conns))
    return {
        "encoder": encoder[0],
        "model_name": encoder[1],
        "warm_up_ms": warm_up.seen_ms,
        **_figures(samples, "item_rankable"),
    }


def _factor_settings() -> dict[str, str | None]:
    return {v: os.environ.get(v) for v in ("DNF_FACTORS_DELAY_S", "DNF_FACTORS_INTERVAL_S")}


def _load(probe: Probe, url: str, plan: Plan, movies: Movies, picker: LikePicker) -> dict[str, Any]:
    """The writer process at fixed rates; probes and the outbox-lag sampler meanwhile."""
    n_items = int(plan.load_items_per_s * plan.load_s) + 1
    items = [movies.new_texts.pop() for _ in range(n_items)]
    # Users other than the probe users: the writer's likes never collide with a probe's.
    load_users = _users(url)[plan.probe_users :]
    liked = _liked(url)
    rng = random.Random(plan.seed + 4)
    n_likes = int(plan.load_likes_per_s * plan.load_s) + 1
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n_likes:
        pair = (rng.choice(load_users), rng.choice(movies.ids))
        if pair not in liked:
            pairs.add(pair)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    done = context.Queue()
    writer = context.Process(
        target=_write_load,
        args=(url, plan, sorted(pairs), items, ready, done),
        name="latency-writer",
    )
    writer.start()
    if not ready.wait(60):
        raise SystemExit("the load writer did not start")
    start = time.monotonic()
    stop = threading.Event()
    lags: list[float] = []
    sampler = threading.Thread(target=_sample_lag, args=(url, plan, stop, lags), daemon=True)
    sampler.start()
    out: dict[str, list[Sample]] = {"like_profile": [], "like_feed": [], "item_rankable": []}
    with (
        psycopg.connect(url, autocommit=True) as w,
        psycopg.connect(url, autocommit=True) as r,
    ):
        conns = Conns(w, r)
        turn = 0
        while time.monotonic() - start < plan.load_s:
            # Two profile probes, one item probe, and every fourth round a feed probe.
            out["like_profile"].append(probe.like_profile(*picker.next(), "load", conns))
            out["item_rankable"].append(probe.item_rankable(movies.new_texts.pop(), "load", conns))
            out["like_profile"].append(probe.like_profile(*picker.next(), "load", conns))
            if turn % 4 == 0:
                out["like_feed"].append(probe.like_feed(*picker.next(), "load", conns))
            turn += 1
    written = done.get(timeout=plan.load_s + 60)
    writer.join()
    stop.set()
    sampler.join()
    drain_start = time.monotonic()
    probe.wait_idle(600.0)
    return {
        "samples": out,
        "writer": written,
        "outbox_lag_max_s": max(lags, default=None),
        "outbox_lag_p99_s": _quantile(lags, 0.99),
        "outbox_lag_samples": len(lags),
        "drained_after_load_s": round(time.monotonic() - drain_start, 2),
    }


def _write_load(
    url: str,
    plan: Plan,
    pairs: list[tuple[int, int]],
    items: list[tuple[str, str, str]],
    ready: Any,
    done: Any,
) -> None:
    """The writer process: one like or one item per transaction, on a fixed schedule."""
    rng = random.Random(plan.seed + 5)
    rng.shuffle(pairs)
    events: list[tuple[float, str, tuple[Any, ...]]] = [
        (i / plan.load_likes_per_s, "like", p) for i, p in enumerate(pairs)
    ]
    events += [(i / plan.load_items_per_s, "item", t) for i, t in enumerate(items)]
    events.sort(key=lambda e: e[0])
    late = 0
    count = {"like": 0, "item": 0}
    with psycopg.connect(url, autocommit=True) as conn:
        ready.set()
        start = time.monotonic()
        for at, kind, value in events:
            if at >= plan.load_s:
                break
            wait = start + at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.1:
                late += 1
            if kind == "like":
                conn.execute(
                    "INSERT INTO catalog_movie_likes (user_id, movie_id) VALUES (%s, %s)", value
                )
            else:
                conn.execute(
                    "INSERT INTO catalog_movie (title, published_at) VALUES (%s, now())",
                    value,
                )
            count[kind] += 1
        seconds = time.monotonic() - start
    done.put(
        {
            "likes": count["like"],
            "items": count["item"],
            "seconds": round(seconds, 2),
            "likes_per_s": round(count["like"] / seconds, 1),
            "items_per_s": round(count["item"] / seconds, 1),
            "events_late_over_100ms": late,
        }
    )


def _sample_lag(url: str, plan: Plan, stop: threading.Event, lags: list[float]) -> None:
    query = (
        "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 "
        "FROM dnf_outbox"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(plan.lag_sample_s):
            row = conn.execute(query).fetchone()
            lags.append(float(row[0]) if row else 0.0)


# -- stages -------------------------------------------------------------------------

_ACTOR_OF = {
    "like_profile": "dnf_profiles",
    "like_feed": "dnf_profiles",
    "item_rankable": "dnf_embed",
}


def _stages(samples: list[Sample]) -> dict[str, Any]:
    """Per probe kind and phase, the median of each stage of the message that did it."""
    lines = [json.loads(line) for line in STAGE_LOG.read_text().splitlines() if line.strip()]
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in lines:
        for key in line["keys"]:
            by_key.setdefault((line["actor"], str(key)), []).append(line)
    report: dict[str, Any] = {}
    for kind, actor in _ACTOR_OF.items():
        for phase in ("idle", "load"):
            rows = []
            for sample in samples:
                if sample.kind != kind or sample.phase != phase or sample.seen_ms is None:
                    continue
                seen = sample.committed + sample.seen_ms / 1000
                # The first message for this key that the relay sent after the commit.
                found = [
                    m
                    for m in by_key.get((actor, sample.key), [])
                    if m["enq0"] is not None and sample.committed <= m["enq0"] <= seen
                ]
                if found:
                    rows.append(_stage_row(sample, min(found, key=lambda m: m["enq0"]), seen))
            if rows:
                report[f"{kind}_{phase}"] = {
                    "samples": len(rows),
                    **{
                        f"{stage}_p50_ms": _quantile([r[stage] for r in rows], 0.5)
                        for stage in rows[0]
                    },
                    **{
                        f"{stage}_p99_ms": _quantile([r[stage] for r in rows], 0.99)
                        for stage in rows[0]
                    },
                }
    return report


def _stage_row(sample: Sample, m: dict[str, Any], seen: float) -> dict[str, float]:
    committed = sample.committed
    wake = m["wake"] if m["wake"] and m["wake"] >= committed else None
    return {
        # The relay's LISTEN wait returned (None: woken before this commit, by another).
        "relay_wake": (wake - committed) * 1000 if wake else float("nan"),
        # Wake-up (or commit) to the start of the enqueue: claim and coalescing.
        "relay_claim": (m["enq0"] - (wake or committed)) * 1000,
        "enqueue": (m["enq1"] - m["enq0"]) * 1000,
        "broker_pickup": (m["start"] - m["enq1"]) * 1000,
        "actor": (m["end"] - m["start"]) * 1000,
        # The actor's commit and the probe's next poll.
        "commit_and_poll": (seen - m["end"]) * 1000,
        "total": (seen - committed) * 1000,
    }


# -- summary ------------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v == v)  # NaN: stage not observed
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1], 2)


def _figures(samples: list[Sample], kind: str) -> dict[str, Any]:
    seen = [s.seen_ms for s in samples if s.kind == kind and s.seen_ms is not None]
    missed = sum(1 for s in samples if s.kind == kind and s.seen_ms is None)
    return {
        "n": len(seen),
        "timed_out": missed,
        "p50_ms": _quantile(seen, 0.5),
        "p90_ms": _quantile(seen, 0.9),
        "p99_ms": _quantile(seen, 0.99),
        "max_ms": round(max(seen), 2) if seen else None,
    }


def _summary(
    plan: Plan,
    idle: dict[str, list[Sample]],
    load: dict[str, Any],
    collaborative: dict[str, Any],
    stages: dict[str, Any],
    idle_cost: dict[str, Any],
    with_model: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    flat_idle = [s for samples in idle.values() for s in samples]
    flat_load = [s for samples in load["samples"].values() for s in samples]
    kinds = ("like_profile", "like_feed", "item_rankable")
    idle_fig = {k: _figures(flat_idle, k) for k in kinds}
    load_fig = {k: _figures(flat_load, k) for k in kinds}
    collab = collaborative["samples"]
    collab_fig = _figures(collab, "like_collaborative")
    collab_p50 = collab_fig["p50_ms"] if collab_fig["timed_out"] == 0 else None
    feed_ms = [s.extra["get_feed_ms"] for s in flat_idle if "get_feed_ms" in s.extra]
    result: dict[str, Any] = {
        "like_profile_p50_ms": idle_fig["like_profile"]["p50_ms"],
        "like_profile_p99_ms": idle_fig["like_profile"]["p99_ms"],
        "like_feed_p50_ms": idle_fig["like_feed"]["p50_ms"],
        "item_rankable_p50_ms": idle_fig["item_rankable"]["p50_ms"],
        "item_rankable_p99_ms": idle_fig["item_rankable"]["p99_ms"],
        "item_rankable_model_p50_ms": with_model["p50_ms"],
        "item_rankable_model_p99_ms": with_model["p99_ms"],
        "like_collaborative_p50_ms": collab_p50,
        "like_collaborative_reason": None
        if collab_p50 is not None
        else (
            f"a sample exceeded the {plan.collaborative_timeout_s:.0f} s timeout: collaborative "
            "vectors are relearned as a whole, DNF_FACTORS_DELAY_S (default 30 s) after the "
            "first like since the last rebuild and at most every DNF_FACTORS_INTERVAL_S "
            "(default 600 s); the profile's collaborative part moves at once, from the "
            "current vectors"
        ),
        "load": {
            "like_profile_p50_ms": load_fig["like_profile"]["p50_ms"],
            "like_profile_p99_ms": load_fig["like_profile"]["p99_ms"],
            "like_feed_p50_ms": load_fig["like_feed"]["p50_ms"],
            "item_rankable_p50_ms": load_fig["item_rankable"]["p50_ms"],
            "item_rankable_p99_ms": load_fig["item_rankable"]["p99_ms"],
            "outbox_lag_max_s": load["outbox_lag_max_s"],
            "outbox_lag_p99_s": load["outbox_lag_p99_s"],
            "writer": load["writer"],
            "drained_after_load_s": load["drained_after_load_s"],
        },
        "idle_worker": idle_cost,
    }
    result["vs_targets"] = _ratios(result)
    result.update(
        {
            "idle": idle_fig,
            "load_detail": load_fig,
            "collaborative": {**collab_fig, "factors_env": collaborative["factors"]},
            "with_model": with_model,
            "stages": stages,
            "get_feed_query_p50_ms": _quantile(feed_ms, 0.5),
            "worker_args": os.environ.get("DNF_BENCH_WORKER_ARGS", ""),
            "plan": asdict(plan),
            "notes": NOTES,
            "elapsed_s": round(time.perf_counter() - started, 1),
        }
    )
    return result


def _ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """Each figure over its target: <= 1.0 meets it."""

    def ratio(value: float | None, target: float) -> float | None:
        return None if value is None else round(value / target, 3)

    load = result["load"]
    load_p99 = [load["like_profile_p99_ms"], load["item_rankable_p99_ms"]]
    worst = max((v for v in load_p99 if v is not None), default=None)
    return {
        name: ratio(result[name], TARGETS_MS[name]) for name in TARGETS_MS if name in result
    } | {"load_worst_p99": ratio(worst, TARGETS_MS["load_p99_ms"])}


NOTES = {
    "encoder": (
        "the feed's registry row is switched to dnf_core.encoders.HashingEncoder "
        "(hashing-384) so the figures are the pipeline's, not the model's; "
        "item_rankable_model_* (with_model) times new items again with the feed's own "
        "encoder, in a worker of its own after the other phases, the model loaded first"
    ),
    "clock": (
        "from time.time() just after the writer's COMMIT returned, to the first poll "
        "(every 2 ms, a separate connection) that sees the effect; includes up to one "
        "poll interval and the poll query itself"
    ),
    "like_profile": (
        "the user's dnf_user_profile.embedding changed (not updated_at, which a rewrite "
        "of every profile for collaborative vectors also changes)"
    ),
    "like_feed": (
        "MovieFeed.get_feed(user, now=pinned) returns other (id, score) pairs than just "
        "before the like; polled back to back (each poll is one feed query)"
    ),
    "item_rankable": "a row for the new item exists in dnf_item_rank (stage one returns it)",
    "like_collaborative": (
        "both the liked item's dnf_item_factor vector and the user's collaborative profile "
        "differ from before the like; liked items are among those with seed likes"
    ),
    "idle": "one probe at a time, each after the pipeline went idle plus 0.2-0.4 s",
    "load": (
        "a writer process commits single-row likes and items at the plan's rates (see "
        "load.writer for what it achieved) while probe users' likes and items are probed "
        "in turn; outbox lag = age of the oldest dnf_outbox row, sampled every 0.1 s"
    ),
    "stages": (
        "from the worker's stage log (bench/stages.py, bench-only middleware): relay_wake "
        "= commit to the relay's LISTEN wait returning; relay_claim = to the start of the "
        "enqueue (claim, coalesce); enqueue = the Redis enqueue; broker_pickup = enqueued "
        "to an actor thread starting it (the consumer's fetch); actor = the actor's run "
        "including its commit; commit_and_poll = to the probe seeing it"
    ),
    "idle_worker": (
        "CPU share of one core used by the idle worker process (relay + actors) and "
        "Redis commands per second, over plan.idle_cpu_s with nothing to do"
    ),
}
