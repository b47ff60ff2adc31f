"""ORM expressions for the built-in ranking signals, each in [0, 1]."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Expression, F, FloatField, Func, Value


class ExponentialDecay(Func):
    """``exp(-ln 2 · age / half_life)``: 1 for a brand-new item, 0.5 one half-life later.

    The clock is a parameter rather than ``now()`` so that every page of one feed
    ranks with the same clock.
    """

    output_field = FloatField()

    def __init__(
        self, timestamp: str | Expression, *, now: datetime, half_life_hours: float
    ) -> None:
        if half_life_hours <= 0:
            raise ValueError("half_life_hours must be positive")
        source = F(timestamp) if isinstance(timestamp, str) else timestamp
        super().__init__(source, Value(now), Value(float(half_life_hours) * 3600.0))

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        timestamp, now, half_life = parts
        # Future timestamps count as brand new rather than scoring above 1.
        age = f"greatest(extract(epoch from ({now} - {timestamp}))::float8, 0)"
        return f"coalesce(exp(-ln(2) * {age} / {half_life}), 0)", params


class LogScaled(Func):
    """``ln(1 + n) / ln(1 + max)``: 0 with no interactions, 1 for the most popular item.

    Log scale, so a few runaway hits do not flatten everything else to zero.
    """

    output_field = FloatField()

    def __init__(self, count: Any, maximum: Any) -> None:
        super().__init__(count, maximum)

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        (count, count_params), (maximum, maximum_params) = (
            compiler.compile(e) for e in self.get_source_expressions()
        )
        sql = f"coalesce(ln(1.0 + ({count})::float8) / nullif(ln(1.0 + ({maximum})::float8), 0), 0)"
        return sql, [*count_params, *maximum_params]
