"""Run a real worker on a database until the pipeline has nothing left to do.

The demo and ``dnf_evaluate`` both fill a database and need every item embedded and
every profile built before they read feeds; they share this instead of each waiting
in its own way. It starts a worker, so it lives with the commands, the only part of
the app that may import the worker's code (Django takes no command from a module
named with a leading underscore). Tests that need no worker process use
:mod:`dnf_django.testing`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from django.db import models
from django.db.models import Q
from tqdm import tqdm

from dnf_core.errors import EvaluationError
from dnf_django.models import FactorState, Failure
from workers.backlog import measure_backlog
from workers.config import WorkerConfig
from workers.database import connect
from workers.spawn import spawn_worker, stop_worker

POLL_S = 0.5
# Idle means: no outbox row and no message, seen this many polls in a row (an actor
# that enqueues follow-up work does so before it acknowledges its own message).
IDLE_POLLS = 3
# A message that fails this often is recorded in dnf_failure, which fails the run;
# waiting out the default 20 retries would only delay saying so.
MAX_RETRIES = 2


def run_worker_until_idle(
    database_url: str,
    redis_url: str,
    content: type[models.Model],
    alias: str,
    *,
    timeout: float,
    progress: bool,
    factors_of: str | None = None,
) -> None:
    """Start ``dnf-worker`` on ``database_url``, wait until idle, stop it.

    The worker embeds the items (content triggers queued them), builds profiles and
    counts from the replayed interactions; nothing is backfilled behind the triggers.
    With ``factors_of`` (a feed id), idle also means that feed's collaborative vectors
    were learned after the last like, which the worker does as soon as likes stop.
    The progress bar counts items the worker has embedded.
    """
    config = WorkerConfig(
        database_url=database_url,
        redis_url=redis_url,
        poll_interval=POLL_S,
        backfill=False,
        max_retries=MAX_RETRIES,
    )
    total = content._base_manager.using(alias).count()
    with tempfile.NamedTemporaryFile(prefix="dnf-evaluate-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        # Learn collaborative vectors a second after the replay's likes stop, not after
        # the production default's quiet delay and interval.
        worker = spawn_worker(
            config, log=log, env={"DNF_FACTORS_DELAY_S": "1", "DNF_FACTORS_INTERVAL_S": "0"}
        )
        try:
            _wait(worker, config, content, alias, total, timeout, progress, log_path, factors_of)
        finally:
            stop_worker(worker, timeout=30)
    failures = list(Failure.objects.using(alias).values_list("task", "key", "error")[:3])
    if failures:
        raise EvaluationError(
            f"the pipeline failed on some rows, so the figures would be wrong: {failures}; "
            f"the worker's log: {log_path}"
        )
    log_path.unlink()


def _wait(
    worker: Any,
    config: WorkerConfig,
    content: type[models.Model],
    alias: str,
    total: int,
    timeout: float,
    progress: bool,
    log_path: Path,
    factors_of: str | None,
) -> None:
    pending = content._base_manager.using(alias).filter(embedding_hash__isnull=True)
    # A rebuild still scheduled (or never run, with likes there) is work to wait for.
    unlearned = (
        FactorState.objects.using(alias)
        .filter(feed_id=factors_of)
        .filter(Q(scheduled_for__isnull=False) | Q(built_at__isnull=True))
    )
    broker = redis.Redis.from_url(config.redis_url)
    deadline = time.monotonic() + timeout
    idle = 0
    with (
        connect(config.database_url, autocommit=True) as conn,
        tqdm(
            total=total,
            unit="item",
            desc="embedding",
            disable=not progress,
            file=sys.stderr,
            mininterval=1.0,
        ) as bar,
    ):
        while idle < IDLE_POLLS:
            if worker.poll() is not None:
                raise EvaluationError(
                    f"the evaluation's worker exited with code {worker.returncode}; "
                    f"its log: {log_path}"
                )
            if time.monotonic() > deadline:
                raise EvaluationError(
                    f"the pipeline was still busy after {timeout:.0f}s; the worker's log: "
                    f"{log_path}"
                )
            bar.update(total - pending.count() - bar.n)
            backlog = measure_backlog(conn, broker)
            bar.set_postfix(outbox=backlog.outbox, queued=backlog.messages, refresh=False)
            learned = factors_of is None or not unlearned.exists()
            idle = idle + 1 if backlog.idle and learned else 0
            time.sleep(POLL_S)
    broker.close()
