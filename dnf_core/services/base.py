"""Shared plumbing for the embedded services: data folder, state, pid checks, bounded waits."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dnf_core.errors import ServiceError

DEFAULT_TIMEOUT = 60.0


def data_dir() -> Path:
    """Return ``$DNF_DATA_DIR``, else ``<repo root>/.dnf`` (git-ignored)."""
    configured = os.environ.get("DNF_DATA_DIR")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / ".dnf"
    return root.expanduser().resolve()


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) or raise ServiceError saying why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"cannot create data folder {path}: {exc}") from exc
    return path


def notice(message: str) -> None:
    """Tell the human what happened; stderr keeps stdout clean for ``eval``."""
    print(f"dnf-services: {message}", file=sys.stderr, flush=True)


def pid_alive(pid: int, name: str | None = None) -> bool:
    """Whether ``pid`` runs and, if ``name`` is given, its command line mentions it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, but belongs to another user
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no procfs (macOS): kill() is all we can know
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    # Daemons get reparented to init, and a minimal container init may never reap them.
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    # After a reboot the recorded pid may belong to an unrelated process.
    return name is None or name.encode() in cmdline


def log_tail(path: Path, lines: int = 5) -> str:
    """The last log lines joined on one line, for error messages."""
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return f"log {path} ends: " + " | ".join(line.strip() for line in tail)


def wait_until(
    check: Callable[[], bool], what: str, timeout: float = DEFAULT_TIMEOUT, log: Path | None = None
) -> None:
    """Poll ``check`` until true; raise :class:`ServiceError` (with the log tail) on timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = f"; {log_tail(log)}" if log else ""
            raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(0.1)


def call_with_timeout(
    func: Callable[[], object], what: str, timeout: float = DEFAULT_TIMEOUT, log: Path | None = None
) -> None:
    """Run third-party code that has unbounded waits of its own, giving up after ``timeout``."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            func()
        except BaseException as exc:
            errors.append(exc)

    # A daemon thread, so a wedged call cannot keep the interpreter alive after we give up.
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    wait_until(lambda: not thread.is_alive(), what, timeout, log)
    if errors:
        tail = f"; {log_tail(log)}" if log else ""
        raise ServiceError(f"{what} failed: {errors[0]}{tail}") from errors[0]


def run(*args: str | Path, timeout: float = 10.0, **kwargs: Any) -> str:
    """Run a command and return its stdout; failures and timeouts become ServiceError."""
    cmd = [str(arg) for arg in args]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"{Path(cmd[0]).name} failed: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise ServiceError(f"{Path(cmd[0]).name} exited with {done.returncode}: {detail}")
    stdout: str = done.stdout
    return stdout


def read_state(path: Path) -> dict[str, Any] | None:
    """Load a JSON state file; a missing or corrupt one counts as no state."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a JSON state file atomically, so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound right now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS considers free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
