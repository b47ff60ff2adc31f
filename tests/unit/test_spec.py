import dataclasses

import pytest

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec, Weights, check_number, is_finite_number


def test_round_trip_through_dict(spec: FeedSpec) -> None:
    assert FeedSpec.from_dict(spec.to_dict()) == spec


def test_unknown_spec_version_is_refused(spec: FeedSpec) -> None:
    data = spec.to_dict() | {"spec_version": 99}
    with pytest.raises(ConfigurationError, match="version 99"):
        FeedSpec.from_dict(data)


def test_fingerprint_ignores_weights_but_not_text(spec: FeedSpec) -> None:
    reweighted = dataclasses.replace(spec, weights=Weights(1.0, 0.0, 0.0))
    retexted = dataclasses.replace(spec, text_columns=("title",))
    assert reweighted.fingerprint == spec.fingerprint
    assert retexted.fingerprint != spec.fingerprint


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


def test_weights_must_be_numbers() -> None:
    with pytest.raises(ConfigurationError, match="weight_freshness"):
        Weights(freshness="high")  # type: ignore[arg-type]


def test_text_expression_quotes_and_skips_nulls(spec: FeedSpec) -> None:
    assert spec.text_expression("n") == 'concat_ws(\' \', n."title"::text, n."body"::text)'
    with pytest.raises(ConfigurationError):
        spec.text_expression("n; --")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "0.2", None, True])
@pytest.mark.parametrize("name", ["similarity", "freshness", "popularity", "collaborative"])
def test_weights_must_be_finite_numbers(name: str, value: object) -> None:
    # One NaN weight makes every score NaN, which sorts above every real score.
    with pytest.raises(ConfigurationError, match=f"weight_{name} must be a finite number"):
        Weights(**{name: value})  # type: ignore[arg-type]


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


def test_a_registry_row_with_nan_weights_is_refused_by_the_worker(spec: FeedSpec) -> None:
    # Python's json writes and reads NaN: the spec itself must refuse it.
    data = spec.to_dict()
    data["weights"]["popularity"] = float("nan")
    with pytest.raises(ConfigurationError, match="weight_popularity"):
        FeedSpec.from_dict(data)


def test_finite_numbers() -> None:
    assert is_finite_number(0) and is_finite_number(-2.5) and is_finite_number(10**400)
    for value in (float("nan"), float("inf"), True, "1", None):
        assert not is_finite_number(value)
    check_number("diversity", None, "diversity")
    with pytest.raises(ConfigurationError, match=r"^feed X: diversity must be None or a number"):
        check_number("diversity", 1.5, "feed X: diversity")
