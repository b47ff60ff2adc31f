"""Time django-neural-feed 1.1.0's embedding path: N posts saved one by one.

Runs in the upstream virtualenv, against the database named by
``DNF_BENCH_UPSTREAM_DATABASE_URL`` (a scratch database it migrates):
``python ingest.py < config.json``. Prints one JSON object on stdout.

Upstream's default path, unchanged: each ``Post.objects.create`` commits on its own
(autocommit), and its post_save handler schedules on commit a thread of this (web)
process that re-reads the post, encodes its text with ``DefaultVectorEncoder``
(one ``model.encode`` call per text, no lock) and saves the embedding through its own
Django connection, closed when the thread ends. Nothing bounds how many such
threads, hence connections, run at once. The clock runs from just before the first
save until the last thread has finished, which is when the last embedding was
saved; the database is asked afterwards how many posts really got one.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "upstream_site.settings"

import django

django.setup()

import sentence_transformers  # noqa: E402
import torch  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_neural_feed import signals as upstream_signals  # noqa: E402
from django_neural_feed.conf import app_settings  # noqa: E402
from errorcount import ErrorCount  # noqa: E402
from posts.models import Post  # noqa: E402

Item = tuple[str, str]  # (title, content): get_ready_text() joins them with a space


class _TimedThread(threading.Thread):
    """Upstream's own thread, remembered with the time its work ended."""

    started: list[_TimedThread] = []
    # Threads that ended in an exception: upstream logs it and re-raises.
    failed = 0
    started_at = 0.0
    ended_at = 0.0

    def start(self) -> None:
        self.started_at = time.perf_counter()
        _TimedThread.started.append(self)
        super().start()

    def run(self) -> None:
        try:
            super().run()
        except Exception:
            _TimedThread.failed += 1
        finally:
            self.ended_at = time.perf_counter()


def _record_upstream_threads() -> None:
    # signals.py calls threading.Thread(...) through its module global `threading`.
    upstream_signals.threading = types.SimpleNamespace(Thread=_TimedThread)  # type: ignore[assignment]


def _join_started() -> list[_TimedThread]:
    threads = list(_TimedThread.started)
    _TimedThread.started.clear()
    for thread in threads:
        thread.join()
    return threads


def _save_one_by_one(items: list[Item]) -> float:
    """One ``Post.objects.create`` per item, each its own transaction; the caller's time."""
    start = time.perf_counter()
    for title, content in items:
        Post.objects.create(title=title, content=content)
    return time.perf_counter() - start


def _peak_concurrency(threads: list[_TimedThread]) -> int:
    """Most threads (each with its own DB connection) alive at one moment."""
    # At equal times an end (-1) sorts before a start (+1): never counted as overlap.
    events = sorted([(t.started_at, 1) for t in threads] + [(t.ended_at, -1) for t in threads])
    alive = peak = 0
    for _, step in events:
        alive += step
        peak = max(peak, alive)
    return peak


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (psutil is not installed here)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    seconds: float
    caller_seconds: float
    threads: int
    peak_threads: int
    embedded: int
    process_cpu_s: float
    machine_busy_cpu_s: float


def _time_ingest(items: list[Item]) -> Timed:
    """Save every item, wait for every thread; count the posts that got an embedding."""
    first_id = (Post.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    cpu, busy = _process_cpu_s(), _machine_busy_s()
    start = time.perf_counter()
    caller = _save_one_by_one(items)
    threads = _join_started()
    end = max((t.ended_at for t in threads), default=time.perf_counter())
    cpu, busy = _process_cpu_s() - cpu, _machine_busy_s() - busy
    embedded = Post.objects.filter(id__gte=first_id, embedding__isnull=False).count()
    return Timed(end - start, caller, len(threads), _peak_concurrency(threads), embedded, cpu, busy)


def _warm_up(items: list[Item]) -> float:
    """Load the model (not timed, as for ours), then run the whole path on a few posts."""
    start = time.perf_counter()
    app_settings.ENCODER_CLASS.text_to_vector("warm up", app_settings.MODEL_NAME)
    loaded = time.perf_counter() - start
    _save_one_by_one(items)
    _join_started()
    return loaded


def main(config: dict[str, Any]) -> dict[str, Any]:
    errors = ErrorCount()
    logging.getLogger("django_neural_feed").addHandler(errors)
    _record_upstream_threads()
    call_command("migrate", verbosity=0)
    items = [(title, content) for title, content in config["items"]]
    load_s = _warm_up([(title, content) for title, content in config["warmup_items"]])
    warmup_errors = errors.count
    timed = _time_ingest(items)
    connection.close()
    return {
        "n": len(items),
        "seconds": timed.seconds,
        "items_per_s": timed.embedded / timed.seconds,
        "embedded": timed.embedded,
        "caller_seconds": timed.caller_seconds,
        "caller_ms_per_save": 1000 * timed.caller_seconds / len(items),
        "threads_started": timed.threads,
        "peak_concurrent_threads": timed.peak_threads,
        "threads_failed": _TimedThread.failed,
        # This (web) process's CPU, its threads' included, and the whole machine's,
        # Postgres and any other job included, from the first save to the last thread.
        "process_cpu_s": round(timed.process_cpu_s, 2),
        "machine_busy_cpu_s": round(timed.machine_busy_cpu_s, 2),
        "errors_logged": errors.count - warmup_errors,
        "first_error": errors.first,
        "model_load_s": load_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_threads": torch.get_num_threads(),
        "model_name": app_settings.MODEL_NAME,
        "encoder": f"{app_settings.ENCODER_CLASS.__module__}.{app_settings.ENCODER_CLASS.__name__}",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "django": django.get_version(),
    }


if __name__ == "__main__":
    print(json.dumps(main(json.load(sys.stdin))))
