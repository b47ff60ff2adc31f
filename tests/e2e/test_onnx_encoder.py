"""The ONNX backends with the real all-MiniLM-L6-v2: exported locally from the bundled
weights, checked against torch, as close to it as the bounds say, and free of torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnf_core.encoders import OnnxEncoder, OnnxInt8Encoder, SentenceTransformerEncoder
from dnf_core.encoders.onnx_cache import (
    FILES,
    MIN_COSINE,
    ensure_exported,
    load_checked,
    model_folder,
    problem,
)
from dnf_core.encoders.reference import PROBES, shipped_reference, torch_vectors
from dnf_core.encoders.sentence_transformer import resolve_model
from dnf_core.errors import EncoderError

pytestmark = pytest.mark.e2e

MODEL = "all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parents[2]
# Every 20th MovieLens text: 430 texts, a few seconds per backend.
SAMPLE_STEP = 20


@pytest.fixture(scope="module")
def exported() -> Path:
    """The export the workers use (made here if it is missing: seconds, no torch)."""
    for backend in FILES:
        ensure_exported(MODEL, backend)
    return model_folder(MODEL)


def movielens_texts() -> list[str]:
    from catalog.management.commands.demo import read_movies

    texts = []
    for entry in read_movies()[::SAMPLE_STEP]:
        if isinstance(entry, tuple):  # (movie, genres, tags)
            movie, genres, tags = entry
            parts = (movie.title, ", ".join(genres), ", ".join(tags))
        else:
            parts = (entry.title, entry.genres, entry.tags)
        texts.append(" ".join(p for p in parts if p))
    return texts


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_export_passed_its_check_against_torch(exported: Path) -> None:
    meta = json.loads((exported / "export.json").read_text())
    assert meta["max_seq_length"] == 256 and meta["pooling"] == "mean" and meta["normalize"]
    for backend, entry in meta["files"].items():
        assert entry["passed"] and entry["min_cosine"] >= MIN_COSINE[backend]
        assert entry["probes"] == len(PROBES)


@pytest.mark.parametrize(
    ("encoder", "bound"), [(OnnxEncoder, 0.9999), (OnnxInt8Encoder, 0.99)], ids=["fp32", "int8"]
)
def test_every_sampled_movielens_text_is_within_the_cosine_bound(
    exported: Path, encoder: type[OnnxEncoder], bound: float
) -> None:
    texts = movielens_texts()
    reference = SentenceTransformerEncoder.encode_batch(texts, MODEL)
    ours = encoder.encode_batch(texts, MODEL)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, reference).min() >= bound


def test_truncation_at_the_max_sequence_length_as_torch(exported: Path) -> None:
    long = " ".join(["the quick brown fox"] * 200)  # ~800 tokens
    a, b = OnnxEncoder.encode_batch([long, long + " and a totally different ending"], MODEL)
    np.testing.assert_allclose(a, b, atol=1e-6)
    torch = SentenceTransformerEncoder.encode_batch([long], MODEL)
    assert cosines(a[None], torch)[0] >= 0.9999


def test_the_shipped_reference_is_what_torch_computes_now() -> None:
    from dnf_core.encoders.onnx_cache import sha256_of

    weights = Path(resolve_model(MODEL)) / "model.safetensors"
    shipped = shipped_reference(MODEL, sha256_of(weights))
    assert shipped is not None, "reference vectors do not match the installed weights"
    live = torch_vectors(resolve_model(MODEL))
    assert live is not None
    np.testing.assert_allclose(shipped, live, atol=1e-5)


def test_a_file_that_is_not_the_checked_one_is_refused(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / exported.name
    shutil.copytree(exported, copy)
    with open(copy / FILES["onnx-int8"], "ab") as f:
        f.write(b"\0")
    assert problem(MODEL, "onnx-int8", tmp_path) is None  # the record still says it passed
    with pytest.raises(EncoderError, match="not the file that passed its check"):
        load_checked(MODEL, "onnx-int8", tmp_path)


def test_an_export_from_other_weights_is_made_again(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / exported.name
    shutil.copytree(exported, copy)
    meta = json.loads((copy / "export.json").read_text())
    meta["weights_sha256"] = "0" * 64
    (copy / "export.json").write_text(json.dumps(meta))
    assert "other weights" in (problem(MODEL, "onnx", tmp_path) or "")


def test_the_onnx_backends_never_import_torch(exported: Path) -> None:
    script = (
        "import sys\n"
        "from dnf_core.encoders import OnnxInt8Encoder\n"
        "v = OnnxInt8Encoder.encode_batch(['a cat', 'a dog'], 'all-MiniLM-L6-v2')\n"
        "assert v.shape == (2, 384), v.shape\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers(),
    reason="no CUDA build of ONNX Runtime here",
)
def test_onnx_runs_on_the_gpu_where_there_is_one(exported: Path) -> None:  # pragma: no cover
    session = OnnxEncoder.model(MODEL).session
    assert session.get_providers()[0] == "CUDAExecutionProvider"


@pytest.mark.skipif(
    not __import__("torch").cuda.is_available(), reason="no GPU that torch sees here"
)
def test_torch_runs_on_the_gpu_where_there_is_one() -> None:  # pragma: no cover
    assert SentenceTransformerEncoder.model(MODEL).device.type == "cuda"


def test_a_local_model_folder_is_exported_and_checked_like_the_bundled_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = str(Path(resolve_model(MODEL)))  # a sentence-transformers folder on disk
    monkeypatch.setenv("DNF_MODEL_CACHE", str(tmp_path))
    texts = ["a cat", "Heat (1995) Action, Crime, Thriller"]
    ours = OnnxInt8Encoder.encode_batch(texts, path)
    meta = json.loads((model_folder(path) / "export.json").read_text())
    assert model_folder(path).parent == tmp_path and meta["source"] == path
    # No shipped vectors for a path: checked against torch, computed there and then.
    assert meta["files"]["onnx-int8"]["checked_against"] == "the torch backend, computed now"
    assert cosines(ours, SentenceTransformerEncoder.encode_batch(texts, MODEL)).min() >= 0.99
