"""How the default encoder runs its model: PyTorch, ONNX Runtime fp32, or ONNX Runtime int8.

The three backends run one model (same weights, tokenizer, truncation, pooling and
normalization), so their vectors are interchangeable to within rounding (fp32 ONNX)
or quantization (int8): docs/benchmarks.md gives the measured cosines. Still, what a
feed's column holds is recorded with the backend that made it, and the identity of
those vectors names it:

- ``torch``: ``dnf_core.encoders.SentenceTransformerEncoder:all-MiniLM-L6-v2:384``,
  exactly the identity every feed embedded before backends existed was recorded with;
- the others: ``dnf_core.encoders.SentenceTransformerEncoder[onnx-int8]:all-MiniLM-L6-v2:384``.

Two identities that differ only in the backend are the *same model*: a feed recorded
with one backend keeps being embedded with it, whatever the declared backend, until
``manage.py dnf_reembed`` moves it (:func:`embedding_target`). So changing
``ENCODER_BACKEND`` never re-embeds anything by itself, and a feed's column never
mixes backends unless a re-embedding is under way.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from dnf_core.errors import ConfigurationError

if TYPE_CHECKING:
    from dnf_core.encoders.base import BaseVectorEncoder
    from dnf_core.spec import FeedSpec

TORCH = "torch"
ONNX = "onnx"
ONNX_INT8 = "onnx-int8"
BACKENDS = (TORCH, ONNX, ONNX_INT8)
# The fastest backend within the accuracy bounds on MovieLens (docs/benchmarks.md):
# every item's cosine to the fp32 torch vector >= 0.99, NDCG@10 within 0.002.
DEFAULT_BACKEND = ONNX_INT8

# The encoder classes that have backends, by every path a spec may name them with.
# A subclass is not among them: it may load or encode its own way, which an ONNX
# backend would silently drop, so it runs as it is written (on torch).
BACKEND_ENCODERS = frozenset(
    {
        "dnf_core.encoders.SentenceTransformerEncoder",
        "dnf_core.encoders.sentence_transformer.SentenceTransformerEncoder",
        "dnf_core.SentenceTransformerEncoder",
    }
)

_IDENTITY = re.compile(r"^(?P<encoder>[^:\[\]]+)(?:\[(?P<backend>[^\]]+)\])?:(?P<rest>.*)$")


def check_backend(value: object, label: str = "ENCODER_BACKEND") -> str:
    """``value`` if it names a backend, else a :class:`ConfigurationError`."""
    if not isinstance(value, str) or value not in BACKENDS:
        raise ConfigurationError(
            f"{label} must be one of {', '.join(repr(b) for b in BACKENDS)}, got {value!r}"
        )
    return value


def has_backends(encoder: str) -> bool:
    """Whether the encoder at dotted path ``encoder`` runs on the backends."""
    return encoder in BACKEND_ENCODERS


def identity_of(encoder: str, backend: str, model_name: str, dimension: int) -> str:
    """The identity of vectors made by ``encoder`` on ``backend`` (see the module doc)."""
    if backend != TORCH and has_backends(encoder):
        encoder = f"{encoder}[{backend}]"
    return f"{encoder}:{model_name}:{dimension}"


def backend_of(identity: str) -> str:
    """The backend an identity names (``torch`` when it names none)."""
    match = _IDENTITY.match(identity)
    return (match.group("backend") if match else None) or TORCH


def without_backend(identity: str) -> str:
    """The identity with its backend left out: equal for vectors of the same model."""
    match = _IDENTITY.match(identity)
    if not match:
        return identity
    return f"{match.group('encoder')}:{match.group('rest')}"


def same_model(a: str, b: str) -> bool:
    """Whether two identities name one model on (possibly) different backends."""
    return without_backend(a) == without_backend(b) and all(
        backend_of(i) in BACKENDS for i in (a, b)
    )


def embedding_target(spec: FeedSpec, serving: str) -> tuple[FeedSpec, bool]:
    """What to embed ``spec``'s items with while its feed serves ``serving`` vectors.

    Returns the spec to encode and hash with, and whether its vectors go to the
    embedding column (True) or are kept aside for a re-embedding (False). A feed
    serving the same model on another backend keeps that backend: nothing is
    re-embedded behind the user's back, and the column stays of one backend.
    """
    if serving == spec.embedding_identity:
        return spec, True
    if same_model(serving, spec.embedding_identity):
        return replace(spec, encoder_backend=backend_of(serving)), True
    return spec, False


def backend_encoder(
    encoder: type[BaseVectorEncoder], path: str, backend: str
) -> type[BaseVectorEncoder]:
    """The class that runs ``encoder`` (imported from ``path``) on ``backend``."""
    if backend == TORCH or not has_backends(path):
        return encoder
    from dnf_core.encoders.onnx import OnnxEncoder, OnnxInt8Encoder

    return OnnxInt8Encoder if check_backend(backend) == ONNX_INT8 else OnnxEncoder
