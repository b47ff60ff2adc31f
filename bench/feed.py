"""Feed latency: ``get_feed`` p50/p95, ours against django-neural-feed 1.1.0, one database.

One scratch database holds both libraries' tables, filled with the same synthetic
but realistic data (fixed seed):

- items: ``BENCH_ITEMS`` (default 100,000) 384-d unit vectors clustered in topics
  (topic centroids grouped under a few super-topics, topic sizes long-tailed), each
  item ``normalize(centroid + noise)``, published uniformly over the last 365 days;
- users: ``BENCH_USERS`` (default 2,000); 90% like 20-60 items each, mostly from 1-3
  preferred topics and within a topic along a 1/rank long tail, so a few items are
  very popular; the other 10% have liked nothing (cold start).

Ours: the example project (``catalog.Movie``, ``catalog.feeds.MovieFeed``) migrated
for real; rows loaded with COPY (triggers off), then the state the workers maintain
computed with the workers' own SQL (``profiles_refresh``, ``popularity_recount``),
and the HNSW index rebuilt once at the end, as the migration defines it.
Upstream: its tables (the README's ``Post``, its ``UserFeedProfile``) migrated by
its own code into the same database and filled from ours in SQL, profiles computed
as its ``calculate_user_embedding`` does; its ``get_feed`` with the README's
``Count("likes")`` popularity, HNSW mode off, then on (after building the index its
``NeuralHnswMixin`` declares). See ``NOTES`` for what each figure means.

``DNF_BENCH_QUICK=1`` shrinks every size, for trying the code, not for figures.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from bench import similar
from bench.meters import cpu_meter, named, this_process
from bench.scratch import scratch_database, server_url, setup_example_project
from bench.upstream import harness
from dnf_core.ddl import rank_index_name

DB = "dnf_bench_feed"
DIM = 384
DAY_S = 86400.0
# Upstream's tables, as its migrations and the bench's ``posts`` app name them.
UP_POSTS, UP_LIKES, UP_PROFILES = (
    "posts_post",
    "posts_post_likes",
    "django_neural_feed_userfeedprofile",
)
UP_FEED_ID = "posts_main"
UP_WINDOW = 20  # PostFeed.user_likes_limit
UP_HNSW = (
    "CREATE INDEX posts_post_hnsw_idx ON posts_post USING hnsw (embedding vector_ip_ops) "
    "WITH (m = 16, ef_construction = 64)"
)  # what NeuralHnswMixin's HnswIndex migrates to


@dataclass(frozen=True)
class Plan:
    """Sizes, the same for both sides."""

    items: int = 100_000
    users: int = 2_000
    cold_share: float = 0.1  # users who liked nothing
    super_topics: int = 20
    topics: int = 200
    topic_spread: float = 0.8  # centroid = normalize(super + spread * random unit)
    item_noise: float = 1.0  # item = normalize(centroid + noise * random unit)
    topic_size_exponent: float = 0.7  # topic weights ~ rank^-exponent
    likes_min: int = 20
    likes_max: int = 60
    preferred_share: float = 0.85  # of a user's likes, from their preferred topics
    days: float = 365.0
    seed: int = 20240601
    # Ours, in the bench process.
    warmup_calls: int = 20
    timed_users: int = 200
    timed_cold_users: int = 100
    recall_users: int = 50
    # Upstream: seconds per call at 1M items, so fewer calls.
    upstream_warmup_calls: int = 2
    upstream_calls: int = 20
    upstream_cold_calls: int = 10
    chunk: int = 50_000  # items generated and copied per chunk


QUICK_PLAN = Plan(
    items=5_000,
    users=300,
    warmup_calls=5,
    timed_users=50,
    timed_cold_users=20,
    recall_users=20,
    upstream_calls=5,
    upstream_cold_calls=3,
    chunk=2_000,
)


def _plan() -> Plan:
    plan = QUICK_PLAN if os.environ.get("DNF_BENCH_QUICK") == "1" else Plan()
    items = int(os.environ.get("BENCH_ITEMS", plan.items))
    users = int(os.environ.get("BENCH_USERS", plan.users))
    plan = replace(plan, items=items, users=users)
    if items > 300_000:
        plan = replace(plan, upstream_calls=10, upstream_cold_calls=5)
    return plan


def run() -> dict[str, Any]:
    plan = _plan()
    started = time.perf_counter()
    world = generate(plan)
    with scratch_database(server_url(), DB) as url:
        setup_example_project(DB)
        from catalog.feeds import MovieFeed

        spec = MovieFeed.get_spec()
        with psycopg.connect(url, autocommit=True) as conn:
            load = load_ours(conn, plan, world, spec, url)
            load["upstream_fill_s"] = fill_upstream(conn, url)
            load["vacuum_analyze_s"] = _timed(lambda: conn.execute("VACUUM ANALYZE"))
            ours = time_ours(plan, world)
            ours["recall"] = recall(world, plan)
            ours["explain"] = explain(world)
            ours["similar"] = similar.measure(plan, plan.items)
            upstream_off = _time_upstream(url, plan, world, "off")
            load["upstream_hnsw_build_s"] = _build_index(conn, UP_HNSW)
            conn.execute(f"ANALYZE {UP_POSTS}")
            upstream_on = _time_upstream(url, plan, world, "on")
            ours["second_pass"] = _second_pass(world.timed_users[: plan.timed_users // 2])
            load["sizes_mb"] = _sizes(conn)
        _close_django()
    return _summary(plan, world, load, ours, upstream_off, upstream_on, started)


def _summary(
    plan: Plan,
    world: World,
    load: dict[str, Any],
    ours: dict[str, Any],
    off: dict[str, Any],
    on: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    upstream_best = min(off["profile"]["p50_ms"], on["profile"]["p50_ms"])
    return {
        "items": plan.items,
        "ours_p50_ms": ours["profile"]["p50_ms"],
        "ours_p95_ms": ours["profile"]["p95_ms"],
        "ours_cold_p50_ms": ours["cold"]["p50_ms"],
        "ours_cold_p95_ms": ours["cold"]["p95_ms"],
        "upstream_p50_ms": off["profile"]["p50_ms"],
        "upstream_p95_ms": off["profile"]["p95_ms"],
        "upstream_hnsw_p50_ms": on["profile"]["p50_ms"],
        "upstream_hnsw_p95_ms": on["profile"]["p95_ms"],
        "upstream_cold_p50_ms": off["cold"]["p50_ms"],
        "speedup_p50": upstream_best / ours["profile"]["p50_ms"],
        "speedup_cold_p50": off["cold"]["p50_ms"] / ours["cold"]["p50_ms"],
        "recall_at_20": ours["recall"]["recall_at_20"],
        "recall_at_20_cold": ours["recall"]["recall_at_20_cold"],
        "excluded_100k_extra_ms": ours["excluded_100k"]["extra_p50_ms"],
        "similar_p50_ms": ours["similar"]["p50_ms"],
        "similar_p95_ms": ours["similar"]["p95_ms"],
        "similar_over_feed_p50": ours["similar"]["p50_ms"] / ours["profile"]["p50_ms"],
        "similar_recall_at_10": ours["similar"]["recall_at_10"],
        "ours_queries_per_call": ours["queries_per_call"],
        "ours_cold_queries_per_call": ours["cold_queries_per_call"],
        "upstream_queries_per_call": off["queries_per_call"],
        "upstream_hnsw_queries_per_call": on["queries_per_call"],
        "users": plan.users,
        "users_with_profile": load["profiles"],
        "cold_users": len(world.cold_users),
        "likes": len(world.likes),
        "max_likes_per_item": load["max_likes_per_item"],
        "ours_hnsw_build_s": load["rank_index_build_s"],
        "upstream_hnsw_build_s": load["upstream_hnsw_build_s"],
        "load_s": load["copy_s"],
        "load": load,
        "ours": ours,
        "upstream": {"hnsw_off": off, "hnsw_on": on},
        "plan": asdict(plan),
        "worktree_changes": _worktree_changes(),
        "notes": NOTES,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


NOTES = {
    "data": (
        "numpy, fixed seed. Topic centroids: normalize(super_topic + 0.8 * random unit), "
        "20 super-topics, 200 topics with weights ~ rank^-0.7; item = normalize(centroid + "
        "random unit), so cosine ~0.5 within a topic, ~0.3 within a super-topic, ~0 "
        "otherwise. published_at uniform over the 365 days before the load. Each user "
        "with likes prefers 1-3 topics (drawn by topic weight) and likes 20-60 distinct "
        "items, 85% from preferred topics, item rank r within a topic drawn with density "
        "~1/r (log-uniform), popularity order random within a topic. Likes are inserted "
        "in a random global order, which is their recency. Titles (no genre, no tag) are "
        "short synthetic strings; embedding_hash is the real md5 the workers would write."
    ),
    "load": (
        "ours: COPY (binary) of users, items, likes with session_replication_role = "
        "replica (no triggers, so no outbox; the outbox is truncated anyway) and the HNSW "
        "index dropped; then dnf_item_stat by the workers' popularity_recount SQL and "
        "dnf_user_profile by their profiles_refresh SQL (feed_query over the registry "
        "spec, in batches), then the HNSW index recreated from its pg_indexes definition "
        "with maintenance_work_mem 4GB and 1 parallel worker (hnsw_build_s). copy_s is the "
        "COPY alone. upstream: its own migrations create posts_post, posts_post_likes and "
        "django_neural_feed_userfeedprofile in the SAME database (no table-name clash; "
        "auth_user is shared, so the users are the same rows); filled in SQL from ours "
        "(same ids, vectors, timestamps and like order), its profiles as its "
        "calculate_user_embedding computes them: the mean of the 20 latest likes by "
        "through-table id, L2-normalized. VACUUM ANALYZE of the whole database after."
    ),
    "ours_p50_ms": (
        "list(MovieFeed.get_feed(user, limit=20)) fully evaluated in this process "
        "(Django, DEBUG off, one persistent connection), time.perf_counter around the "
        "call, for timed_users users with a profile after warmup_calls calls for other "
        "users; p95 likewise. ours.second_pass re-times half of them after upstream ran. "
        "*.cpu: who used the cores meanwhile (other_cpu_s: other jobs on this shared "
        "machine, which slow every figure)."
    ),
    "ours_cold_p50_ms": "the same for users with no likes, hence no profile.",
    "feed_sql_only": (
        "ours.feed_sql_only: the feed query alone, as get_feed compiles it, executed and "
        "fetched on Django's cursor (it reads the profile and sets its search settings "
        "itself), for recall_users users: the database's share of ours_p50_ms."
    ),
    "worktree_changes": (
        "git status of dnf_django, dnf_core, sql and examples when this ran: uncommitted "
        "changes measured on top of meta.commit."
    ),
    "ours_queries_per_call": (
        "statements one get_feed sends (CaptureQueriesContext, which also lists the "
        "BEGIN and COMMIT of a transaction block): the feed query alone, for every user. "
        "upstream_*: counted alike."
    ),
    "upstream_p50_ms": (
        "django-neural-feed 1.1.0 in its own virtualenv (bench/upstream/feed.py), "
        "list(PostFeed.get_feed(user, limit=20)) with the README's popularity "
        "Ln(Count('likes') + 1) / Ln(1000) and freshness 1 / (1 + age hours), HNSW mode "
        "off (its default): one query over the whole table with the Count join. Same "
        "users as ours (the first upstream_calls of them), after upstream_warmup_calls "
        "calls. Fewer calls than ours because each takes up to seconds at 1M items. "
        "Postgres settings are the same for both sides: the server's defaults (JIT on) "
        "but shared_buffers, a quarter of the machine's memory up to 4 GB, as the "
        "project's embedded server starts with."
    ),
    "upstream_hnsw_p50_ms": (
        "the same with HNSW mode on, i.e. DJANGO_NEURAL_FEED['HNSW'] = {'ENABLED': True} "
        "(ef_search 40, search pool 500; set as the hnsw_config that setting produces), "
        "after building the index its NeuralHnswMixin declares (vector_ip_ops, m 16, "
        "ef_construction 64; upstream_hnsw_build_s, with the same maintenance settings "
        "as ours). Its popularity and freshness channels still aggregate the whole "
        "table per request."
    ),
    "upstream_cold_p50_ms": "upstream, HNSW mode off, users without a profile.",
    "speedup_p50": (
        "min(upstream_p50_ms, upstream_hnsw_p50_ms) / ours_p50_ms: against upstream's "
        "better mode. speedup_cold_p50 likewise for cold users."
    ),
    "recall_at_20": (
        "for recall_users users with a profile: |ours top 20 & exact top 20| / 20, "
        "averaged. Exact: one SQL statement scoring ALL items with our formula "
        "(w_s (1 - cosine distance) + w_f exp(-ln2 age / half-life) + w_p ln(1+n) / "
        "ln(1+max n) from dnf_item_stat), same now= passed to get_feed, ordered by score "
        "then pk; the ORDER BY is the score, so no index can serve it (exact scan). "
        "recall_at_20_cold: the same for a cold user (similarity 0; all cold users "
        "share one ranking)."
    ),
    "elapsed_s": "the whole benchmark, generation, loads and index builds included.",
    **similar.NOTES,
}


# -- data -------------------------------------------------------------------------


@dataclass
class World:
    """What was generated; item ids are 1..items, user ids 1..users."""

    topics: np.ndarray[Any, Any]  # topic of item id i at index i - 1
    ages_s: np.ndarray[Any, Any]  # its age at load time, seconds
    centroids: np.ndarray[Any, Any]
    likes: list[tuple[int, int]]  # (user id, item id), in insertion (= recency) order
    liking_users: list[int]
    cold_users: list[int]
    warmup_users: list[int]
    timed_users: list[int]
    timed_cold_users: list[int]
    loaded_at: datetime.datetime


def _unit(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def generate(plan: Plan) -> World:
    rng = np.random.default_rng(plan.seed)
    supers = _unit(rng.standard_normal((plan.super_topics, DIM)))
    parent = rng.integers(plan.super_topics, size=plan.topics)
    centroids = _unit(
        supers[parent] + plan.topic_spread * _unit(rng.standard_normal((plan.topics, DIM)))
    )
    weights = (np.arange(plan.topics) + 1.0) ** -plan.topic_size_exponent
    weights /= weights.sum()
    topics = rng.choice(plan.topics, size=plan.items, p=weights).astype(np.int32)
    ages = rng.uniform(0, plan.days * DAY_S, plan.items)
    # Items of each topic in popularity order: a random permutation of the topic.
    members = [rng.permutation(np.flatnonzero(topics == t) + 1) for t in range(plan.topics)]
    populated = np.array([len(m) > 0 for m in members])
    pick = weights * populated
    pick /= pick.sum()

    n_cold = round(plan.users * plan.cold_share)
    liking = list(range(1, plan.users - n_cold + 1))
    cold = list(range(plan.users - n_cold + 1, plan.users + 1))
    likes: list[tuple[int, int]] = []
    for user in liking:
        preferred = rng.choice(plan.topics, size=int(rng.integers(1, 4)), replace=False, p=pick)
        n = int(rng.integers(plan.likes_min, plan.likes_max + 1))
        own = rng.random(n) < plan.preferred_share
        chosen = np.where(
            own, preferred[rng.integers(len(preferred), size=n)], rng.choice(plan.topics, n, p=pick)
        )
        seen: set[int] = set()
        for topic, u in zip(chosen, rng.random(n), strict=True):
            pool = members[topic]
            rank = min(int(np.exp(u * np.log(len(pool)))) - 1, len(pool) - 1)
            item = int(pool[rank])
            if item not in seen:
                seen.add(item)
                likes.append((user, item))
    order = rng.permutation(len(likes))
    likes = [likes[i] for i in order]

    sample = rng.permutation(liking)
    warmup = [int(u) for u in sample[: plan.warmup_calls]]
    timed = [int(u) for u in sample[plan.warmup_calls : plan.warmup_calls + plan.timed_users]]
    timed_cold = [int(u) for u in rng.permutation(cold)[: plan.timed_cold_users]]
    return World(
        topics=topics,
        ages_s=ages,
        centroids=centroids.astype(np.float32),
        likes=likes,
        liking_users=liking,
        cold_users=cold,
        warmup_users=warmup,
        timed_users=timed,
        timed_cold_users=timed_cold,
        loaded_at=datetime.datetime.now(datetime.UTC),
    )


def _item_chunks(plan: Plan, world: World) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
    """(first item id, vectors) per chunk; each chunk from a seed of its own."""
    for start in range(0, plan.items, plan.chunk):
        rng = np.random.default_rng([plan.seed, start])
        topics = world.topics[start : start + plan.chunk]
        noise = _unit(rng.standard_normal((len(topics), DIM)))
        vectors = _unit(world.centroids[topics] + plan.item_noise * noise)
        yield start + 1, vectors.astype(np.float32)


# -- ours: load and maintained state --------------------------------------------------


def load_ours(
    conn: psycopg.Connection[Any], plan: Plan, world: World, spec: Any, url: str
) -> dict[str, Any]:
    table = spec.content_table
    # HNSW indexes are dropped for the load and built once at the end, as a backfill
    # onto an empty index would be far slower; the content table has none since the
    # feed query searches rank vectors, but an older install may.
    found = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexdef ~* 'hnsw'",
        [table],
    ).fetchall()
    for name, _ in found:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    content_indexes = [definition for _, definition in found]
    rank_index = rank_index_name(spec)
    (rank_def,) = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [rank_index]
    ).fetchone() or (None,)
    if rank_def is None:
        raise SystemExit(f"expected the rank index {rank_index}; run migrate")
    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(rank_index)))

    start = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        _copy_users(conn, plan, world)
        _copy_items(conn, plan, world, spec)
        _copy_likes(conn, world, spec)
        for name, column in (
            ("auth_user", "id"),
            (table, spec.content_key),
            (spec.interaction_table, spec.interaction_key_column),
        ):
            _setval(conn, name, column)
    copy_s = time.perf_counter() - start
    conn.execute("TRUNCATE dnf_outbox")
    conn.execute(f"ANALYZE {table}, {spec.interaction_table}, auth_user")
    stats_s = _timed(lambda: _recount_popularity(conn, world, spec))
    profiles_s = _timed(lambda: _refresh_profiles(conn, world, spec))
    factors_s = _timed(lambda: _learn_factors(url, spec))
    ranks_s = _timed(lambda: _write_ranks(conn, plan, spec))
    hnsw_s = sum(_build_index(conn, definition) for definition in content_indexes)
    rank_index_s = _build_index(conn, rank_def)
    profiles = conn.execute(
        "SELECT count(*) FROM dnf_user_profile WHERE feed_id = %s", [spec.feed_id]
    ).fetchone()
    top = conn.execute(
        "SELECT max(interactions), count(*) FROM dnf_item_stat WHERE feed_id = %s", [spec.feed_id]
    ).fetchone()
    outbox = conn.execute("SELECT count(*) FROM dnf_outbox").fetchone()
    return {
        "copy_s": round(copy_s, 1),
        "popularity_recount_s": round(stats_s, 1),
        "profiles_refresh_s": round(profiles_s, 1),
        "hnsw_build_s": round(hnsw_s, 1),
        "content_hnsw_indexes": content_indexes,
        "collaborative_vectors_s": round(factors_s, 1),
        "rank_vectors_s": round(ranks_s, 1),
        "rank_index_build_s": round(rank_index_s, 1),
        "rank_index": rank_def,
        "profiles": profiles[0] if profiles else 0,
        "max_likes_per_item": top[0] if top else 0,
        "items_with_likes": top[1] if top else 0,
        "outbox_rows_after_load": outbox[0] if outbox else 0,
    }


def _setval(conn: psycopg.Connection[Any], table: str, column: str) -> None:
    """The key's sequence past the keys COPY wrote, as if the rows had been inserted."""
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
        f"(SELECT max({column}) FROM {table}))"
    )


