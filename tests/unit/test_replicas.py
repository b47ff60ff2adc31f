"""ReplicaPool: many callers, a fixed number of model replicas, results in order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dnf_core.encoders.replicas import ReplicaPool, encoder_threads
from dnf_core.errors import ConfigurationError


class Model:
    """Not thread-safe on purpose: two threads inside ``encode`` at once is an error."""

    def __init__(self) -> None:
        self.busy = threading.Lock()
        self.threads: set[int] = set()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not self.busy.acquire(blocking=False):
            raise RuntimeError("Already borrowed")
        try:
            self.threads.add(threading.get_ident())
            if "poison" in texts:
                raise ValueError("poison")
            return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)
        finally:
            self.busy.release()


def _pool(threads: int, replicas: list[Model]) -> ReplicaPool[Model]:
    def replicate(model: Model) -> Model:
        replicas.append(Model())
        return replicas[-1]

    replicas.append(Model())
    return ReplicaPool(replicas[0], Model.encode, threads, chunk_size=3, replicate=replicate)


def test_rows_come_back_in_the_callers_order_from_concurrent_callers() -> None:
    replicas: list[Model] = []
    pool = _pool(3, replicas)
    calls = [[("a" * (i * 7 % 11)) + "b" * j for j in range(i % 9 + 1)] for i in range(40)]
    with ThreadPoolExecutor(8) as callers:
        results = list(callers.map(pool.encode, calls))
    for texts, rows in zip(calls, results, strict=True):
        expected = [[len(t), t.count("a")] for t in texts]
        assert rows.tolist() == expected
    # One replica per pool thread, each used by one thread only, the original first.
    assert len(replicas) == 3
    assert all(len(r.threads) <= 1 for r in replicas)


def test_an_error_in_one_chunk_reaches_the_caller() -> None:
    pool = _pool(2, [])
    with pytest.raises(ValueError, match="poison"):
        pool.encode(["a", "bb", "ccc", "dddd", "poison", "e"])
    # The pool still works afterwards.
    assert pool.encode(["aa"]).tolist() == [[2.0, 2.0]]


def test_encoder_threads_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNF_ENCODER_THREADS", "3")
    assert encoder_threads() == 3
    monkeypatch.setenv("DNF_ENCODER_THREADS", "zero")
    with pytest.raises(ConfigurationError, match="DNF_ENCODER_THREADS"):
        encoder_threads()
    monkeypatch.delenv("DNF_ENCODER_THREADS")
    assert encoder_threads(5) == 5
    assert encoder_threads() >= 1
