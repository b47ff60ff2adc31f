"""Where an evaluation runs: a scratch database and a Redis database of its own.

The user's data is only ever read: the feed's rows are copied into a temporary
database on the same Postgres server, migrated with the project's own migrations
(so it has the real triggers, registry row and indexes), reachable through a temporary
connection alias, and dropped afterwards. The worker started for it uses an
empty Redis database, so the user's own workers never see its messages.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import redis
from django.core.management import call_command
from django.db import connections
from django.db.utils import load_backend
from psycopg.conninfo import make_conninfo

from dnf_core.errors import EvaluationError, ServiceError
from dnf_core.identifiers import quote_identifier, quote_literal
from dnf_core.sqlfiles import load_sql, render_sql
from dnf_django.endpoints import database_url

# Set in the Redis database an evaluation claims; nothing else writes this key.
REDIS_MARKER = "dnf:evaluation"


@dataclass(frozen=True)
class ScratchDatabase:
    """The scratch database: its connection alias (this thread only) and its URL."""

    alias: str
    url: str


@contextmanager
def scratch_database(source: str = "default") -> Iterator[ScratchDatabase]:
    """A new, migrated database on ``source``'s server; dropped afterwards.

    Its connection is registered for the current thread only and is not added to
    ``settings.DATABASES``: nothing else in the process can stumble on it.
    """
    name = f"dnf_eval_{secrets.token_hex(4)}"
    server = database_url(source)
    create = render_sql("evaluation/create_database", database=quote_identifier(name))
    drop = render_sql("evaluation/drop_database", database=quote_identifier(name))
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(create)
    except psycopg.Error as exc:
        raise EvaluationError(
            f"cannot create a scratch database on {source!r}'s server (the evaluation never "
            f"writes to your database, so it needs CREATEDB): {exc}"
        ) from exc
    alias = name
    settings_dict = dict(connections[source].settings_dict, NAME=name)
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    connections[alias] = wrapper
    try:
        call_command("migrate", database=alias, verbosity=0, interactive=False)
        yield ScratchDatabase(alias=alias, url=make_conninfo(server, dbname=name))
    finally:
        wrapper.close()
        del connections[alias]
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(drop)


def drop_foreign_keys(alias: str, tables: list[str]) -> None:
    """Let the scratch copy hold content and interactions without the rows they refer to."""
    sql = render_sql("evaluation/drop_foreign_keys", tables=", ".join(map(quote_literal, tables)))
    with connections[alias].cursor() as cur:
        cur.execute(sql)


def set_encoder(alias: str, feed_id: str, encoder: str, model_name: str) -> None:
    """Point the scratch database's registry row of ``feed_id`` at another encoder."""
    with connections[alias].cursor() as cur:
        cur.execute(load_sql("evaluation/set_encoder"), [encoder, model_name, feed_id])
        if cur.rowcount != 1:
            raise EvaluationError(f"feed {feed_id!r} is not in the scratch database's registry")
        cur.execute(load_sql("evaluation/forget_model"), [feed_id])


def set_backend(alias: str, feed_id: str, backend: str) -> None:
    """Point the scratch database's registry row of ``feed_id`` at another encoder
    backend (ENCODER_BACKEND) of its model."""
    with connections[alias].cursor() as cur:
        cur.execute(load_sql("evaluation/set_backend"), [backend, feed_id])
        if cur.rowcount != 1:
            raise EvaluationError(f"feed {feed_id!r} is not in the scratch database's registry")
        cur.execute(load_sql("evaluation/forget_model"), [feed_id])


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": str(db)}
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(path=f"/{db}"))


@contextmanager
def scratch_redis(url: str) -> Iterator[str]:
    """The URL of an empty database of ``url``'s Redis server, claimed, flushed after."""
    token = secrets.token_hex(8)
    try:
        current = int(redis.Redis.from_url(url).connection_pool.connection_kwargs.get("db", 0))
        for db in range(14, 0, -1):  # 15 is the tests' own, 0 the usual default
            if db == current:
                continue
            candidate = _with_db(url, db)
            client: Any = redis.Redis.from_url(candidate)
            if client.set(REDIS_MARKER, token, nx=True):
                if client.dbsize() == 1:
                    break
                client.delete(REDIS_MARKER)
            client.close()
        else:
            raise EvaluationError(
                "no empty Redis database to run the evaluation's worker on "
                f"(tried 14 down to 1 on {url})"
            )
    except redis.RedisError as exc:
        raise ServiceError(f"Redis at {url}: {exc}") from exc
    try:
        yield candidate
    finally:
        if client.get(REDIS_MARKER) == token.encode():
            client.flushdb()
        client.close()
