"""Postgres connections for the worker process (psycopg 3, no Django)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dnf_core.errors import ServiceError
from dnf_core.sqlfiles import load_sql

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


def connect(database_url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """Open a connection with the pgvector types registered."""
    try:
        # libpq waits forever on an unreachable host by default; a URL may still override.
        params = conninfo_to_dict(database_url)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        conn = psycopg.connect(make_conninfo("", **params), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise ServiceError(f"cannot connect to Postgres: {exc}") from exc
    try:
        register_vector(conn)
    except psycopg.ProgrammingError as exc:
        conn.close()
        raise ServiceError(
            "the pgvector extension is not installed in this database; run the migrations"
        ) from exc
    return conn


def broker_namespace(conn: psycopg.Connection[Any]) -> str:
    """The broker namespace of ``conn``'s database (``sql/queries/broker_namespace.sql``).

    Every queue of the database's pipeline carries it: the same for its relays and
    actors however they reach it, different for any other database.
    """
    row = conn.execute(load_sql("queries/broker_namespace")).fetchone()
    assert row is not None
    return str(row[0])


def wait_for_namespace(database_url: str, *, max_backoff: float = 5.0) -> str:
    """:func:`broker_namespace` of ``database_url``'s database, retried until Postgres
    answers: a worker started before its database waits for it, as the relay does."""
    backoff = 0.25
    while True:
        try:
            with connect(database_url, autocommit=True) as conn:
                return broker_namespace(conn)
        except (ServiceError, psycopg.OperationalError) as exc:
            logger.warning("cannot read the broker namespace (%s); retrying in %.2fs", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


class ThreadConnections:
    """One lazily opened autocommit connection per thread, replaced when it breaks.

    Autocommit, so that every unit of work states its transaction explicitly with
    ``conn.transaction()`` and no idle transaction is ever left open between messages.

    Dramatiq runs actors on a pool of threads; a psycopg connection must not be shared
    between threads running transactions at once, and a per-thread connection is
    reused across messages instead of paying a connect per message.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def get(self) -> psycopg.Connection[Any]:
        """This thread's healthy connection."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.database_url, autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close_all(self) -> None:
        """Close every connection handed out (at shutdown, when no thread uses them)."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
