"""Relay capacity: outbox events per second moved to the Redis broker.

The example project is migrated into a scratch database (real triggers). Then
``BENCH_EVENTS`` (default 20,000) events are written through those triggers, one
statement each, as a web site writes them: three quarters single likes
(``INSERT`` into the likes table), one quarter edits of a movie's title (``UPDATE``
of an embedded text column), shuffled, 500 statements per transaction. Each
statement is one outbox row carrying one key (v2 triggers write one row per
statement), so here rows = events. The rows are copied aside, and every phase
starts from the same outbox, refilled from the copy and vacuumed:

- in process: ``Relay.drain()`` against the real Redis broker, nobody consuming,
  timed from its first claim to an empty outbox; and the same with a no-op
  ``send``, which says what share of the relay's time the broker takes.
- relay processes: one, then two ``dnf-worker --mode relay`` processes (the real
  CLI, woken by NOTIFY), timed from the refill's commit until the outbox is empty.
  Two replicas share the work through ``FOR UPDATE SKIP LOCKED``.
- end to end: one ``dnf-worker`` with default settings (relay and actors, the real
  model), timed from the refill's commit until the outbox and the broker are empty:
  every edited movie embedded, every liking user's profile and every count rebuilt.

``DNF_BENCH_QUICK=1`` shrinks every size, for trying the code, not for figures.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import psutil
import psycopg

from bench.ingest import _flush_redis, _redis_url
from bench.meters import Group, cpu_meter, named, this_process, tree
from bench.scratch import ROOT, scratch_database, server_url, setup_example_project
from dnf_core.events import Task

DB = "dnf_bench_relay"
LOGS = ROOT / ".dnf"


@dataclass(frozen=True)
class Plan:
    """Sizes and clocks."""

    events: int = 20_000
    users: int = 1_000
    movies: int = 4_000
    like_share: float = 0.75
    per_transaction: int = 500
    reps: int = 5  # in-process drains per variant, alternated; a drain is short and noisy
    poll_s: float = 0.01
    timeout_s: float = 900.0
    redis_db: int = 13  # tests flush 15, ingest uses 12, backfill 11
    seed: int = 20_240_607


def _plan() -> Plan:
    quick = os.environ.get("DNF_BENCH_QUICK") == "1"
    plan = Plan(events=2_000, users=200, movies=500, reps=1) if quick else Plan()
    events = os.environ.get("BENCH_EVENTS")
    if events is not None:
        if not events.isdigit() or int(events) < 1:
            raise SystemExit(f"BENCH_EVENTS must be a positive integer, got {events!r}")
        plan = Plan(**(asdict(plan) | {"events": int(events)}))
    return plan


def run() -> dict[str, Any]:
    plan = _plan()
    started = time.perf_counter()
    redis_url = _redis_url(plan.redis_db)
    with scratch_database(server_url(), DB) as url:
        setup_example_project(DB)
        _populate(plan)
        from django.db import connections

        connections.close_all()
        written = _write_events(url, plan)
        outbox = _snapshot(url)
        in_process = _in_process(url, redis_url, plan)
        processes = {n: _relay_processes(url, redis_url, n, plan) for n in (1, 2)}
        end_to_end = _end_to_end(url, redis_url, plan)
    _flush_redis(redis_url)
    relay = in_process["broker"]
    return {
        "events": outbox["rows"],
        "relay_events_per_s": relay["rows_per_s"],
        "relay_messages_per_s": relay["messages_per_s"],
        "relay_process_events_per_s": processes[1]["rows_per_s"],
        "two_relays_events_per_s": processes[2]["rows_per_s"],
        "two_relays_vs_one": processes[2]["rows_per_s"] / processes[1]["rows_per_s"],
        "relay_into_redis_vs_noop_send": relay["rows_per_s"] / in_process["noop"]["rows_per_s"],
        "relay_vs_writers": relay["rows_per_s"] / written["rows_per_s"],
        "end_to_end_events_per_s": end_to_end["events_per_s"],
        "outbox": outbox,
        "writers": written,
        "in_process": in_process,
        "relay_processes": processes,
        "end_to_end": end_to_end,
        "plan": asdict(plan),
        "notes": NOTES,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


NOTES = {
    "events": (
        "one event = one outbox row = one statement of a writer (a like or a tag edit), "
        "carrying one key; a bulk statement would carry many keys in one row"
    ),
    "relay_events_per_s": (
        "in process, Relay.drain() into the real Redis broker with no consumer, batches of "
        "1000 rows: claim (FOR UPDATE SKIP LOCKED), coalesce, enqueue, delete, commit; the "
        "median of `reps` drains of the same outbox"
    ),
    "relay_messages_per_s": "Dramatiq messages enqueued per second in the same drains",
    "relay_into_redis_vs_noop_send": (
        "events/s enqueueing into Redis over events/s with a no-op send: 1.0 means the broker "
        "costs the relay nothing measurable, Postgres (claim, delete, commit) bounds it"
    ),
    "relay_process_events_per_s": (
        "a real `dnf-worker --mode relay` process, idle and listening, woken by the NOTIFY of "
        "the refill's commit; commit to empty outbox (polled every 10 ms)"
    ),
    "two_relays_vs_one": (
        "two relay processes on the same outbox against one; on a 2-core machine they "
        "share the cores with Postgres and Redis"
    ),
    "relay_vs_writers": (
        "relay rate over the rate the writers of this bench produced events (pipelined "
        "statements, 500 per transaction: faster than web requests, one like each)"
    ),
    "end_to_end_events_per_s": (
        "one dnf-worker (relay + actors, default settings, real all-MiniLM-L6-v2 model, "
        "warmed up), refill commit to empty outbox and broker: bounded by embedding"
    ),
}


# -- the events ----------------------------------------------------------------------


def _populate(plan: Plan) -> None:
    """Users and movies, then an empty outbox: what their creation queued is not measured."""
    from django.contrib.auth.models import User
    from django.db import connection

    from catalog.models import Movie

    User.objects.bulk_create(User(username=f"relay{i}") for i in range(plan.users))
    Movie.objects.bulk_create(Movie(title=f"Movie {i}") for i in range(plan.movies))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_outbox")
        # Autovacuum would wake at random moments; phases vacuum between them instead.
        cur.execute("ALTER TABLE dnf_outbox SET (autovacuum_enabled = false)")


def _statements(url: str, plan: Plan) -> list[tuple[str, tuple[Any, ...]]]:
    rng = random.Random(plan.seed)
    with psycopg.connect(url) as conn:
        users = [r[0] for r in conn.execute("SELECT id FROM auth_user ORDER BY id")]
        movies = [r[0] for r in conn.execute("SELECT id FROM catalog_movie ORDER BY id")]
    likes = round(plan.events * plan.like_share)
    if likes > len(users) * len(movies):
        raise SystemExit(f"{likes} distinct likes need more users or movies")
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < likes:
        pairs.add((rng.choice(users), rng.choice(movies)))
    like = "INSERT INTO catalog_movie_likes (user_id, movie_id) VALUES (%s, %s)"
    edit = "UPDATE catalog_movie SET title = %s WHERE id = %s"
    statements = [(like, pair) for pair in sorted(pairs)]
    statements += [(edit, (f"edit {i}", rng.choice(movies))) for i in range(plan.events - likes)]
    rng.shuffle(statements)
    return statements


def _write_events(url: str, plan: Plan) -> dict[str, Any]:
    """Every event through the real triggers: one statement each, pipelined."""
    statements = _statements(url, plan)
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for i in range(0, len(statements), plan.per_transaction):
            with conn.pipeline(), conn.cursor() as cur:
                for statement, params in statements[i : i + plan.per_transaction]:
                    cur.execute(statement, params)
            conn.commit()
        seconds = time.perf_counter() - start
        (rows,) = conn.execute("SELECT count(*) FROM dnf_outbox").fetchone() or (0,)
    if rows != len(statements):
        raise SystemExit(f"{len(statements)} statements wrote {rows} outbox rows")
    return {"statements": len(statements), "seconds": seconds, "rows_per_s": rows / seconds}


def _snapshot(url: str) -> dict[str, Any]:
    """Copy the outbox aside, so every phase starts from the same rows."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE bench_outbox AS SELECT row_number() OVER (ORDER BY id) AS ord, "
            "feed_id, kind, item_key, user_key, item_keys, user_keys FROM dnf_outbox"
        )
        rows, keys = conn.execute(
            "SELECT count(*), sum(coalesce(cardinality(item_keys), cardinality(user_keys), 1)) "
            "FROM bench_outbox"
        ).fetchone() or (0, 0)
        kinds = dict(conn.execute("SELECT kind, count(*) FROM bench_outbox GROUP BY kind"))
    return {"rows": int(rows), "keys": int(keys), "by_kind": kinds}


