"""Encoders turn item text into vectors: a base class plus one module per implementation."""

from __future__ import annotations

import importlib

from dnf_core.encoders.backends import BACKENDS, DEFAULT_BACKEND
from dnf_core.encoders.base import BaseVectorEncoder, checked_matrix
from dnf_core.encoders.hashing import HashingEncoder
from dnf_core.encoders.onnx import OnnxEncoder, OnnxInt8Encoder
from dnf_core.encoders.sentence_transformer import DEFAULT_MODEL_NAME, SentenceTransformerEncoder
from dnf_core.errors import ConfigurationError

DEFAULT_ENCODER = "dnf_core.encoders.SentenceTransformerEncoder"

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_ENCODER",
    "DEFAULT_MODEL_NAME",
    "BaseVectorEncoder",
    "HashingEncoder",
    "OnnxEncoder",
    "OnnxInt8Encoder",
    "SentenceTransformerEncoder",
    "checked_matrix",
    "encoder_path",
    "load_encoder",
]


def load_encoder(path: str) -> type[BaseVectorEncoder]:
    """Import an encoder class from its dotted path (``package.module.Class``)."""
    module_name, _, class_name = path.rpartition(".")
    try:
        encoder = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"cannot import encoder class {path!r}: {exc}") from exc
    if not (isinstance(encoder, type) and issubclass(encoder, BaseVectorEncoder)):
        raise ConfigurationError(f"{path!r} is not a subclass of BaseVectorEncoder")
    return encoder


def encoder_path(encoder: type[BaseVectorEncoder]) -> str:
    """Dotted path of an encoder class, as stored in feed specs."""
    return f"{encoder.__module__}.{encoder.__qualname__}"
