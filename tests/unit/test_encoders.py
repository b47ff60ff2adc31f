import numpy as np
import pytest

from dnf_core.encoders import BaseVectorEncoder, HashingEncoder, checked_matrix, load_encoder
from dnf_core.errors import ConfigurationError, EncoderError


def test_hashing_encoder_is_deterministic_unit_norm_and_topical() -> None:
    texts = ["space ships and alien worlds", "alien space ships", "romantic wedding in paris"]
    a = HashingEncoder.encode_batch(texts, "hashing-64")
    b = HashingEncoder.encode_batch(texts, "hashing-64")
    assert a.shape == (3, 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    assert a[0] @ a[1] > a[0] @ a[2]


def test_base_encoder_batches_through_text_to_vector() -> None:
    class Upstream(BaseVectorEncoder):
        @classmethod
        def text_to_vector(cls, text: str, model_name: str) -> list[float]:
            return [float(len(text)), 1.0]

    assert Upstream.encode_batch(["ab", "abc"], "m").tolist() == [[2.0, 1.0], [3.0, 1.0]]
    assert Upstream.average_vectors([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], 2) == [2.0, 3.0]


@pytest.mark.parametrize(
    ("vectors", "limit"),
    [
        ([], 2),  # nothing to average
        ([[1.0, 2.0]], 0),  # nothing within the limit
        ([[1.0, 2.0], [3.0]], 2),  # ragged
        ([[]], 1),  # zero-length vectors
        ([["a", "b"]], 1),  # not numbers
    ],
)
def test_average_vectors_keeps_upstreams_empty_result(
    vectors: list[list[float]], limit: int
) -> None:
    # django-neural-feed 1.x returned [] rather than raising; overrides and callers
    # written against it test the result for emptiness.
    assert BaseVectorEncoder.average_vectors(vectors, limit) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([[1.0, 0.0]], "for 2 texts"),
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "3-dimensional"),
        ([[1.0, float("nan")], [0.0, 1.0]], "NaN"),
        ([[0.0, 0.0], [0.0, 1.0]], "all-zero"),
        ([], "for 2 texts"),
        ("garbage", "not a matrix"),
    ],
)
def test_bad_encoder_output_is_an_error_never_a_vector(raw: object, message: str) -> None:
    with pytest.raises(EncoderError, match=message):
        checked_matrix(raw, 2, 2, "TestEncoder")


def test_checked_matrix_passes_good_output() -> None:
    good = checked_matrix([[0.6, 0.8], [1.0, 0.0]], 2, 2, "TestEncoder")
    assert good.dtype == np.float32


def test_load_encoder_by_path_and_errors() -> None:
    assert load_encoder("dnf_core.encoders.HashingEncoder") is HashingEncoder
    with pytest.raises(ConfigurationError, match="cannot import"):
        load_encoder("dnf_core.encoders.Missing")
    with pytest.raises(ConfigurationError, match="not a subclass"):
        load_encoder("dnf_core.spec.FeedSpec")


def test_an_encoder_must_implement_one_of_the_two_methods() -> None:
    class Nothing(BaseVectorEncoder):
        pass

    with pytest.raises(NotImplementedError, match="text_to_vector or encode_batch"):
        Nothing.encode_batch(["x"], "m")
    assert (
        HashingEncoder.text_to_vector("a b", "hashing-8")
        == HashingEncoder.encode_batch(["a b"], "hashing-8")[0].tolist()
    )
