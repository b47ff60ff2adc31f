"""``BaseNeuralFeed``: declare a feed over a content model and an interaction table."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.db import models

from dnf_core.errors import UnknownFeedAttribute
from dnf_core.spec import FeedSpec
from dnf_django.conf import feed_setting

if TYPE_CHECKING:
    from dnf_django.explanations import Explanation
    from dnf_django.pages import FeedPage

# Feed attributes whose default comes from settings, read when used.
_SETTING_DEFAULTS = {
    "embedding_model_name": "MODEL_NAME",
    "encoder_class": "ENCODER_CLASS",
    "encoder_backend": "ENCODER_BACKEND",
    "user_likes_limit": "USER_LIKES_LIMIT",
    "weight_similarity": "WEIGHT_SIMILARITY",
    "weight_freshness": "WEIGHT_FRESHNESS",
    "weight_popularity": "WEIGHT_POPULARITY",
    "weight_collaborative": "WEIGHT_COLLABORATIVE",
    "collaborative_dimension": "COLLABORATIVE_DIMENSION",
    "diversity": "DIVERSITY",
    "exclude_interacted": "EXCLUDE_INTERACTED",
    "freshness_half_life_hours": "FRESHNESS_HALF_LIFE_HOURS",
    "dislike_weight": "DISLIKE_WEIGHT",
}


# These describe the interaction model's columns, so a feed that declares its own
# interaction model does not inherit them from its parent_feed.
_INTERACTION_ATTRIBUTES = frozenset(
    {"mode", "user_field_name", "content_field_name", "order_field_name", "value_field_name"}
)


class BaseNeuralFeed:
    """Subclass this to declare a feed, then call :meth:`get_feed`.

    Attributes left unset (``None``) are taken from ``parent_feed`` if there is one,
    else from ``settings.DJANGO_NEURAL_FEED``, at the time they are used.
    """

    feed_id: ClassVar[str | None] = None
    parent_feed: ClassVar[type[BaseNeuralFeed] | None] = None
    content_django_model: ClassVar[type[models.Model] | None] = None
    interaction_django_model: ClassVar[type[models.Model] | None] = None
    mode: ClassVar[Literal["m2m", "model"] | None] = None
    user_field_name: ClassVar[str | None] = None
    content_field_name: ClassVar[str | None] = None
    order_field_name: ClassVar[str | None] = None
    value_field_name: ClassVar[str | None] = None
    dislike_weight: ClassVar[float | None] = None
    text_fields: ClassVar[tuple[str, ...] | None] = None
    # Lookups of text_fields ("tags__name"): how the values of one are joined, ordered
    # ("value", or "added": oldest link first) and how many are kept (default ", ",
    # "value", 20). A str.format template naming every text field joins the fields
    # (default: one space between them).
    text_separator: ClassVar[str | None] = None
    text_order: ClassVar[Literal["value", "added"] | None] = None
    text_max_values: ClassVar[int | None] = None
    text_template: ClassVar[str | None] = None
    freshness_field: ClassVar[str | None] = None
    embedding_model_name: ClassVar[str | None] = None
    encoder_class: ClassVar[str | None] = None
    # "torch", "onnx" or "onnx-int8": how the default encoder runs (ENCODER_BACKEND).
    encoder_backend: ClassVar[str | None] = None
    user_likes_limit: ClassVar[int | None] = None
    weight_similarity: ClassVar[float | None] = None
    weight_freshness: ClassVar[float | None] = None
    weight_popularity: ClassVar[float | None] = None
    weight_collaborative: ClassVar[float | None] = None
    collaborative_dimension: ClassVar[int | None] = None
    diversity: ClassVar[float | None] = None
    # Leave out the items the user already liked, disliked or otherwise interacted with.
    exclude_interacted: ClassVar[bool | None] = None
    freshness_half_life_hours: ClassVar[float | None] = None
    popularity_expression: ClassVar[Any] = None
    freshness_expression: ClassVar[Any] = None

    @classmethod
    def get_setting(cls, name: str) -> Any:
        """The effective value of attribute ``name`` for this feed.

        Own classes first (so plain Python inheritance works), then ``parent_feed``,
        then the settings default. ``feed_id`` is never inherited, and neither are the
        interaction columns when the feed declares its own interaction model.

        Attributes of your own (``max_age_days = 7``, say) are inherited through
        ``parent_feed`` the same way. A name that no feed of the chain defines raises
        :class:`~dnf_core.errors.UnknownFeedAttribute`, which is also an
        ``AttributeError``.
        """
        if not hasattr(BaseNeuralFeed, name) and not cls._chain_defines(name):
            chain = " -> ".join(feed.__name__ for feed in cls._parent_chain())
            raise UnknownFeedAttribute(
                f"{cls.__name__}: unknown feed attribute {name!r} "
                f"(not a built-in one, and not defined by {chain})"
            )
        value = cls._own_setting(name)
        if value is not None:
            return value
        inherits = name != "feed_id" and not (
            name in _INTERACTION_ATTRIBUTES
            and cls._own_setting("interaction_django_model") is not None
        )
        # A name of your own that only this feed declares (as None) ends here, rather
        # than being reported unknown by a parent that never heard of it.
        own_only = not hasattr(BaseNeuralFeed, name) and (
            cls.parent_feed is None or not cls.parent_feed._chain_defines(name)
        )
        if cls.parent_feed is not None and inherits and not own_only:
            return cls.parent_feed.get_setting(name)
        if name in _SETTING_DEFAULTS:
            return feed_setting(_SETTING_DEFAULTS[name])
        return None

    @classmethod
    def _own_setting(cls, name: str) -> Any:
        for klass in cls.__mro__:
            if klass is BaseNeuralFeed:
                break
            value = vars(klass).get(name)
            if value is not None:
                return value
        return None

    @classmethod
    def _parent_chain(cls) -> list[type[BaseNeuralFeed]]:
        """This feed, then its parent feeds, nearest first (bounded: a cycle is a
        declaration error, not a reason to hang)."""
        chain: list[type[BaseNeuralFeed]] = [cls]
        parent = cls.parent_feed
        while parent is not None and parent not in chain and len(chain) < 16:
            chain.append(parent)
            parent = parent.parent_feed
        return chain

    @classmethod
    def _chain_defines(cls, name: str) -> bool:
        """Whether a feed class of the chain (or a class it derives from, short of
        BaseNeuralFeed) declares ``name``, even as None."""
        return any(
            name in vars(klass)
            for feed in cls._parent_chain()
            for klass in feed.__mro__
            if klass is not BaseNeuralFeed and klass is not object
        )

    @classmethod
    def get_spec(cls) -> FeedSpec:
        """The framework-free spec this feed compiles to (what migrations install)."""
        from dnf_django.compiler import compile_spec

        return compile_spec(cls)

    @classmethod
    def get_feed(
        cls,
        user: Any,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        limit: int = 20,
        excluded_queryset: models.QuerySet[Any] | None = None,
        now: datetime | None = None,
    ) -> models.QuerySet[Any]:
        """A lazy QuerySet of content ranked for ``user``, best first.

        Each object is annotated with ``similarity``, ``freshness``, ``popularity`` and
        ``score``. Anonymous users and users without a profile get freshness and
        popularity only. ``now`` is the clock freshness is measured against (default:
        the current time). With ``exclude_interacted``, items ``user`` has a row for in
        the interaction table are left out by the query itself.

        ``user`` must be an ``AUTH_USER_MODEL`` instance, ``None`` or an
        ``AnonymousUser`` (anything else is :class:`TypeError`, not the anonymous
        feed); ``queryset`` and ``excluded_queryset`` must be QuerySets of
        ``content_django_model`` (another model's is :class:`ValueError`). The same
        holds for :meth:`get_page`, :meth:`explain` and :meth:`get_user_vector`.
        """
        from dnf_django.arguments import checked_items, checked_user
        from dnf_django.query import rank_feed

        return rank_feed(
            cls,
            checked_user(user),
            queryset=checked_items(cls, queryset, "queryset"),
            excluded_ids=excluded_ids,
            excluded_queryset=checked_items(cls, excluded_queryset, "excluded_queryset"),
            limit=limit,
            now=now,
        )

    @classmethod
    async def aget_feed(
        cls,
        user: Any,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        limit: int = 20,
        excluded_queryset: models.QuerySet[Any] | None = None,
        now: datetime | None = None,
    ) -> list[Any]:
        """:meth:`get_feed` for async views: the ranked items as a list, read with the
        ORM's async iteration.

        A list, not a QuerySet: Django's ``a``-methods are the ones that hit the
        database, and a QuerySet handed to an async view invites a plain ``for`` that
        raises ``SynchronousOnlyOperation``. For the lazy QuerySet, call
        :meth:`get_feed` (it runs no query) and iterate it with ``async for``.
        ``user`` may be ``await request.auser()`` or the lazy ``request.user``
        (resolved off the event loop).
        """
        from dnf_django.arguments import achecked_user

        items = cls.get_feed(
            await achecked_user(user),
            queryset=queryset,
            excluded_ids=excluded_ids,
            limit=limit,
            excluded_queryset=excluded_queryset,
            now=now,
        )
        return [item async for item in items]

    @classmethod
    def get_page(
        cls,
        user: Any,
        cursor: str | None = None,
        limit: int = 20,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        excluded_queryset: models.QuerySet[Any] | None = None,
    ) -> FeedPage:
        """One page of the feed for infinite scroll: ``.items`` and ``.next_cursor``.

        Pass the previous page's ``next_cursor`` to get the next page (``None`` means
        the end). Within one chain of cursors no item appears twice, every page ranks
        with the first page's clock, and likes made meanwhile already count. Pass the
        same filters to every page of a chain. A cursor is signed and bound to this
        feed and user: anything else raises :class:`~dnf_core.errors.InvalidCursor`.
        """
        from dnf_django.arguments import checked_items, checked_user
        from dnf_django.pages import feed_page

        return feed_page(
            cls,
            checked_user(user),
            cursor=cursor,
            limit=limit,
            queryset=checked_items(cls, queryset, "queryset"),
            excluded_ids=excluded_ids,
            excluded_queryset=checked_items(cls, excluded_queryset, "excluded_queryset"),
        )

    @classmethod
    async def aget_page(
        cls,
        user: Any,
        cursor: str | None = None,
        limit: int = 20,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        excluded_queryset: models.QuerySet[Any] | None = None,
    ) -> FeedPage:
        """:meth:`get_page` for async views; the same pages, cursors and chains.

        The feed queries run through the ORM's async iteration; storing the page of a
        chain uses a raw cursor on the chain store, which Django has no async form of,
        so that step runs with ``sync_to_async``.
        """
        from dnf_django.arguments import achecked_user, checked_items
        from dnf_django.pages import afeed_page

        return await afeed_page(
            cls,
            await achecked_user(user),
            cursor=cursor,
            limit=limit,
            queryset=checked_items(cls, queryset, "queryset"),
            excluded_ids=excluded_ids,
            excluded_queryset=checked_items(cls, excluded_queryset, "excluded_queryset"),
        )

    @classmethod
    def similar(
        cls,
        item: Any,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        limit: int = 10,
        excluded_queryset: models.QuerySet[Any] | None = None,
        now: datetime | None = None,
    ) -> models.QuerySet[Any]:
        """A lazy QuerySet of the items most like ``item`` ("more like this"), best first.

        Ranked as :meth:`get_feed` ranks for a user whose one like is ``item``: its
        text vector stands for the profile (``similarity`` is the cosine of the two
        embeddings), its collaborative vector for the collaborative profile
        (``collaborative``: the items it is co-liked with), and freshness and
        popularity count with the feed's weights. ``item`` itself is left out. One
        query, from the feed's indexes, within ``queryset``'s filters and without
        ``excluded_ids`` / ``excluded_queryset``, with the same checks and ``limit``
        bound as :meth:`get_feed`; ``explain(None, obj)`` takes its objects apart.

        ``item`` is an instance of the content model or its key. An item with neither
        an embedding nor a collaborative vector yet (just created, say) has nothing to
        be like: the result is empty, not padded with fresh or popular items. A key no
        item has raises :class:`~dnf_core.errors.ItemNotFound` (also the model's
        ``DoesNotExist``) when the result is evaluated.
        """
        from dnf_django.arguments import checked_item, checked_items
        from dnf_django.similar import similar_items

        return similar_items(
            cls,
            checked_item(cls, item),
            queryset=checked_items(cls, queryset, "queryset"),
            excluded_ids=excluded_ids,
            excluded_queryset=checked_items(cls, excluded_queryset, "excluded_queryset"),
            limit=limit,
            now=now,
        )

    @classmethod
    async def asimilar(
        cls,
        item: Any,
        queryset: models.QuerySet[Any] | None = None,
        excluded_ids: Any = None,
        limit: int = 10,
        excluded_queryset: models.QuerySet[Any] | None = None,
        now: datetime | None = None,
    ) -> list[Any]:
        """:meth:`similar` for async views: the items as a list, read with the ORM's
        async iteration (a list for the reason :meth:`aget_feed` gives)."""
        items = cls.similar(
            item,
            queryset=queryset,
            excluded_ids=excluded_ids,
            limit=limit,
            excluded_queryset=excluded_queryset,
            now=now,
        )
        return [row async for row in items]

    @classmethod
    def get_user_vector(cls, user: Any) -> list[float] | None:
        """``user``'s profile in this feed as a list of floats, or None (1.x's API).

        None for anonymous users, ``None``, and users without a profile. A user new
        to this feed gets the nearest ``parent_feed``'s profile, as the feed query
        does. One query. Profiles are written by the workers; to seed one, create a
        :class:`~dnf_django.models.UserFeedProfile`.
        """
        from dnf_django.arguments import checked_user
        from dnf_django.query import user_vector

        return user_vector(cls, checked_user(user))

    @classmethod
    async def aget_user_vector(cls, user: Any) -> list[float] | None:
        """:meth:`get_user_vector` for async code (the ORM's async iteration)."""
        from dnf_django.arguments import achecked_user
        from dnf_django.query import as_floats, user_vector_query

        query = user_vector_query(cls, await achecked_user(user))
        return as_floats([row async for row in query] if query is not None else [])

    @classmethod
    def explain(cls, user: Any, item: Any, now: datetime | None = None) -> Explanation:
        """Why ``item`` (an object or its key) scores what it does for ``user``.

        ``item`` is an instance of the content model or its key (converted as the key
        field converts it); an instance of another model is :class:`TypeError`, a
        value that cannot be a key :class:`ValueError`.
        """
        from dnf_django.arguments import checked_item, checked_user
        from dnf_django.explanations import explain

        return explain(cls, checked_user(user), checked_item(cls, item), now)

    @classmethod
    async def aexplain(cls, user: Any, item: Any, now: datetime | None = None) -> Explanation:
        """:meth:`explain` for async code, through the ORM's ``afirst`` and ``aexists``."""
        from dnf_django.arguments import achecked_user, checked_item
        from dnf_django.explanations import aexplain

        return await aexplain(cls, await achecked_user(user), checked_item(cls, item), now)
