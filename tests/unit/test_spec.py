import dataclasses

import pytest

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec, check_number, is_finite_number


def test_round_trip_through_dict(spec: FeedSpec) -> None:
    assert FeedSpec.from_dict(spec.to_dict()) == spec


def test_unknown_spec_version_is_refused(spec: FeedSpec) -> None:
    data = spec.to_dict() | {"spec_version": 99}
    with pytest.raises(ConfigurationError, match="version 99"):
        FeedSpec.from_dict(data)


def test_fingerprint_follows_the_text(spec: FeedSpec) -> None:
    retexted = dataclasses.replace(spec, text_columns=("title",))
    assert retexted.fingerprint != spec.fingerprint


def test_the_spec_carries_no_weights(spec: FeedSpec) -> None:
    # The query layer reads them from the feed class per request; a copy in the spec
    # could only disagree with the settings.
    assert "weights" not in spec.to_dict()
    assert not hasattr(spec, "weights")


@pytest.mark.parametrize(
    "weights",
    [
        {"similarity": 0.6, "freshness": 0.2, "popularity": 0.2, "collaborative": 0.0},
        # A row an older version wrote: whatever it holds, it is not used.
        {"similarity": float("nan"), "freshness": "high"},
    ],
)
def test_stored_specs_with_weights_load_with_their_fingerprint(
    spec: FeedSpec, weights: dict[str, object]
) -> None:
    stored = spec.to_dict() | {"weights": weights}
    loaded = FeedSpec.from_dict(stored)
    assert loaded == spec
    assert loaded.fingerprint == spec.fingerprint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feed_id": "Bad-Id"}, "feed_id"),
        ({"content_table": 'x"; drop table y; --'}, "content_table"),
        ({"text_columns": ()}, "text_fields"),
        ({"text_columns": ("ok", "not ok")}, "text field"),
        ({"content_key_type": "jsonb"}, "key type"),
        ({"dimension": 0}, "dimension"),
        ({"window": True}, "window"),
    ],
)
def test_invalid_specs_name_the_problem(spec: FeedSpec, change: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        dataclasses.replace(spec, **change)


def test_text_expression_quotes_and_skips_nulls(spec: FeedSpec) -> None:
    assert spec.text_expression("n") == 'concat_ws(\' \', n."title"::text, n."body"::text)'
    with pytest.raises(ConfigurationError):
        spec.text_expression("n; --")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"freshness_half_life_hours": float("nan")}, "freshness_half_life_hours must be a finite"),
        ({"freshness_half_life_hours": float("inf")}, "freshness_half_life_hours must be a finite"),
        ({"freshness_half_life_hours": 0}, "freshness_half_life_hours must be a finite number > 0"),
        ({"dislike_weight": float("nan")}, "dislike_weight must be a finite number >= 0"),
        ({"dislike_weight": float("inf")}, "dislike_weight must be a finite number >= 0"),
        ({"dislike_weight": -1}, "dislike_weight must be a finite number >= 0"),
    ],
)
def test_non_finite_spec_numbers_name_the_feed_and_attribute(
    spec: FeedSpec, change: dict, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"feed 'articles': {message}"):
        dataclasses.replace(spec, **change)


def test_finite_numbers() -> None:
    assert is_finite_number(0) and is_finite_number(-2.5) and is_finite_number(10**400)
    for value in (float("nan"), float("inf"), True, "1", None):
        assert not is_finite_number(value)
    check_number("diversity", None, "diversity")
    with pytest.raises(ConfigurationError, match=r"^feed X: diversity must be None or a number"):
        check_number("diversity", 1.5, "feed X: diversity")