def _column_types(conn: psycopg.Connection[Any], table: str, columns: Sequence[str]) -> list[str]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0",
        [table],
    ).fetchall()
    types = dict(rows)
    return [types[c] for c in columns]


def _copy_users(conn: psycopg.Connection[Any], plan: Plan, world: World) -> None:
    columns = ["id", "username", "password", "is_superuser", "first_name", "last_name"]
    columns += ["email", "is_staff", "is_active", "date_joined"]
    types = _column_types(conn, "auth_user", columns)
    with conn.cursor().copy(
        f"COPY auth_user ({', '.join(columns)}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(types)
        for user in range(1, plan.users + 1):
            row = (user, f"bench{user}", "!", False, "", "", "", False, True, world.loaded_at)
            copy.write_row(row)


def _copy_items(conn: psycopg.Connection[Any], plan: Plan, world: World, spec: Any) -> None:
    table = spec.content_table
    # The example feed's text is the title, then the names of the genres and tags
    # linked to the movie: the bench links none, so an item's text is its title.
    if list(spec.text_columns) != ["title", "genres__name", "tags__name"]:
        raise SystemExit(f"unexpected text columns {spec.text_columns}")
    columns = [spec.content_key, "title", spec.freshness_column]
    columns += [spec.embedding_column, spec.embedding_hash_column]
    types = _column_types(conn, table, columns)
    types[-2] = "bytea"  # the vector's binary form, built here (dim, unused, big-endian floats)
    header = struct.pack(">HH", DIM, 0)
    identity = spec.embedding_identity
    with conn.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(types)
        for first, vectors in _item_chunks(plan, world):
            big_endian = vectors.astype(">f4")
            for offset in range(len(vectors)):
                item = first + offset
                topic = int(world.topics[item - 1])
                text = f"Item {item} topic{topic} t{topic} s{item % 7}"  # the title
                digest = hashlib.md5(f"{identity}\n{text}".encode()).hexdigest()
                published = world.loaded_at - datetime.timedelta(
                    seconds=float(world.ages_s[item - 1])
                )
                vector = header + big_endian[offset].tobytes()
                copy.write_row((item, text, published, vector, digest))


def _copy_likes(conn: psycopg.Connection[Any], world: World, spec: Any) -> None:
    table = spec.interaction_table
    columns = [
        spec.interaction_key_column,
        spec.interaction_user_column,
        spec.interaction_item_column,
    ]
    types = _column_types(conn, table, columns)
    with conn.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(types)
        for key, (user, item) in enumerate(world.likes, start=1):
            copy.write_row((key, user, item))


def _batches(keys: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


def _recount_popularity(conn: psycopg.Connection[Any], world: World, spec: Any) -> None:
    """dnf_item_stat as the workers keep it: their SQL, for every liked item."""
    from dnf_core.queries import feed_query

    query = feed_query("popularity_recount", spec)
    items = sorted({str(item) for _, item in world.likes})
    for keys in _batches(items, 5000):
        conn.execute(query, {"keys": keys, "feed_id": spec.feed_id})


def _learn_factors(url: str, spec: Any) -> None:
    """dnf_item_factor and the profiles' collaborative part: the workers' own task."""
    from workers.actors.factors import build_factors
    from workers.database import ThreadConnections
    from workers.runtime import Runtime

    runtime = Runtime(ThreadConnections(url), send=lambda task: None)
    try:
        build_factors(runtime, spec.feed_id, [])
    finally:
        runtime.connections.close_all()


def _write_ranks(conn: psycopg.Connection[Any], plan: Plan, spec: Any) -> None:
    """dnf_item_rank as the workers keep it: their SQL, for every item."""
    from workers.actors.rank import write_ranks

    for start in range(1, plan.items + 1, 5000):
        keys = [str(k) for k in range(start, min(start + 5000, plan.items + 1))]
        with conn.transaction():
            write_ranks(conn, spec, keys)


def _refresh_profiles(conn: psycopg.Connection[Any], world: World, spec: Any) -> None:
    """dnf_user_profile as the workers keep it: their SQL, for every user."""
    from dnf_core.queries import feed_query

    query = feed_query("profiles_refresh", spec)
    users = [str(u) for u in world.liking_users + world.cold_users]
    for keys in _batches(users, 500):
        conn.execute(query, {"users": keys, "feed_id": spec.feed_id, "window": spec.window})


def _build_index(conn: psycopg.Connection[Any], definition: str) -> float:
    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '4GB'")
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        start = time.perf_counter()
        conn.execute(definition)
        return round(time.perf_counter() - start, 1)


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return round(time.perf_counter() - start, 1)


def _sizes(conn: psycopg.Connection[Any]) -> dict[str, float]:
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) / 1048576.0 FROM pg_class c "
        "WHERE c.relname = ANY(%s)",
        [["catalog_movie", "dnf_hnsw_catalog_movie_embedding", UP_POSTS, "posts_post_hnsw_idx"]],
    ).fetchall()
    return {name: round(float(mb), 1) for name, mb in rows}


