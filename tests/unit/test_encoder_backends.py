"""ENCODER_BACKEND: identities, which backend embeds a feed, and the settings' rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnf_core.encoders.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    backend_encoder,
    backend_of,
    check_backend,
    embedding_target,
    identity_of,
    same_model,
    without_backend,
)
from dnf_core.encoders.onnx import OnnxEncoder, OnnxInt8Encoder
from dnf_core.encoders.sentence_transformer import SentenceTransformerEncoder
from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec

ST = "dnf_core.encoders.SentenceTransformerEncoder"
TORCH_ID = f"{ST}:all-MiniLM-L6-v2:384"
INT8_ID = f"{ST}[onnx-int8]:all-MiniLM-L6-v2:384"


def spec(**changes: object) -> FeedSpec:
    base = FeedSpec(
        feed_id="movies",
        content_table="catalog_movie",
        content_key="id",
        content_key_type="bigint",
        text_columns=("title",),
        interaction_table="catalog_movie_liked_by",
        interaction_user_column="user_id",
        interaction_item_column="movie_id",
        interaction_order_column="id",
        user_key_type="integer",
        encoder=ST,
        model_name="all-MiniLM-L6-v2",
        dimension=384,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_torch_keeps_the_identity_feeds_were_recorded_with_before_backends() -> None:
    # Migration 0009 recorded feeds as encoder:model:dimension; torch still is that.
    assert spec(encoder_backend="torch").embedding_identity == TORCH_ID
    assert spec(encoder_backend="onnx-int8").embedding_identity == INT8_ID
    assert spec(encoder_backend="onnx").embedding_identity == f"{ST}[onnx]:all-MiniLM-L6-v2:384"


def test_encoders_without_backends_ignore_it() -> None:
    hashing = spec(encoder="dnf_core.encoders.HashingEncoder", model_name="hashing-384")
    assert hashing.embedding_identity == "dnf_core.encoders.HashingEncoder:hashing-384:384"
    assert identity_of("my.Encoder", "onnx", "m", 8) == "my.Encoder:m:8"


def test_a_spec_written_before_backends_reads_as_the_default_and_keeps_its_fingerprint() -> None:
    legacy = spec().to_dict()
    del legacy["encoder_backend"]
    read = FeedSpec.from_dict(legacy)
    assert read.encoder_backend == DEFAULT_BACKEND
    assert read.fingerprint == spec().fingerprint
    # Declaring another backend is a spec change (a migration), as a model change is.
    assert spec(encoder_backend="torch").fingerprint != spec().fingerprint


def test_parsing_identities() -> None:
    assert backend_of(TORCH_ID) == "torch"
    assert backend_of(INT8_ID) == "onnx-int8"
    assert without_backend(INT8_ID) == TORCH_ID
    assert same_model(TORCH_ID, INT8_ID)
    assert not same_model(TORCH_ID, f"{ST}:other-model:384")
    assert not same_model(TORCH_ID, f"{ST}[bogus]:all-MiniLM-L6-v2:384")
    # The dimension stays the last part, as workers.reembed.identity_dimension reads it.
    assert INT8_ID.rpartition(":")[2] == "384"


def test_a_feed_recorded_with_another_backend_keeps_it() -> None:
    declared = spec(encoder_backend="onnx-int8")
    # Recorded with torch (embedded before the upgrade): embedded with torch, in place.
    target, to_column = embedding_target(declared, TORCH_ID)
    assert (target.encoder_backend, to_column) == ("torch", True)
    assert target.embedding_identity == TORCH_ID
    # Recorded with what it declares: as declared.
    assert embedding_target(declared, INT8_ID) == (declared, True)
    # Another model: a re-embedding, its vectors kept aside until the swap.
    other = f"{ST}:paraphrase-MiniLM-L3-v2:384"
    assert embedding_target(declared, other) == (declared, False)


def test_backend_values_are_checked() -> None:
    assert check_backend("onnx") == "onnx"
    for bad in ("ONNX", "openvino", None, 3):
        with pytest.raises(ConfigurationError, match="must be one of 'torch', 'onnx', 'onnx-int8'"):
            check_backend(bad)
    with pytest.raises(ConfigurationError, match="encoder_backend"):
        spec(encoder_backend="tensorflow")
    assert DEFAULT_BACKEND in BACKENDS


def test_the_class_that_runs_each_backend() -> None:
    assert backend_encoder(SentenceTransformerEncoder, ST, "torch") is SentenceTransformerEncoder
    assert backend_encoder(SentenceTransformerEncoder, ST, "onnx") is OnnxEncoder
    assert backend_encoder(SentenceTransformerEncoder, ST, "onnx-int8") is OnnxInt8Encoder

    class Custom(SentenceTransformerEncoder):
        pass

    # A subclass may load or encode its own way: it runs as written.
    assert backend_encoder(Custom, "my.Custom", "onnx-int8") is Custom


def test_an_unknown_backend_setting_is_a_system_check_error() -> None:
    from django.conf import settings
    from django.test import override_settings

    from dnf_django.checks import check_settings

    with override_settings(
        DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, "ENCODER_BACKEND": "openvino"}
    ):
        errors = [m for m in check_settings() if m.id == "dnf_django.E004"]
    assert len(errors) == 1 and "ENCODER_BACKEND" in errors[0].msg
    assert "'torch', 'onnx', 'onnx-int8'" in errors[0].msg


def test_a_feed_compiles_its_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.feeds import MovieFeed

    assert MovieFeed.get_spec().encoder_backend == DEFAULT_BACKEND
    monkeypatch.setattr(MovieFeed, "encoder_backend", "torch")
    assert MovieFeed.get_spec().embedding_identity == TORCH_ID
    monkeypatch.setattr(MovieFeed, "encoder_backend", "gpu")
    with pytest.raises(ConfigurationError, match="encoder_backend must be one of"):
        MovieFeed.get_spec()
    # An encoder without backends compiles with the default: its spec is unchanged.
    monkeypatch.setattr(MovieFeed, "encoder_backend", "torch")
    monkeypatch.setattr(MovieFeed, "encoder_class", "dnf_core.encoders.HashingEncoder")
    assert MovieFeed.get_spec().encoder_backend == DEFAULT_BACKEND


def test_an_onnx_backend_that_cannot_run_its_model_here_is_a_system_check_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from catalog.feeds import MovieFeed
    from dnf_django.encoder_checks import check_encoder_exports

    monkeypatch.setenv("DNF_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(MovieFeed, "embedding_model_name", f"{tmp_path}/no-such-model")
    errors = [m for m in check_encoder_exports() if m.id == "dnf_django.E010"]
    assert len(errors) == 1
    assert "'movies'" in errors[0].msg and "not installed here to export them" in errors[0].msg
    assert "dnf_export_model" in (errors[0].hint or "")
    # On torch there is nothing to export.
    monkeypatch.setattr(MovieFeed, "encoder_backend", "torch")
    assert not [m for m in check_encoder_exports() if m.id == "dnf_django.E010"]
