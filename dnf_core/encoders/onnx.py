"""The ONNX backends of the default encoder: ONNX Runtime, no torch.

``ENCODER_BACKEND = "onnx"`` runs the model's fp32 graph, ``"onnx-int8"`` its dynamic
int8 quantization; both come from :mod:`dnf_core.encoders.onnx_cache`, exported
locally from the model's weights once (never fetched) and checked against the torch
backend's vectors. What runs per call is the sentence-transformers pipeline, step by
step: the model's own tokenizer (``tokenizer.json``, the ``tokenizers`` package)
truncating at ``max_seq_length``, the graph, mean pooling over the attention mask (or
the CLS token, as the model's pooling config says) and L2 normalization, in NumPy.

Imports: onnxruntime, tokenizers and NumPy only; importing this module or running
the encoder never imports torch. Inference runs on a :class:`ReplicaPool`, as the
torch backend does: one ONNX Runtime session shared by the pool's threads (its
``run`` is thread-safe and releases the GIL), a tokenizer per thread. Where ONNX
Runtime has a CUDA build installed (``onnxruntime-gpu``) and a GPU, the session runs
on ``CUDAExecutionProvider``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dnf_core.encoders.backends import ONNX, ONNX_INT8
from dnf_core.encoders.base import BaseVectorEncoder, Matrix
from dnf_core.encoders.replicas import ReplicaPool, available_cpus, encoder_threads
from dnf_core.errors import EncoderError


def providers() -> list[str]:
    """ONNX Runtime's execution providers to use: CUDA first where it is available."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*chosen, "CPUExecutionProvider"]


class OnnxModel:
    """One exported model: an ONNX Runtime session, a tokenizer, pooling and norm.

    :meth:`replica` gives another tokenizer over the same session, for another thread
    (a tokenizer with padding and truncation set must not be shared across threads).
    """

    def __init__(
        self,
        session: Any,
        tokenizer_file: Path,
        *,
        max_seq_length: int,
        pooling: str,
        normalize: bool,
        lower_case: bool = False,
    ) -> None:
        self.session = session
        self.tokenizer_file = tokenizer_file
        self.max_seq_length = max_seq_length
        self.pooling = pooling
        self.normalize = normalize
        self.lower_case = lower_case
        self.tokenizer = self._tokenizer()

    @classmethod
    def load(
        cls,
        model_file: Path,
        tokenizer_file: Path,
        *,
        max_seq_length: int,
        pooling: str,
        normalize: bool,
        intra_op_threads: int,
        lower_case: bool = False,
    ) -> OnnxModel:
        try:
            import onnxruntime
        except ImportError as exc:
            raise EncoderError(
                "onnxruntime is not installed: pip install 'neural-feed[worker]'"
            ) from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = onnxruntime.InferenceSession(str(model_file), options, providers=providers())
        except Exception as exc:
            raise EncoderError(f"ONNX Runtime cannot load {model_file}: {exc}") from exc
        return cls(
            session,
            tokenizer_file,
            max_seq_length=max_seq_length,
            pooling=pooling,
            normalize=normalize,
            lower_case=lower_case,
        )

    def _tokenizer(self) -> Any:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EncoderError(
                "tokenizers is not installed: pip install 'neural-feed[worker]'"
            ) from exc
        tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        # The file may carry its own (fixed-length) padding and truncation: what counts
        # is sentence-transformers', pad to the longest text, cut at max_seq_length.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
        return tokenizer

    def replica(self) -> OnnxModel:
        """The same session with a tokenizer of its own."""
        return OnnxModel(
            self.session,
            self.tokenizer_file,
            max_seq_length=self.max_seq_length,
            pooling=self.pooling,
            normalize=self.normalize,
            lower_case=self.lower_case,
        )

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts`` (one forward pass, padded to the longest)."""
        # sentence-transformers strips each text (and lowercases it, if the model's
        # config says so) before tokenizing it.
        texts = [str(t).strip() for t in texts]
        if self.lower_case:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self.session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask}
        )
        if self.pooling == "cls":
            vectors = hidden[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            summed = (hidden * weights).sum(axis=1)
            vectors = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _encode_chunk(model: OnnxModel, texts: list[str], batch_size: int) -> Matrix:
    return np.concatenate(
        [model.encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    )


class OnnxEncoder(BaseVectorEncoder):
    """The default encoder's model on ONNX Runtime, fp32 (``ENCODER_BACKEND = "onnx"``).

    ``model_name`` is what the torch backend takes: the bundled model's name or a local
    sentence-transformers folder. Its export is made on first use if it is missing
    (seconds, in a separate process) and cached; see :mod:`dnf_core.encoders.onnx_cache`.
    """

    backend = ONNX
    # Texts per forward pass: texts are sorted by length first, so a pass pads little.
    batch_size = 16
    chunk_size = 32
    threads: int | None = None
    _models: dict[tuple[str, str], OnnxModel] = {}
    _pools: dict[tuple[str, str], ReplicaPool[OnnxModel]] = {}
    _lock = threading.Lock()

    @classmethod
    def model(cls, model_name: str) -> OnnxModel:
        """The loaded model for ``model_name`` (exported and loaded on first use)."""
        key = (cls.backend, model_name)
        with cls._lock:
            if key not in cls._models:
                cls._models[key] = cls._load(model_name)
            return cls._models[key]

    @classmethod
    def pool(cls, model_name: str) -> ReplicaPool[OnnxModel]:
        """The threads that run ``model_name`` (started on first use)."""
        model = cls.model(model_name)
        key = (cls.backend, model_name)
        with cls._lock:
            if key not in cls._pools:
                threads = encoder_threads(cls.threads)
                cls._pools[key] = ReplicaPool(
                    model,
                    lambda replica, texts: _encode_chunk(replica, texts, cls.batch_size),
                    threads,
                    cls.chunk_size,
                    replicate=OnnxModel.replica,
                )
            return cls._pools[key]

    @classmethod
    def _load(cls, model_name: str) -> OnnxModel:
        from dnf_core.encoders.onnx_cache import ensure_exported

        exported = ensure_exported(model_name, cls.backend)
        threads = encoder_threads(cls.threads)
        return OnnxModel.load(
            exported.model_file,
            exported.tokenizer_file,
            max_seq_length=exported.max_seq_length,
            pooling=exported.pooling,
            normalize=exported.normalize,
            lower_case=exported.lower_case,
            # The pool's threads each run a pass: together they use every CPU once.
            intra_op_threads=max(1, available_cpus() // threads),
        )

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        """Embed many texts; texts beyond the model's max length are truncated."""
        return cls.pool(model_name).encode(list(texts))


class OnnxInt8Encoder(OnnxEncoder):
    """The same on the int8 quantized graph (``ENCODER_BACKEND = "onnx-int8"``)."""

    backend = ONNX_INT8