# -- upstream: tables and timing ---------------------------------------------------------


def fill_upstream(conn: psycopg.Connection[Any], url: str) -> float:
    """Upstream's tables by its migrations, filled from ours; its profiles as it computes them."""
    harness.measure(url, {"action": "migrate"}, script="feed.py")
    start = time.perf_counter()
    with conn.transaction():
        conn.execute(
            f"INSERT INTO {UP_POSTS} (id, title, content, created_at, embedding) "
            "SELECT id, title, '', published_at, embedding "
            "FROM catalog_movie ORDER BY id"
        )
        conn.execute(
            f"INSERT INTO {UP_LIKES} (id, post_id, user_id) "
            "SELECT id, movie_id, user_id FROM catalog_movie_likes ORDER BY id"
        )
        for name in (UP_POSTS, UP_LIKES):
            _setval(conn, name, "id")
        # calculate_user_embedding: the user's likes with an embedding, order_by("-id")
        # [:user_likes_limit], mean, divided by its norm.
        conn.execute(
            f"""
            INSERT INTO {UP_PROFILES} (user_id, feed_id, embedding)
            SELECT u.user_id, %(feed)s, l2_normalize(avg(r.embedding))
            FROM (SELECT DISTINCT user_id FROM {UP_LIKES}) AS u
            CROSS JOIN LATERAL (
                SELECT p.embedding FROM {UP_LIKES} l JOIN {UP_POSTS} p ON p.id = l.post_id
                WHERE l.user_id = u.user_id AND p.embedding IS NOT NULL
                ORDER BY l.id DESC LIMIT %(window)s
            ) AS r
            GROUP BY u.user_id
            """,
            {"feed": UP_FEED_ID, "window": UP_WINDOW},
        )
    return round(time.perf_counter() - start, 1)