def _empty_outbox(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM dnf_outbox")
        conn.execute("VACUUM (ANALYZE) dnf_outbox")


def _refill(url: str) -> float:
    """The copied rows back in the outbox, in one transaction that wakes the relays.

    Returns the time of the commit.
    """
    _empty_outbox(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO dnf_outbox (feed_id, kind, item_key, user_key, item_keys, user_keys) "
            "SELECT feed_id, kind, item_key, user_key, item_keys, user_keys "
            "FROM bench_outbox ORDER BY ord"
        )
        conn.execute("SELECT pg_notify('dnf_outbox', 'bench')")
        conn.commit()
        return time.perf_counter()


# -- in process ----------------------------------------------------------------------


def _in_process(url: str, redis_url: str, plan: Plan) -> dict[str, Any]:
    from workers.broker import make_broker
    from workers.dispatch import Dispatcher
    from workers.relay import Relay

    namespace = _namespace(url)
    broker = make_broker(redis_url, namespace=namespace)
    dispatcher = Dispatcher(broker, namespace=namespace)
    runs: dict[str, list[dict[str, Any]]] = {"broker": [], "noop": []}
    try:
        for rep in range(plan.reps):
            order = ("broker", "noop") if rep % 2 == 0 else ("noop", "broker")
            for variant in order:
                _flush_redis(redis_url)
                _refill(url)
                sent: list[int] = []

                def send(
                    task: Task, real: bool = variant == "broker", sent: list[int] = sent
                ) -> None:
                    if real:
                        dispatcher.send(task)
                    sent.append(len(task.keys))

                groups = {"relay": this_process(), "postgres": named("postgres")}
                groups["redis"] = named("redis-server")
                with Relay(url, send) as relay, cpu_meter(groups) as cpu:
                    start = time.perf_counter()
                    rows = relay.drain()
                    seconds = time.perf_counter() - start
                runs[variant].append(
                    {"rows": rows, "seconds": seconds, "messages": len(sent), "cpu": cpu}
                )
    finally:
        broker.close()
    return {variant: _summary(reps) for variant, reps in runs.items()}


def _summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    median = sorted(reps, key=lambda r: r["seconds"])[len(reps) // 2]
    return {
        "rows_per_s": median["rows"] / median["seconds"],
        "messages_per_s": median["messages"] / median["seconds"],
        "ms_per_1000_rows": 1000 * median["seconds"] / median["rows"] * 1000,
        **median,
        "seconds_all_reps": [round(r["seconds"], 3) for r in reps],
        "rows_per_s_spread": [
            round(min(r["rows"] / r["seconds"] for r in reps)),
            round(max(r["rows"] / r["seconds"] for r in reps)),
        ],
    }


# -- real processes ------------------------------------------------------------------


@contextmanager
def _workers(
    url: str, redis_url: str, configs: list[dict[str, Any]]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Real ``dnf-worker`` processes, each healthy (its relay drained once) before the yield."""
    from workers.config import WorkerConfig
    from workers.health import HealthFile
    from workers.spawn import spawn_worker, stop_worker

    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    LOGS.mkdir(parents=True, exist_ok=True)
    processes, files = [], []
    with open(LOGS / "bench-relay-workers.log", "wb") as log:
        try:
            for i, overrides in enumerate(configs):
                health = LOGS / f"bench-relay-{i}.alive"
                HealthFile(health).clear()
                config = WorkerConfig(
                    database_url=url,
                    redis_url=redis_url,
                    backfill=False,
                    health_file=str(health),
                    **overrides,
                )
                processes.append(spawn_worker(config, log=log))
                files.append(HealthFile(health))
            _until(lambda: all(f.age() is not None for f in files), 120, "workers healthy")
            yield processes
        finally:
            for process in processes:
                stop_worker(process)


def _until(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def _groups(workers: list[subprocess.Popen[bytes]]) -> dict[str, Group]:
    """CPU meters: the spawned workers (with their children), Postgres, Redis."""

    def spawned() -> list[psutil.Process]:
        return [p for w in workers for p in tree(psutil.Process(w.pid))()]

    return {"workers": spawned, "postgres": named("postgres"), "redis": named("redis-server")}


def _outbox_empty(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM dnf_outbox)").fetchone()
    return bool(row and row[0])


def _relay_processes(url: str, redis_url: str, n: int, plan: Plan) -> dict[str, Any]:
    import redis as redis_client

    from workers.backlog import pending_messages
    from workers.config import Mode

    _flush_redis(redis_url)
    _empty_outbox(url)
    with (
        _workers(url, redis_url, [{"mode": Mode.RELAY}] * n) as relays,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        groups = _groups(relays)
        with cpu_meter(groups) as cpu:
            committed = _refill(url)
            _until(lambda: _outbox_empty(conn), plan.timeout_s, "an empty outbox", plan.poll_s)
            seconds = time.perf_counter() - committed
    broker = redis_client.Redis.from_url(redis_url)
    messages = pending_messages(broker, _namespace(url))
    broker.close()
    rows = _snapshot_rows(url)
    return {
        "relays": n,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "messages": messages,
        "cpu": cpu,
    }


def _namespace(url: str) -> str:
    """The database's broker namespace: the workers' queues carry it."""
    from workers.database import broker_namespace

    with psycopg.connect(url) as conn:
        return broker_namespace(conn)


def _snapshot_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM bench_outbox").fetchone() or (0,)
    return int(rows)


def _end_to_end(url: str, redis_url: str, plan: Plan) -> dict[str, Any]:
    import redis as redis_client

    from workers.backlog import pending_messages

    _flush_redis(redis_url)
    _empty_outbox(url)
    broker = redis_client.Redis.from_url(redis_url)
    namespace = _namespace(url)
    with (
        _workers(url, redis_url, [{}]) as workers,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        # Warm-up: the first embedding loads the model; time none of it.
        conn.execute(
            "UPDATE catalog_movie SET title = 'warm up' "
            "WHERE id = (SELECT min(id) FROM catalog_movie)"
        )
        _until(
            lambda: _outbox_empty(conn) and pending_messages(broker, namespace) == 0,
            plan.timeout_s,
            "the warm-up",
        )
        marks: dict[str, float] = {}

        def idle() -> bool:
            if "outbox_empty_s" not in marks and _outbox_empty(conn):
                marks["outbox_empty_s"] = time.perf_counter() - committed
            return "outbox_empty_s" in marks and pending_messages(broker, namespace) == 0

        with cpu_meter(_groups(workers)) as cpu:
            committed = _refill(url)
            _until(idle, plan.timeout_s, "an idle pipeline", 0.1)
            seconds = time.perf_counter() - committed
        (embedded,) = conn.execute(
            "SELECT count(*) FROM catalog_movie WHERE embedding_hash IS NOT NULL"
        ).fetchone() or (0,)
        (profiles,) = conn.execute("SELECT count(*) FROM dnf_user_profile").fetchone() or (0,)
    broker.close()
    rows = _snapshot_rows(url)
    return {
        "rows": rows,
        "seconds": seconds,
        "events_per_s": rows / seconds,
        **marks,
        "movies_embedded": int(embedded),
        "profiles": int(profiles),
        "cpu": cpu,
    }
