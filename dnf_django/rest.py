"""Django REST framework support: feed pages as a pagination class, scores as fields.

Install the ``drf`` extra (``pip install "neural-feed[drf]"``). Only this module
imports ``rest_framework``, and nothing else in ``dnf_django`` imports this module, so
web processes without DRF are unaffected.

- :class:`FeedCursorPagination` pages a list view through :meth:`get_page
  <dnf_django.feeds.BaseNeuralFeed.get_page>`: the cursor travels in the query
  string, the response is ``{"next": <url or null>, "results": [...]}``.
- :class:`FeedScoreSerializerMixin` adds ``score``, ``similarity``,
  ``collaborative``, ``freshness`` and ``popularity`` to a serializer, read-only.

The embedding columns never reach a serializer: ``NeuralRecommendMixin``'s fields
are ``serialize=False``, which ``ModelSerializer`` honours (see ``docs/drf.md``).
"""

from __future__ import annotations

from typing import Any

try:
    from rest_framework import serializers
    from rest_framework.exceptions import ValidationError
    from rest_framework.pagination import BasePagination
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.utils.urls import replace_query_param
except ImportError as exc:  # tests/unit/test_rest_imports.py, in a subprocess
    raise ImportError(
        "dnf_django.rest needs Django REST framework: pip install 'neural-feed[drf]'"
    ) from exc

from dnf_core.errors import InvalidCursor
from dnf_django.conf import feed_setting
from dnf_django.feeds import BaseNeuralFeed


class FeedCursorPagination(BasePagination):
    """Pages a list view through its feed's :meth:`get_page`, one cursor chain per
    client: no item twice, one clock for the chain, likes counted as they happen.

    Name the feed as ``feed`` on a subclass or on the view. The view's queryset (after
    ``filter_queryset``, so filter backends apply) is the feed's ``queryset`` filter:
    it chooses which items may appear, the feed chooses their order. It must be a
    QuerySet of the feed's content model. Items are ranked for ``request.user``.

    The page size is ``page_size``, or ``?limit=`` when given: a positive integer,
    capped at ``max_page_size`` (default: the ``MAX_LIMIT`` setting); anything else is
    ignored, as DRF's own paginations do. A cursor that is invalid, expired, or another
    user's is a 400 naming the ``cursor`` parameter.
    """

    feed: type[BaseNeuralFeed] | None = None
    page_size = 20
    page_size_query_param = "limit"
    max_page_size: int | None = None
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        """The page's items, ranked; remembers the next cursor for the response.

        ``queryset`` must be a QuerySet of the feed's content model (``get_page``
        checks it: another model's is a ``ValueError``, a list a ``TypeError``)."""
        self.request = request
        feed = self.get_feed(view)
        cursor = request.query_params.get(self.cursor_query_param) or None
        try:
            page = feed.get_page(
                request.user, cursor=cursor, limit=self.get_page_size(request), queryset=queryset
            )
        except InvalidCursor as exc:
            raise ValidationError({self.cursor_query_param: [str(exc)]}) from exc
        self.next_cursor = page.next_cursor
        return page.items

    def get_feed(self, view: Any) -> type[BaseNeuralFeed]:
        """The view's ``feed``, else this class's."""
        feed = getattr(view, "feed", None) or self.feed
        if feed is None:
            raise TypeError(
                f"{type(self).__name__} needs a feed: set `feed = YourFeed` on a subclass "
                "or on the view"
            )
        return feed

    def get_page_size(self, request: Request) -> int:
        """``?limit=`` when it is a positive integer, capped; else ``page_size``."""
        bound = self.max_page_size or feed_setting("MAX_LIMIT")
        size = self.page_size
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                asked = int(raw)
            except ValueError:
                asked = 0
            if asked > 0:
                size = asked
        return min(size, bound)

    def get_next_link(self) -> str | None:
        """This request's URL with the next cursor, so ``limit`` and filters carry over."""
        if self.next_cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return str(replace_query_param(url, self.cursor_query_param, self.next_cursor))

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` cursor of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Items per page.",
                "schema": {"type": "integer"},
            },
        ]


def _score_field(help_text: str) -> serializers.FloatField:
    # Read-only fields are skipped when the attribute is missing, so an object that
    # did not come from a feed (a detail view, say) is serialized without them.
    return serializers.FloatField(read_only=True, help_text=help_text)


class FeedScoreSerializerMixin(serializers.Serializer):  # type: ignore[type-arg]
    """The feed's annotations as read-only fields; put it before ``ModelSerializer``.

    With ``fields = "__all__"`` they are all included; with a list of fields, name the
    ones you want. Objects that did not come from ``get_feed`` / ``get_page`` lack
    them, and are serialized without them.
    """

    score = _score_field("The weighted sum the feed ranks by.")
    similarity = _score_field("Cosine similarity to the user's profile, in [0, 1].")
    collaborative = _score_field("The collaborative signal (0 without learned vectors).")
    freshness = _score_field("2^(-age / half-life), in [0, 1].")
    popularity = _score_field("ln(1 + likes) / ln(1 + the feed's largest count).")
