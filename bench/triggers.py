"""Write overhead of change capture: likes with the feed's triggers vs without, and upstream's.

Ours: the example project's likes table in a scratch database that the real
migrations set up, so the real triggers are installed. "Without" disables them with
``ALTER TABLE ... DISABLE TRIGGER USER``: the foreign-key triggers are system triggers
and stay on, so both variants do the same FK work on the same table. Upstream:
django-neural-feed 1.1.0 in its own virtualenv (``bench/upstream``), its m2m_changed
handler connected vs disconnected. Within each measurement the two variants alternate
(ABBA, in blocks of likes for singles) and the ratio is the median of paired ratios
time without / time with, so 1.0 means no overhead. No relay or worker runs, so the
outbox is not drained meanwhile.

Bulk imports (``paused_bulk_ratio``): one large ``Movie.objects.bulk_create`` in a
transaction, three ways: inside ``dnf_django.capture.paused`` with the feed's
triggers installed, with no feed trigger installed at all (dropped, so not even the
transition tables are kept), and captured as usual. Each rep runs the three in a
rotating order from the same table.

``DNF_BENCH_QUICK=1`` shrinks every size, for trying the code, not for figures.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.scratch import scratch_database, server_url, setup_example_project
from bench.upstream import harness

OURS_DB = "dnf_bench_triggers"
UPSTREAM_DB = "dnf_bench_triggers_upstream"
Pair = tuple[int, int]  # (user id, item id)


@dataclass(frozen=True)
class Plan:
    """Sizes, shared by both sides so they do the same amount of work."""

    users: int = 200
    items: int = 2000
    base_per_user: int = 20  # likes each user has before timing: a full profile window
    single_n: int = 2000  # single likes per variant per rep
    block: int = 100  # singles alternate between variants every `block` likes
    bulk_n: int = 10_000
    single_reps: int = 4  # even, so each like set serves each variant equally often
    upstream_single_reps: int = 2  # a like costs it ~20x ours: 2 keep the run short
    bulk_reps: int = 40  # a bulk run is one short, noisy statement: take many
    warmup_n: int = 200
    import_n: int = 100_000  # movies per bulk import
    import_reps: int = 6  # a multiple of 3 and even: each variant in each position alike
    related_n: int = 10_000  # movies carrying the renamed tag
    related_reps: int = 10  # even: renames alternate with / without capture, ABBA
    seed: int = 20_240_601


QUICK_PLAN = Plan(
    users=50, items=400, single_n=200, block=50, bulk_n=1000, single_reps=2,
    upstream_single_reps=2, bulk_reps=4, warmup_n=20, import_n=2000, import_reps=6,
    related_n=1000, related_reps=4,
)  # fmt: skip


def run() -> dict[str, Any]:
    plan = QUICK_PLAN if os.environ.get("DNF_BENCH_QUICK") == "1" else Plan()
    server = server_url()
    started = time.perf_counter()
    with scratch_database(server, OURS_DB):
        ours = _measure_ours(plan)
    with scratch_database(server, UPSTREAM_DB) as url:
        upstream = harness.measure(url, asdict(plan))
    return {
        "single_ratio": ours["single_create"]["ratio"],
        "single_ratio_add": ours["single_add"]["ratio"],
        "bulk_ratio": ours["bulk_create"]["ratio"],
        "paused_bulk_ratio": ours["bulk_import"]["paused_bulk_ratio"],
        "captured_import_ratio": ours["bulk_import"]["captured_ratio"],
        "related_rename_10k_ms": ours["related_rename"]["ms"]["with"],
        "related_rename_10k_ms_without_capture": ours["related_rename"]["ms"]["without"],
        "related_outbox_rows": ours["related_rename"]["outbox_rows"],
        "upstream_single_ratio": upstream["single_add"]["ratio"],
        "upstream_single_ratio_caller": upstream["single_add"]["caller_ratio"],
        "upstream_bulk_ratio": upstream["bulk_create"]["ratio"],
        "ours": ours,
        "upstream": upstream,
        "plan": asdict(plan),
        "notes": NOTES,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


NOTES = {
    "ratios": (
        "time without / time with = throughput with / without; 1.0 = no overhead. The "
        "median of paired ratios: singles alternate variants every `block` likes (ABBA, "
        "disjoint like sets swapped between reps, the table reset to the same rows before "
        "each rep); bulk runs alternate ABBA, the table reset before each run. Python's GC "
        "is off inside timed runs. ms_per_op / rows_per_s come from each variant's median "
        "run; ratio_q1_q3 shows the spread of the paired ratios."
    ),
    "single_ratio": (
        "ours: Through.objects.create(user_id, movie_id) in autocommit, one INSERT per "
        "transaction, feed triggers enabled vs disabled (FK triggers on in both)."
    ),
    "single_ratio_add": (
        "ours: movie.likes.add(user), one per transaction; the like-for-like peer of "
        "upstream_single_ratio. Django takes the same INSERT .. ON CONFLICT DO NOTHING path "
        "in both variants because ours connects no m2m_changed receiver."
    ),
    "bulk_ratio": (
        "ours: one bulk_create of bulk_n likes (Django sends one INSERT .. UNNEST, so one "
        "trigger call writing bulk_n outbox rows)."
    ),
    "paused_bulk_ratio": (
        "ours: time of one bulk_create of import_n movies in one transaction with NO feed "
        "trigger installed / the same inside dnf_django.capture.paused(MovieFeed) with the "
        "v3 triggers installed (so: throughput paused / throughput with no capture at all; "
        "1.0 = the pause costs nothing). The paused run includes the pause's own statements "
        "and the backfill hand-back at the end of the block, and writes no outbox row "
        "(outbox_rows_paused). Median of per-rep ratios."
    ),
    "related_rename_10k_ms": (
        "ours: UPDATE catalog_tag SET name = .. WHERE id = .. for a tag that related_n movies "
        "carry (the example feed reads tags__name through the many-to-many table), timed "
        "in the writer (statement and commit) with the feed's triggers on the tag table "
        "enabled vs disabled, alternating ABBA; medians. related_outbox_rows: outbox rows "
        "one rename writes (one per statement, holding every movie's key: "
        "related_outbox_keys)."
    ),
    "captured_import_ratio": (
        "ours: the same import with no trigger / captured as usual (one outbox row holding "
        "import_n keys): what the pause saves."
    ),
    "upstream_single_ratio": (
        "upstream: post.likes.add(user), one per transaction, its m2m_changed handler "
        "connected vs disconnected. Connected, Django also SELECTs existing rows and sends "
        "pre/post_add; the handler SELECTs the user and, on commit, starts a thread that "
        "opens its own DB connection, reads the user's 20 latest liked embeddings, averages "
        "them in numpy and upserts the profile. That thread is COUNTED: each like waits "
        "for it before the next one starts."
    ),
    "upstream_single_ratio_caller": (
        "upstream: the same runs, counting only the time add() itself takes: its extra "
        "SELECTs, the signal, the thread's start and the GIL the new thread takes. The "
        "thread's own work is not counted (it still ran, before the next like)."
    ),
    "scope": (
        "ours is the write path only: the profile recompute runs later in worker "
        "processes (not running here), so single_ratio_add compares best with "
        "upstream_single_ratio_caller; upstream_single_ratio also counts the recompute "
        "because upstream runs it inside the web process."
    ),
    "upstream_bulk_ratio": (
        "upstream: one Through.objects.bulk_create of bulk_n likes with vs without its signals. "
        "bulk_create sends no m2m_changed, so nothing runs and the ratio is ~1.0 because "
        "upstream IGNORES bulk writes: those likes never reach any profile "
        "(threads_started_with = 0)."
    ),
    "explain": (
        "ours, EXPLAIN ANALYZE of raw INSERTs rolled back: execution time and the feed "
        "trigger's time, for one row (median of 200) and for bulk_n rows with the feed "
        "triggers on and off. Commit-time work (deferred FK checks, WAL flush) is not in it."
    ),
    "upstream_setup": (
        "posts are created by bulk_create with random 384-d embeddings (no post_save, so "
        "upstream's content-embedding thread never starts; threads_started_during_setup "
        "shows it); each user already has base_per_user likes and a profile row, so each "
        "like's recompute averages a full window of 20 real vectors."
    ),
}


# -- ours --------------------------------------------------------------------------


@dataclass
class Fixture:
    table: str  # the likes (through) table
    movies: dict[int, Any]
    users: dict[int, Any]
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


def _populate(plan: Plan) -> Fixture:
    """The same shape as upstream's: users, embedded movies, base_per_user likes each."""
    from django.contrib.auth.models import User

    from catalog.models import Movie

    through = Movie.likes.through
    vectors = np.random.default_rng(plan.seed).standard_normal((plan.items, 384), dtype=np.float32)
    users = User.objects.bulk_create(User(username=f"bench{i}") for i in range(plan.users))
    movies = Movie.objects.bulk_create(
        Movie(title=f"Movie {i}", embedding=v.tolist()) for i, v in enumerate(vectors)
    )
    single_per_user = plan.single_n // plan.users
    base, single_a, single_b, bulk = _pairs(
        random.Random(plan.seed),
        [u.pk for u in users],
        [m.pk for m in movies],
        [plan.base_per_user, single_per_user, single_per_user, plan.bulk_n // plan.users],
    )
    through.objects.bulk_create(through(user_id=u, movie_id=m) for u, m in base)
    base_max_id = through.objects.order_by("-id").values_list("id", flat=True)[0]
    return Fixture(
        table=through._meta.db_table,
        movies=Movie.objects.defer("embedding").in_bulk([m.pk for m in movies]),
        users={u.pk: u for u in users},
        base_max_id=base_max_id,
        singles=(single_a, single_b),
        bulk=bulk,
    )


def _execute(statement: str, params: list[Any] | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)


def _quiet_tables(fixture: Fixture) -> None:
    # Autovacuum would wake at random moments of either variant; we vacuum between runs.
    for table in (fixture.table, "dnf_outbox"):
        _execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')


def _set_capture(fixture: Fixture, capture: bool) -> None:
    """The feed's triggers on or off; FK triggers are system triggers, untouched."""
    _execute(f'ALTER TABLE "{fixture.table}" {"ENABLE" if capture else "DISABLE"} TRIGGER USER')


def _reset(fixture: Fixture, capture: bool) -> None:
    """Same rows, empty outbox, vacuumed heaps; then the feed's triggers on or off."""
    _set_capture(fixture, False)  # so that the cleanup itself writes no outbox rows
    _execute(f'DELETE FROM "{fixture.table}" WHERE id > %s', [fixture.base_max_id])
    _execute("TRUNCATE dnf_outbox")
    _execute(f'VACUUM (ANALYZE) "{fixture.table}", dnf_outbox')
    _set_capture(fixture, capture)


def _time_creates(fixture: Fixture, pairs: list[Pair]) -> float:
    """``Through.objects.create`` per like: one bare INSERT per autocommit transaction."""
    from catalog.models import Movie

    objects = Movie.likes.through.objects
    start = time.perf_counter()
    for user, movie in pairs:
        objects.create(user_id=user, movie_id=movie)
    return time.perf_counter() - start


def _time_adds(fixture: Fixture, pairs: list[Pair]) -> float:
    """``movie.likes.add(user)`` per like, one transaction each."""
    start = time.perf_counter()
    for user, movie in pairs:
        fixture.movies[movie].likes.add(fixture.users[user])
    return time.perf_counter() - start


def _time_bulk(pairs: list[Pair]) -> float:
    """One ``bulk_create`` of every pair: one statement in one transaction."""
    from catalog.models import Movie

    through = Movie.likes.through
    rows = [through(user_id=u, movie_id=m) for u, m in pairs]
    start = time.perf_counter()
    through.objects.bulk_create(rows)
    return time.perf_counter() - start


VARIANTS = ("with", "without")
Runs = dict[str, list[float]]  # variant -> seconds per timed run, paired by index
PairTimer = Callable[[Fixture, list[Pair]], float]


def _abba(index: int) -> tuple[str, str]:
    # Alternating which variant goes first cancels drift and "second run" effects.
    return VARIANTS if index % 2 == 0 else (VARIANTS[1], VARIANTS[0])


def _blocks(fixture: Fixture, reps: int, block: int, timer: PairTimer) -> Runs:
    """Singles, interleaved in blocks: the shared machine's load spikes hit both alike.

    Each rep starts from the same table; the variants take turns block by block
    (ABBA) on disjoint like sets, which swap between reps.
    """
    runs: Runs = {variant: [] for variant in VARIANTS}
    for rep in range(reps):
        _reset(fixture, capture=False)
        sets = fixture.singles if rep % 2 == 0 else fixture.singles[::-1]
        pairs = dict(zip(VARIANTS, sets, strict=True))
        for index, start in enumerate(range(0, len(sets[0]), block)):
            for variant in _abba(index):
                _set_capture(fixture, variant == "with")
                chunk = pairs[variant][start : start + block]
                runs[variant].append(_without_gc(lambda c=chunk: timer(fixture, c)))
    _reset(fixture, capture=True)
    return runs


def _statements(fixture: Fixture, reps: int, timer: Callable[[], float]) -> Runs:
    """Bulk runs, each from the same table, paired ABBA rep by rep."""
    runs: Runs = {variant: [] for variant in VARIANTS}
    for rep in range(reps):
        for variant in _abba(rep):
            _reset(fixture, capture=variant == "with")
            runs[variant].append(_without_gc(timer))
    _reset(fixture, capture=True)
    return runs


def _without_gc(timer: Callable[[], float]) -> float:
    # A collection of the previous run's 10k objects would land in a random run.
    gc.collect()
    gc.disable()
    try:
        return timer()
    finally:
        gc.enable()


def _summary(rows_per_run: int, runs: Runs) -> dict[str, Any]:
    """Per-op figures from the median run; the ratio is the median of paired ratios."""
    ratios = [wo / w for w, wo in zip(runs["with"], runs["without"], strict=True)]
    with_s, without_s = statistics.median(runs["with"]), statistics.median(runs["without"])
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return {
        "rows_per_run": rows_per_run,
        "runs_per_variant": len(ratios),
        "ms_per_op_with": 1000 * with_s / rows_per_run,
        "ms_per_op_without": 1000 * without_s / rows_per_run,
        "rows_per_s_with": rows_per_run / with_s,
        "rows_per_s_without": rows_per_run / without_s,
        "ratio": statistics.median(ratios),
        "ratio_q1_q3": [q1, q3],
        "ratio_of_totals": sum(runs["without"]) / sum(runs["with"]),
    }


def _singles(fixture: Fixture, plan: Plan, timer: PairTimer) -> dict[str, Any]:
    runs = _blocks(fixture, plan.single_reps, plan.block, timer)
    return {"n": plan.single_n, "reps": plan.single_reps, **_summary(plan.block, runs)}


def _warm_up(fixture: Fixture, plan: Plan) -> None:
    """Caches, plans and connections warm for both variants before anything is timed."""
    for variant in VARIANTS:
        _reset(fixture, capture=variant == "with")
        pairs = fixture.singles[0][: plan.warmup_n]
        _time_creates(fixture, pairs)
        _reset(fixture, capture=variant == "with")
        _time_adds(fixture, pairs)


def _measure_ours(plan: Plan) -> dict[str, Any]:
    setup_example_project(OURS_DB)
    from django.db import connections

    try:
        fixture = _populate(plan)
        _quiet_tables(fixture)
        _warm_up(fixture, plan)
        create = _singles(fixture, plan, _time_creates)
        add = _singles(fixture, plan, _time_adds)
        bulk = _statements(fixture, plan.bulk_reps, lambda: _time_bulk(fixture.bulk))
        explain = _explain(fixture)
        return {
            "single_create": create,
            "single_add": add,
            "bulk_create": {"n": plan.bulk_n, **_summary(len(fixture.bulk), bulk)},
            "bulk_import": _imports(plan),
            "related_rename": _related_rename(plan),
            "explain": explain,
        }
    finally:
        connections.close_all()


# -- evidence: where the triggers' time goes ----------------------------------------


def _explain_insert(statement: str, params: list[Any]) -> dict[str, Any]:
    """EXPLAIN ANALYZE one INSERT in a transaction that is rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params)
            raw = cur.fetchone()[0]
        transaction.set_rollback(True)
    plan: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    return plan


def _trigger_ms(plan: dict[str, Any]) -> float:
    return sum(t["Time"] for t in plan.get("Triggers", []) if t["Trigger Name"].startswith("dnf_"))


def _explain(fixture: Fixture) -> dict[str, Any]:
    """The feed trigger's share of statement execution, single-row and bulk.

    Only execution is seen here: the deferred FK checks and the NOTIFY queue write
    happen at commit, and the outbox rows' WAL is flushed with the commit.
    """
    insert = f'INSERT INTO "{fixture.table}" (user_id, movie_id)'
    _reset(fixture, capture=True)
    singles = [
        _explain_insert(f"{insert} VALUES (%s, %s)", [u, m]) for u, m in fixture.singles[0][:200]
    ]
    users, movies = (list(column) for column in zip(*fixture.bulk, strict=True))
    bulk = f"{insert} SELECT * FROM unnest(%s::int[], %s::bigint[])"
    with_capture = _explain_insert(bulk, [users, movies])
    _reset(fixture, capture=False)
    without_capture = _explain_insert(bulk, [users, movies])
    _reset(fixture, capture=True)
    return {
        "single_row_execution_ms": statistics.median(p["Execution Time"] for p in singles),
        "single_row_trigger_ms": statistics.median(_trigger_ms(p) for p in singles),
        "bulk_rows": len(fixture.bulk),
        "bulk_execution_ms_with": with_capture["Execution Time"],
        "bulk_execution_ms_without": without_capture["Execution Time"],
        "bulk_trigger_ms": _trigger_ms(with_capture),
    }


# -- bulk imports: capture paused ----------------------------------------------------

IMPORT_VARIANTS = ("none", "paused", "captured")


def _feed_triggers(installed: bool) -> None:
    """The movie feed's triggers dropped, then installed again if ``installed``."""
    from catalog.feeds import MovieFeed
    from dnf_core.ddl import CURRENT, _create_triggers, _drop_triggers

    spec = MovieFeed.get_spec()
    # The migrations' own SQL: dropping leaves the tables as if no feed were declared.
    for statement in _drop_triggers(spec, CURRENT):
        _execute(statement)
    if installed:
        for statement in _create_triggers(spec, CURRENT):
            _execute(statement)


def _reset_import(base_max_id: int, variant: str) -> None:
    """The movies before the imports, empty outbox, vacuumed; triggers for ``variant``."""
    _feed_triggers(installed=False)  # so that the cleanup writes no outbox rows
    _execute("DELETE FROM catalog_movie WHERE id > %s", [base_max_id])
    _execute("TRUNCATE dnf_outbox")
    _execute("VACUUM (ANALYZE) catalog_movie, dnf_outbox, dnf_backfill")
    _feed_triggers(installed=variant != "none")


def _time_import(variant: str, n: int, seed: int) -> float:
    """One ``bulk_create`` of ``n`` new movies in one transaction, paused or not."""
    from django.db import transaction

    from catalog.feeds import MovieFeed
    from catalog.models import Movie
    from dnf_django.capture import paused

    rng = random.Random(seed)
    genres = ("Drama", "Comedy", "Sci-Fi", "Horror", "Romance")
    rows = [
        Movie(title=f"Imported movie {i} {rng.random():.6f} {rng.choice(genres)}") for i in range(n)
    ]
    start = time.perf_counter()
    with paused(MovieFeed) if variant == "paused" else transaction.atomic():
        Movie.objects.bulk_create(rows)
    return time.perf_counter() - start


def _outbox_rows() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_outbox")
        return int(cur.fetchone()[0])


def _imports(plan: Plan) -> dict[str, Any]:
    """``paused_bulk_ratio``: a large import inside the pause vs with no trigger at all."""
    from catalog.models import Movie

    base_max_id = Movie.objects.order_by("-id").values_list("id", flat=True)[0]
    for variant in IMPORT_VARIANTS:  # warm plans and caches, untimed
        _reset_import(base_max_id, variant)
        _time_import(variant, min(plan.import_n, 2000), plan.seed)
    runs: Runs = {variant: [] for variant in IMPORT_VARIANTS}
    outbox_paused = []
    for rep in range(plan.import_reps):
        # Rotate which variant goes first, and reverse every other rep.
        order = IMPORT_VARIANTS[rep % 3 :] + IMPORT_VARIANTS[: rep % 3]
        for variant in order if rep % 2 == 0 else order[::-1]:
            _reset_import(base_max_id, variant)
            seed = plan.seed + rep
            runs[variant].append(
                _without_gc(lambda v=variant, s=seed: _time_import(v, plan.import_n, s))
            )
            if variant == "paused":
                outbox_paused.append(_outbox_rows())
    _reset_import(base_max_id, "captured")

    def ratio(measured: str, baseline: str) -> float:
        """Median per rep of baseline time / measured time (throughput measured / baseline)."""
        return statistics.median(b / m for m, b in zip(runs[measured], runs[baseline], strict=True))

    return {
        "n": plan.import_n,
        "reps": plan.import_reps,
        "rows_per_s": {v: plan.import_n / statistics.median(runs[v]) for v in IMPORT_VARIANTS},
        "seconds": runs,
        "paused_bulk_ratio": ratio("paused", "none"),
        "captured_ratio": ratio("captured", "none"),
        "paused_speedup_over_captured": ratio("paused", "captured"),
        "outbox_rows_paused": max(outbox_paused),
    }


# -- related_rename_10k_ms: a rename that changes the text of many items -------------


def _related_fixture(plan: Plan) -> int:
    """related_n new movies carrying one tag (and two of 50 others each); its id."""
    from catalog.models import Movie, Tag

    _feed_triggers(installed=False)  # the set-up is not what is measured
    rng = random.Random(plan.seed)
    carried = Tag.objects.create(name="carried")
    others = Tag.objects.bulk_create(Tag(name=f"other tag {i}") for i in range(50))
    movies = Movie.objects.bulk_create(
        Movie(title=f"Tagged movie {i}") for i in range(plan.related_n)
    )
    links = Movie.tags.through
    links.objects.bulk_create(
        links(movie_id=m.pk, tag_id=t.pk) for m in movies for t in [carried, *rng.sample(others, 2)]
    )
    _feed_triggers(installed=True)
    _execute("TRUNCATE dnf_outbox")
    _execute("VACUUM (ANALYZE) catalog_movie, catalog_tag, catalog_movie_tags, dnf_outbox")
    return carried.pk


def _time_rename(tag: int, name: str) -> float:
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic():
        _execute("UPDATE catalog_tag SET name = %s WHERE id = %s", [name, tag])
    return time.perf_counter() - start


def _related_rename(plan: Plan) -> dict[str, Any]:
    """``related_rename_10k_ms``: the writer's cost of renaming a tag carried by related_n
    movies, with capture (the related trigger follows the links back to the movies and
    writes one outbox row) and without (the tag table's triggers disabled)."""
    from django.db import connection

    tag = _related_fixture(plan)
    runs: Runs = {"with": [], "without": []}
    rows, keys = [], []
    for rep in range(plan.related_reps + 2):  # the first two warm up, untimed
        for variant in _abba(rep):
            verb = "ENABLE" if variant == "with" else "DISABLE"
            _execute(f"ALTER TABLE catalog_tag {verb} TRIGGER USER")
            seconds = _without_gc(lambda r=rep, v=variant: _time_rename(tag, f"carried {r} {v}"))
            if variant == "with":
                with connection.cursor() as cur:
                    cur.execute("SELECT count(*), sum(cardinality(item_keys)) FROM dnf_outbox")
                    count, total = cur.fetchone()
                rows.append(int(count))
                keys.append(int(total or 0))
            _execute("TRUNCATE dnf_outbox")
            if rep >= 2:
                runs[variant].append(seconds)
    _execute("ALTER TABLE catalog_tag ENABLE TRIGGER USER")
    return {
        "n": plan.related_n,
        "reps": plan.related_reps,
        "ms": {v: 1000 * statistics.median(runs[v]) for v in runs},
        "seconds": runs,
        "outbox_rows": max(rows),
        "outbox_keys": max(keys),
    }
