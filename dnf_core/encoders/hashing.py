"""A deterministic, dependency-free encoder for fast tests and model-free demos."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from dnf_core.encoders.base import BaseVectorEncoder, Matrix
from dnf_core.errors import EncoderError

_TOKEN = re.compile(r"\w+")


class HashingEncoder(BaseVectorEncoder):
    """Feature hashing of lowercase word tokens (counts per bucket), L2-normalized.

    Counts rather than signed hashing, so two tokens sharing a bucket can never
    cancel out into an all-zero vector.

    Texts sharing words get similar vectors, which is all tests need. The model
    name selects the dimension: ``"hashing-384"`` (any ``hashing-<n>``), default 384.
    """

    default_dimension = 384

    @classmethod
    def dimension_for(cls, model_name: str) -> int:
        """Dimension encoded in the model name, else the default."""
        prefix, _, size = model_name.partition("-")
        if prefix == "hashing" and size:
            if not size.isdigit() or int(size) < 1:
                raise EncoderError(f"HashingEncoder: bad model name {model_name!r}")
            return int(size)
        return cls.default_dimension

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        """Embed many texts."""
        dimension = cls.dimension_for(model_name)
        matrix = np.zeros((len(texts), dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                matrix[row, int.from_bytes(digest, "little") % dimension] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # A text with no word tokens stays all-zero; checked_matrix reports it.
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix
