"""ORM expressions for the built-in ranking signals, each in [0, 1]."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Aggregate, Expression, F, FloatField, Func, Value, Window

from dnf_core.errors import InvalidArgument, SqlTemplateError
from dnf_core.sqlfiles import load_sql, placeholders


def is_constant(expression: Any) -> bool:
    """Whether ``expression`` is the same for every row: built from ``Value`` objects only.

    Conservative: anything that might read a row (a column, a lookup, raw SQL, a
    subquery, an aggregate, a function of no arguments such as ``Random()``) counts
    as not constant.
    """
    if isinstance(expression, Value):
        return True
    if isinstance(expression, Aggregate | Window):
        return False
    sources = getattr(expression, "get_source_expressions", None)
    if sources is None:
        return False
    parts = [part for part in sources() if part is not None]
    return bool(parts) and all(is_constant(part) for part in parts)


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
            raise InvalidArgument("half_life_hours must be positive")
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
        # Postgres raises on underflow: exp() below -745 (an item ~1,075 half-lives
        # older than the clock) is an error, not 0. NULLIF turns those into 0, which
        # is what the float8 result rounds to anyway.
        exponent = f"nullif(greatest(-ln(2) * {age} / {half_life}, -745.0), -745.0)"
        return f"coalesce(exp({exponent}), 0)", params


class SqlTemplate(Expression):
    """An expression whose SQL is a file of ``sql/``, loaded by name.

    ``{name}`` placeholders take the SQL of the expressions given by that name
    (columns of the row being scored, say, resolved and relabeled like any other
    expression); ``%s`` markers take ``params``, in order. Far cheaper to build than
    the nested querysets it replaces, which matters on a path run per request.

    ``fragments`` fill placeholders with SQL text as it is: only identifiers and type
    names already validated and quoted (``dnf_core.identifiers``), never a value.
    """

    def __init__(
        self,
        template: str,
        params: Sequence[Any] = (),
        output_field: Any = None,
        fragments: Mapping[str, str] | None = None,
        **expressions: Any,
    ) -> None:
        super().__init__(output_field=output_field or FloatField())
        self.template = template
        self.params = tuple(params)
        self.fragments = dict(fragments or {})
        self.names = tuple(expressions)
        self.expressions = [
            F(value) if isinstance(value, str) else value for value in expressions.values()
        ]
        if set(self.fragments) & set(self.names):
            raise SqlTemplateError(
                f"template {template!r}: {sorted(set(self.fragments) & set(self.names))} "
                "given both as a fragment and as an expression"
            )
        wanted, given = placeholders(template), set(self.names) | set(self.fragments)
        if wanted != given:
            raise SqlTemplateError(
                f"template {template!r} takes {sorted(wanted)}, got {sorted(given)}"
            )
        markers = sum(
            literal.count("%s") for literal, *_ in string.Formatter().parse(load_sql(template))
        )
        if markers != len(self.params):
            raise SqlTemplateError(
                f"template {template!r} takes {markers} parameters, got {len(self.params)}"
            )

    def get_source_expressions(self) -> list[Any]:
        return self.expressions

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.expressions = list(exprs)

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        compiled = dict(zip(self.names, map(compiler.compile, self.expressions), strict=True))
        fixed = iter(self.params)
        parts: list[str] = []
        params: list[Any] = []
        # Parameters must follow the text's order, fixed ones and the expressions' own.
        for literal, name, _, _ in string.Formatter().parse(load_sql(self.template)):
            parts.append(literal)
            params.extend(next(fixed) for _ in range(literal.count("%s")))
            if name in self.fragments:
                parts.append(self.fragments[name])
            elif name:
                sql, expression_params = compiled[name]
                parts.append(sql)
                params.extend(expression_params)
        return "".join(parts), params