def _time_upstream(url: str, plan: Plan, world: World, mode: str) -> dict[str, Any]:
    config = {
        "action": "time",
        "mode": mode,
        "warmup_users": world.warmup_users[: plan.upstream_warmup_calls],
        "users": world.timed_users[: plan.upstream_calls],
        "cold_users": world.timed_cold_users[: plan.upstream_cold_calls] if mode == "off" else [],
    }
    print(f"   upstream, HNSW mode {mode}", file=sys.stderr, flush=True)
    result = harness.measure(url, config, script="feed.py", timeout=4 * 3600)
    if result["errors_logged"]:
        raise SystemExit(f"upstream logged errors: {result['first_error']}")
    return result


# -- ours: timing, recall, plans -----------------------------------------------------------


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _users(ids: Sequence[int]) -> list[Any]:
    from django.contrib.auth import get_user_model

    found = get_user_model().objects.in_bulk(list(ids))
    return [found[pk] for pk in ids]


def _time_ours_calls(ids: Sequence[int]) -> dict[str, Any]:
    from catalog.feeds import MovieFeed

    times = []
    short = 0
    for user in _users(ids):
        start = time.perf_counter()
        items = list(MovieFeed.get_feed(user, limit=20))
        times.append(1000 * (time.perf_counter() - start))
        short += len(items) < 20
    return {
        "calls": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": _percentile(times, 95),
        "min_ms": min(times),
        "max_ms": max(times),
        "calls_with_fewer_than_20_items": short,
    }


