"""The ORM expressions of the ranking signals, without a database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Case, Count, F, FloatField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Ln, Now, Random

from dnf_django.expressions import is_constant


@pytest.mark.parametrize(
    ("expression", "constant"),
    [
        (Value(1.0), True),
        (Value(0.5, output_field=FloatField()), True),
        (Value(1.0) * 2 + Value(0.5), True),
        (Ln(Value(3.0)), True),
        (Cast(Value(1), FloatField()), True),
        (F("views"), False),
        (F("views") * 0.0, False),
        (Count("likes"), False),
        (Now(), False),
        (Random(), False),
        (RawSQL("1.0", []), False),  # might read a column: not assumed constant
        (Case(When(title="a", then=Value(1.0)), default=Value(0.0)), False),
    ],
)
def test_is_constant_recognizes_only_value_trees(expression: Any, constant: bool) -> None:
    assert is_constant(expression) is constant
