"""What processes cost while a benchmark runs: peak memory, CPU seconds per party.

On a 2-core machine the parts of the pipeline compete for the same cores, and other
jobs on the machine compete with all of them; these meters say who used what, so a
figure can be read against the load it was taken under.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

MB = 1024 * 1024
# Finding children walks /proc, far dearer than reading RSS: do it every so many samples.
CHILDREN_EVERY = 20

Group = Callable[[], list[psutil.Process]]


class RssSampler:
    """Peak RSS of a process and its children, sampled on a thread of its own."""

    def __init__(self, pid: int, interval: float) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MB

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        children: list[psutil.Process] = []
        samples = 0
        while not self._stop.wait(self.interval):
            try:
                if samples % CHILDREN_EVERY == 0:
                    children = self.process.children(recursive=True)
                rss = _rss(self.process) + sum(_rss(child) for child in children)
            except psutil.NoSuchProcess:
                return
            self.peak_bytes = max(self.peak_bytes, rss)
            samples += 1


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0  # a child that just exited


def tree(process: psutil.Process) -> Group:
    """A process and its children (as they are when measured)."""
    return lambda: [process, *process.children(recursive=True)]


def named(name: str) -> Group:
    """Every process called ``name`` (``postgres``: the server and all its backends)."""
    return lambda: [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]


def this_process() -> Group:
    return lambda: [psutil.Process()]


@contextmanager
def cpu_meter(groups: dict[str, Group]) -> Iterator[dict[str, float]]:
    """CPU seconds each group spent inside the block, and the machine's, in the yielded dict.

    ``other_cpu_s`` is whatever else ran meanwhile (other jobs on a shared machine);
    ``machine_busy_share`` is busy time over all the cores' time.
    """
    report: dict[str, float] = {}
    before = _snapshot(groups)
    start = time.perf_counter()
    try:
        yield report
    finally:
        wall = time.perf_counter() - start
        report.update(_delta(before, _snapshot(groups), wall))


Snapshot = tuple[dict[str, dict[int, float]], float]


def _snapshot(groups: dict[str, Group]) -> Snapshot:
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return {name: _cpu_seconds(group()) for name, group in groups.items()}, busy


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def _delta(before: Snapshot, after: Snapshot, wall: float) -> dict[str, float]:
    # A process born meanwhile counts whole; one that died meanwhile is lost (its time
    # shows in other_cpu_s), which is rare here: the parties measured live throughout.
    spent = {
        name: sum(s - before[0][name].get(pid, 0.0) for pid, s in pids.items())
        for name, pids in after[0].items()
    }
    busy = after[1] - before[1]
    return {
        **{f"{name}_cpu_s": round(s, 2) for name, s in spent.items()},
        "other_cpu_s": round(busy - sum(spent.values()), 2),
        "machine_busy_cpu_s": round(busy, 2),
        "wall_s": round(wall, 2),
        "machine_busy_share": round(busy / (wall * (os.cpu_count() or 1)), 3),
    }
