"""Throwaway services for a benchmark: a scratch database, the example project on it.

Every benchmark works on a database of its own, created on the server that
``DNF_DATABASE_URL`` names and dropped afterwards, so a run never touches the
developer's data and a leftover of an interrupted run is simply replaced.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "movies"


def server_url() -> str:
    """The Postgres server the benchmarks use, from ``DNF_DATABASE_URL``."""
    url = os.environ.get("DNF_DATABASE_URL")
    if not url:
        raise SystemExit("DNF_DATABASE_URL is not set: run via `python -m dnf_core.services run`")
    return url


@contextmanager
def scratch_database(server: str, name: str) -> Iterator[str]:
    """A fresh database ``name`` on the server of ``server``, dropped afterwards."""
    admin = make_conninfo(server, dbname="postgres")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)  # a leftover of an interrupted run
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(drop)


def setup_example_project(database: str) -> None:
    """The example project, pointed at the scratch database, migrated for real.

    The real migrations install the feed's triggers and registry row, exactly as a
    user's ``migrate`` would.
    """
    for path in (ROOT, EXAMPLE):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    os.environ["DJANGO_SETTINGS_MODULE"] = "movies_site.settings"
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    # Several benchmarks may run in one process: the next one's database replaces the
    # last one's, whose connections must not be reused.
    connections.close_all()
    settings.DATABASES["default"]["NAME"] = database
    # As in production: with DEBUG on, Django records every query, bookkeeping that
    # would dilute what a benchmark measures.
    settings.DEBUG = False
    django.setup()
    call_command("migrate", verbosity=0)
