import dataclasses

import pytest

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec, Weights


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
