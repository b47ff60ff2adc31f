"""Misbehaving encoders for tests; Django-free, so worker processes can import them."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import psycopg

from dnf_core.encoders import HashingEncoder
from dnf_core.encoders.base import Matrix


class PoisonEncoder(HashingEncoder):
    """Raises for any batch containing the word 'poison', like a tokenizer crash would."""

    calls = 0

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        cls.calls += 1
        if any("poison" in t for t in texts):
            raise ValueError("cannot encode this")
        return super().encode_batch(texts, model_name)


class NaNEncoder(HashingEncoder):
    """Returns NaN rows for texts containing 'nan'."""

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        matrix = super().encode_batch(texts, model_name)
        matrix[[i for i, t in enumerate(texts) if "nan" in t]] = np.nan
        return matrix


class EditingEncoder(HashingEncoder):
    """Edits every movie title while 'encoding', as a concurrent writer would."""

    database_url = ""

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        with psycopg.connect(cls.database_url, autocommit=True) as conn:
            conn.execute("UPDATE catalog_movie SET title = 'edited meanwhile'")
        return super().encode_batch(texts, model_name)


class SlowEncoder(HashingEncoder):
    """Takes 0.2 s per batch, so tests can stop or kill a worker mid-work."""

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        time.sleep(0.2)
        return super().encode_batch(texts, model_name)


class ShiftedEncoder(HashingEncoder):
    """Another 'model' of the same dimension: HashingEncoder's vectors, rotated by
    seven coordinates, so its vectors and the original's differ for every text."""

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        return np.roll(super().encode_batch(texts, model_name), 7, axis=1)
