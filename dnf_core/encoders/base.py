"""The encoder contract: upstream django-neural-feed's, plus a batch method."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dnf_core.errors import EncoderError

Matrix = npt.NDArray[np.float32]


class BaseVectorEncoder:
    """Turns texts into vectors. Subclass it and set ``ENCODER_CLASS`` to use your own.

    ``text_to_vector`` is the upstream contract, so existing encoders keep working;
    workers call :meth:`encode_batch`, whose default loops over ``text_to_vector``.
    Implement either: override ``encode_batch`` when the backend can do better in one
    call, and ``text_to_vector`` then comes from it.
    """

    @classmethod
    def text_to_vector(cls, text: str, model_name: str) -> list[float]:
        """Embed one text."""
        if not any("encode_batch" in vars(k) for k in cls.__mro__ if k is not BaseVectorEncoder):
            raise NotImplementedError(
                f"{cls.__name__} must implement text_to_vector or encode_batch"
            )
        return [float(x) for x in cls.encode_batch([text], model_name)[0]]

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        """Embed many texts; one row per text, in order."""
        return np.asarray(
            [cls.text_to_vector(text, model_name) for text in texts], dtype=np.float32
        )

    @classmethod
    def average_vectors(cls, vectors: Sequence[Sequence[float]], limit: int) -> list[float]:
        """Mean of the first ``limit`` vectors (upstream's helper, kept for custom code).

        Upstream's contract, which overrides and callers rely on: nothing to average
        (no vectors, ``limit`` 0) or vectors of different lengths give ``[]``, not an
        exception. The pipeline itself never calls this; profiles are averaged in SQL.
        """
        try:
            matrix = np.asarray(vectors[:limit], dtype=np.float32)
        except (TypeError, ValueError):
            # Ragged (or non-numeric) input: NumPy cannot make it a matrix.
            return []
        if matrix.ndim != 2 or matrix.size == 0:
            return []
        return [float(x) for x in matrix.mean(axis=0)]


def checked_matrix(raw: object, count: int, dimension: int, encoder: str) -> Matrix:
    """Validate an encoder's output: ``count`` finite rows of ``dimension`` floats.

    Anything else is an :class:`EncoderError` that names the encoder, because a wrong
    vector stored silently would poison every profile and feed that touches it.
    """
    try:
        matrix = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EncoderError(f"{encoder} returned something that is not a matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise EncoderError(f"{encoder} returned shape {matrix.shape} for {count} texts")
    if matrix.shape[1] != dimension:
        raise EncoderError(
            f"{encoder} returned {matrix.shape[1]}-dimensional vectors; "
            f"the feed expects {dimension} (VECTOR_DIMENSION)"
        )
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise EncoderError(f"{encoder} returned NaN or infinite values for {int(bad.sum())} texts")
    zero = ~np.any(matrix, axis=1)
    if zero.any():
        raise EncoderError(f"{encoder} returned all-zero vectors for {int(zero.sum())} texts")
    return matrix