def _time_excluded(plan: Plan, ids: Sequence[int], count: int = 100_000) -> dict[str, Any]:
    """get_feed with ``count`` excluded ids against the same users without: the extra
    cost of a large exclusion list. A tenth of the catalogue is real items the user
    has seen (all 100,000 at 1M items); the rest are keys no item has (deleted ones),
    which cost the query the same to carry."""
    from catalog.feeds import MovieFeed

    rng = np.random.default_rng(7)
    seen = min(count, plan.items // 10)
    real = rng.choice(np.arange(1, plan.items + 1), size=seen, replace=False)
    gone = np.arange(plan.items + 1, plan.items + 1 + count - seen)
    excluded = np.concatenate([real, gone]).tolist()
    users = _users(ids)
    with_list, without = [], []
    for user in users:
        for times, kwargs in ((without, {}), (with_list, {"excluded_ids": excluded})):
            start = time.perf_counter()
            list(MovieFeed.get_feed(user, limit=20, **kwargs))
            times.append(1000 * (time.perf_counter() - start))
    plan = MovieFeed.get_feed(users[0], limit=20, excluded_ids=excluded).explain(analyze=True)
    return {
        "excluded_ids": count,
        "of_which_items": seen,
        "calls": len(users),
        "p50_ms": statistics.median(with_list),
        "baseline_p50_ms": statistics.median(without),
        "extra_p50_ms": statistics.median(with_list) - statistics.median(without),
        "plan": [line[:300] for line in VECTOR_LITERAL.sub("'[...]'::vector", plan).splitlines()],
    }


def _second_pass(ids: Sequence[int]) -> dict[str, Any]:
    """Half of the users again, after upstream ran: how much the figures drift."""
    with cpu_meter({"postgres": named("postgres"), "bench": this_process()}) as cpu:
        timed = _time_ours_calls(ids)
    return {**timed, "cpu": cpu}


def _queries_per_call(user_id: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.feeds import MovieFeed

    (user,) = _users([user_id])
    with CaptureQueriesContext(connection) as queries:
        list(MovieFeed.get_feed(user, limit=20))
    return len(queries.captured_queries)


def time_ours(plan: Plan, world: World) -> dict[str, Any]:
    print("   ours", file=sys.stderr, flush=True)
    _time_ours_calls(world.warmup_users)
    _time_ours_calls(world.timed_cold_users[:5])
    with cpu_meter({"postgres": named("postgres"), "bench": this_process()}) as cpu:
        profile = _time_ours_calls(world.timed_users)
        cold = _time_ours_calls(world.timed_cold_users)
    return {
        "profile": profile,
        "cold": cold,
        "cpu": cpu,
        "feed_sql_only": _time_feed_sql(world.timed_users[: plan.recall_users]),
        "queries_per_call": _queries_per_call(world.timed_users[0]),
        "excluded_100k": _time_excluded(plan, world.timed_users[:10]),
        "cold_queries_per_call": _queries_per_call(world.timed_cold_users[0]),
    }


def _time_feed_sql(ids: Sequence[int]) -> dict[str, Any]:
    """The feed query alone (server time and result transfer), built as get_feed builds it.

    The rest of a call is the profile query and Django: building, compiling, and
    turning rows into model instances.
    """
    from django.db import connection

    from catalog.feeds import MovieFeed

    times = []
    for user in _users(ids):
        queryset: Any = MovieFeed.get_feed(user, limit=20)
        query, params = queryset.query.sql_with_params()
        with connection.cursor() as cur:
            start = time.perf_counter()
            cur.execute(query, params)
            cur.fetchall()
            times.append(1000 * (time.perf_counter() - start))
    return {
        "calls": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": _percentile(times, 95),
    }


EXACT = """
WITH profile AS (
    SELECT embedding, collaborative
    FROM dnf_user_profile WHERE user_id = %(user)s AND feed_id = %(feed)s
),
top AS (
    SELECT max(interactions) AS n FROM dnf_item_stat WHERE feed_id = %(feed)s
)
SELECT c.id
FROM catalog_movie c
LEFT JOIN dnf_item_stat s ON s.feed_id = %(feed)s AND s.item_key = c.id::text
LEFT JOIN dnf_item_factor f ON f.feed_id = %(feed)s AND f.item_key = c.id::text
CROSS JOIN top
LEFT JOIN profile p ON true
ORDER BY
    %(w_s)s * CASE WHEN p.embedding IS NULL THEN 0.0
                   ELSE coalesce(1.0 - (c.embedding <=> p.embedding), 0.0) END
  + %(w_c)s * coalesce(-(f.factor <#> p.collaborative), 0.0)
  + %(w_f)s * coalesce(exp(-ln(2) * greatest(extract(epoch from (%(now)s - c.published_at))
                                             ::float8, 0) / %(half_life_s)s), 0)
  + %(w_p)s * coalesce(ln(1.0 + coalesce(s.interactions, 0)::float8)
                       / nullif(ln(1.0 + top.n::float8), 0), 0)
    DESC,
    c.id
LIMIT 20
"""


def recall(world: World, plan: Plan) -> dict[str, Any]:
    """Ours against the exact ranking of every item, same formula, same clock."""
    from django.db import connection, transaction
    from django.utils import timezone

    from catalog.feeds import MovieFeed

    print("   recall", file=sys.stderr, flush=True)
    now = timezone.now()
    params = {
        "feed": MovieFeed.get_spec().feed_id,
        "now": now,
        "w_s": float(MovieFeed.get_setting("weight_similarity")),
        "w_c": float(MovieFeed.get_setting("weight_collaborative")),
        "w_f": float(MovieFeed.get_setting("weight_freshness")),
        "w_p": float(MovieFeed.get_setting("weight_popularity")),
        "half_life_s": float(MovieFeed.get_setting("freshness_half_life_hours")) * 3600.0,
    }

    def overlap(user: Any) -> float:
        ours = [item.pk for item in MovieFeed.get_feed(user, limit=20, now=now)]
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL enable_indexscan = off")
            cur.execute(EXACT, {**params, "user": user.pk})
            exact = [row[0] for row in cur.fetchall()]
        return len(set(ours) & set(exact)) / len(exact)

    users = _users(world.timed_users[: plan.recall_users])
    start = time.perf_counter()
    scores = [overlap(user) for user in users]
    return {
        "recall_at_20": statistics.mean(scores),
        "recall_min": min(scores),
        "users_below_0_95": sum(s < 0.95 for s in scores),
        "users": len(scores),
        "recall_at_20_cold": overlap(_users(world.timed_cold_users[:1])[0]),
        "seconds": round(time.perf_counter() - start, 1),
    }


VECTOR_LITERAL = re.compile(r"'\[[^\]]*\]'::vector")


def explain(world: World) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the feed query, for one user with a profile and one without."""
    from catalog.feeds import MovieFeed

    plans = {}
    for label, user_id in (("profile", world.timed_users[0]), ("cold", world.timed_cold_users[0])):
        (user,) = _users([user_id])
        queryset: Any = MovieFeed.get_feed(user, limit=20)
        text = queryset.explain(analyze=True, buffers=True)
        plans[label] = VECTOR_LITERAL.sub("'[...]'::vector", text).splitlines()
    return plans


def _worktree_changes() -> list[str]:
    """Files of the measured code that differ from the commit recorded in ``meta``."""
    from bench.scratch import ROOT

    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "dnf_django", "dnf_core", "sql", "examples"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return done.stdout.splitlines()


def _close_django() -> None:
    from django.db import connections

    connections.close_all()  # before the scratch database is dropped
