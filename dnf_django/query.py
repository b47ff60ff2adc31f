"""The feed query: candidates from indexes, then the hybrid score over candidates only.

``score = w_s·similarity + w_c·collaborative + w_f·freshness + w_p·popularity``,
computed in SQL and returned as a lazy QuerySet annotated with each component. An
evaluated feed costs one query: it reads the user's profile and applies the HNSW
search settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from operator import add
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection, models
from django.db.models import BooleanField, Case, F, FloatField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from dnf_core.errors import ConfigurationError, InvalidArgument, InvalidArgumentType
from dnf_core.identifiers import quote_identifier
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql
from dnf_django.candidates import CandidatePools, RankQuery, candidate_ids_sql
from dnf_django.conf import feed_setting
from dnf_django.expressions import ExponentialDecay, SqlTemplate, is_constant
from dnf_django.models import UserFeedProfile
from dnf_django.queryset import feed_queryset_class

# With ``diversity`` set, the feed re-ranks this many times ``limit`` of its best items.
DIVERSITY_POOL = 4
# The field NeuralRecommendMixin adds.
EMBEDDING_FIELD = "embedding"

# The ranking signals; ``score`` weighs them with ``weight_<name>``.
SIGNALS = ("similarity", "collaborative", "freshness", "popularity")


@dataclass(frozen=True)
class Profile:
    """A signed-in user's profile, as scalar subqueries the feed query reads itself.

    ``embedding`` selects the mean of the user's recent liked items' embeddings;
    ``collaborative`` the same mean over their collaborative vectors (None when the
    feed learns none). Each is ``(sql, params)`` and yields no row while the user
    has no profile, which the SQL turns into a 0 signal: no round trip of its own,
    and no vector formatted in Python.
    """

    embedding: tuple[str, tuple[Any, ...]]
    collaborative: tuple[str, tuple[Any, ...]] | None
    # One item's vectors (Feed.similar) rather than a user's mean: see _pools.
    single_item: bool = False

    def expression(self, part: str) -> RawSQL:
        sql, params = getattr(self, part)
        return RawSQL(sql, params)


def user_profile(feed: Any, spec: FeedSpec, user: Any) -> Profile | None:
    """``user``'s profile in ``feed``, else in its nearest ``parent_feed`` that has one.

    As upstream: a user new to a child feed starts from the parent's profile, but only
    when both embed with the same model, so the vectors are comparable; collaborative
    vectors are learned per feed, so an inherited profile has none. None for
    anonymous users. Nothing is read here: the subqueries run inside the feed query.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    chain = _profile_chain(feed, spec)
    key = user_key(user)
    embedding: tuple[str, tuple[Any, ...]]
    embedding = (render_sql("feed/profile", column="embedding"), (key, spec.feed_id))
    if len(chain) > 1:
        # The nearest feed of the chain that has one: a sort, planned on every request,
        # so only when there is a chain.
        embedding = (render_sql("feed/profile_chain", column="embedding"), (key, chain, chain))
    collaborative = None
    if spec.collaborative_dimension:
        collaborative = (
            render_sql("feed/profile", column="collaborative"),
            (key, spec.feed_id),
        )
    return Profile(embedding, collaborative)


def user_key(user: Any) -> Any:
    """``user``'s primary key as its column stores it, for parameters of raw SQL.

    The ORM converts keys itself; raw SQL needs it done: a ``CharField`` key made by
    ``default=uuid.uuid4`` is still a UUID object until the row is read back.
    """
    return user._meta.pk.get_db_prep_value(user.pk, connection)


def profiles_of(feed: Any, spec: FeedSpec, user: Any) -> QuerySet[UserFeedProfile] | None:
    """The profiles ``user`` could rank with in ``feed``: its own and those of the
    ``parent_feed`` chain it inherits from; None for anonymous users and ``None``.

    Lazy, so the sync and the async API evaluate the same query their own way.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    chain = _profile_chain(feed, spec)
    return UserFeedProfile.objects.filter(user_id=user.pk, feed_id__in=chain)


def user_vector_query(feed: Any, user: Any) -> QuerySet[Any] | None:
    """The query :func:`user_vector` runs: at most one embedding, the one the feed
    query would use; None when there is nothing to read."""
    spec = feed.get_spec()
    profiles = profiles_of(feed, spec, user)
    if profiles is None:
        return None
    chain = _profile_chain(feed, spec)
    if len(chain) > 1:
        # Nearest feed of the chain first, as feed/profile_chain.sql orders them.
        nearest = Case(*(When(feed_id=f, then=Value(i)) for i, f in enumerate(chain)))
        profiles = profiles.order_by(nearest)
    return profiles.values_list(EMBEDDING_FIELD, flat=True)[:1]


def user_vector(feed: Any, user: Any) -> list[float] | None:
    """``user``'s profile vector in ``feed`` as floats, else None (one query).

    Read as the feed query reads it: the feed's own profile, else that of its nearest
    ``parent_feed`` embedding with the same model. None for anonymous users, for
    ``None``, and while the user has no profile.
    """
    query = user_vector_query(feed, user)
    return as_floats(list(query) if query is not None else [])


def as_floats(found: list[Any]) -> list[float] | None:
    """The vector :func:`user_vector_query` found, as plain floats, else None."""
    return [float(x) for x in found[0]] if found else None


def _profile_chain(feed: Any, spec: FeedSpec) -> list[str]:
    chain = [spec.feed_id]
    parent = feed.parent_feed
    while parent is not None and len(chain) < 16:  # a cycle is a declaration error
        parent_spec = parent.get_spec()
        if parent_spec.embedding_identity != spec.embedding_identity:
            break
        chain.append(parent_spec.feed_id)
        parent = parent.parent_feed
    return chain


def rank_feed(
    feed: Any,
    user: Any,
    *,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
    limit: int,
    now: datetime | None = None,
    profile: Profile | None = None,
    gate: Any = None,
    spec: FeedSpec | None = None,
) -> QuerySet[Any]:
    """Candidates of ``feed`` for ``user``, scored and ordered by score then key.

    ``profile`` ranks against other vectors than ``user``'s: ``Feed.similar`` passes
    an item's own (``dnf_django.similar``). ``gate``, a condition that reads no
    column, filters the final statement only: Postgres tests it once, and when it is
    false no candidate pool runs, so the pools need no copy of it. ``spec``, when the
    caller has it, is not compiled again (each compile is about a fifth of the
    request's Python time)."""
    check_limit(limit)
    if spec is None:
        spec = feed.get_spec()
    model = feed.get_setting("content_django_model")
    items = queryset if queryset is not None else model._default_manager.all()
    excluded = None
    if isinstance(excluded_ids, QuerySet):
        items = items.exclude(pk__in=excluded_ids)
    elif excluded_ids is not None:
        # Applied by each candidate pool, where it is cheapest; the final statement
        # only scores what the pools bring.
        excluded = excluded_keys(items.model._meta.pk, excluded_ids)
    if excluded_queryset is not None:
        items = items.exclude(pk__in=excluded_queryset.values("pk"))
    if excludes_interacted(feed) and user is not None and getattr(user, "is_authenticated", False):
        # On the caller's items, which every candidate pool searches within: each pool
        # skips interacted items as it goes and still brings its full count.
        items = items.filter(not_interacted(spec, user))

    if profile is None:
        profile = user_profile(feed, spec, user)
    now = clock(now)
    _, freshest_first = _freshness(feed, now)
    rank = _rank_query(feed, profile, now)
    pools = _pools(feed, rank, limit, single_item=profile is not None and profile.single_item)
    try:
        ids_sql, params = candidate_ids_sql(
            spec, items, rank=rank, freshness_order=freshest_first, pools=pools, excluded=excluded
        )
        candidates = items.filter(pk__in=RawSQL(ids_sql, params))
    except EmptyResultSet:
        # Filters Django knows match nothing (pk__in=[]) compile to no SQL: no items,
        # still a lazy QuerySet with every annotation.
        candidates = items.none()
    if gate is not None:
        candidates = candidates.filter(gate)
    diversity = feed.get_setting("diversity")
    if diversity is None and not candidates.query.values_select:
        # A page of 20 vectors is ~80 kB of text to ship and parse for nothing: the
        # score is computed in SQL. Reading .embedding still works (one query).
        candidates = candidates.defer(EMBEDDING_FIELD)
    fetched = limit if diversity is None else limit * DIVERSITY_POOL
    ranked: QuerySet[Any] = scored(candidates, feed, spec, profile, now).order_by("-score", "pk")[
        :fetched
    ]
    if diversity is not None:
        ranked.__class__ = feed_queryset_class(type(ranked))
        ranked.dnf_diversity = (float(diversity), limit, EMBEDDING_FIELD)  # type: ignore[attr-defined]
    return ranked


def excluded_keys(pk: Any, excluded_ids: Any) -> str | None:
    """``excluded_ids`` (an iterable of keys) as one array literal for
    :func:`~dnf_django.candidates.candidate_ids_sql`; None when it holds none."""
    if isinstance(excluded_ids, str | bytes) or not hasattr(excluded_ids, "__iter__"):
        raise InvalidArgumentType(
            f"excluded_ids must be an iterable of keys or a QuerySet, "
            f"got {type(excluded_ids).__name__}"
        )
    return _array_literal(pk, excluded_ids)


def _array_literal(pk: Any, keys: Any) -> str | None:
    """``keys``, sorted, as one Postgres array literal (``{1,2,3}``), None when there
    are none.

    One text parameter, where a list would have each element adapted in Python: 100,000
    keys cost about 0.5 s that way, a few ms this way. Keys are checked by the key
    field first, so a key of the wrong type is a ValueError, never part of the SQL.
    Sorted here as Postgres orders them (numbers, UUIDs as bytes, text by code point
    under the "C" collation), for the binary search of sql/feed/not_excluded.sql.
    """
    integer = isinstance(pk, models.AutoField | models.IntegerField)
    if integer:
        # Plain ints need no conversion: the common case, and 100,000 calls to
        # to_python would cost more than the query.
        values = list(keys)
        if not all(type(key) is int for key in values):
            values = [key if type(key) is int else _key(pk, key) for key in values]
    else:
        values = [_key(pk, key) for key in keys]
    values.sort()
    if not values:
        return None
    if integer or isinstance(values[0], UUID):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(map(_quoted, values)) + "}"


def _key(pk: Any, key: Any) -> Any:
    try:
        value = pk.to_python(key)
    except ValidationError as exc:
        raise InvalidArgument(
            f"excluded_ids: {exc.messages[0]} (keys of {pk.model._meta.label})"
        ) from None
    if value is None:
        raise InvalidArgument(f"excluded_ids: {key!r} is not a key of {pk.model._meta.label}")
    return value


def _quoted(key: Any) -> str:
    # Inside a double-quoted array element only backslash and double quote are special.
    return '"' + str(key).replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_limit(limit: Any) -> None:
    """Raise InvalidArgument (a ValueError) unless ``limit`` is a positive integer up to
    the ``MAX_LIMIT`` setting: up to it, every request gets ``min(limit, items that
    pass its filters)`` items."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit must be a positive integer, got {limit!r}")
    bound = feed_setting("MAX_LIMIT")
    if limit > bound:
        raise InvalidArgument(
            f"limit must be at most MAX_LIMIT ({bound}), got {limit}; "
            "raise DJANGO_NEURAL_FEED['MAX_LIMIT'] or page with get_page"
        )


# The clocks a feed ranks with: what both Python's datetime and Postgres's timestamptz
# hold, in UTC. Inside it any clock works, at any half-life (the rank query rebases
# its freshness coordinate in float8; see sql/feed/rank_candidates.sql).
CLOCK_MIN = datetime(1, 1, 2, tzinfo=UTC)
CLOCK_MAX = datetime(9999, 12, 30, tzinfo=UTC)


def clock(now: datetime | None) -> datetime:
    """The clock a request ranks with: ``now``, else the current time.

    Raises InvalidArgument (a ValueError) for a naive datetime (which time zone it
    means is a guess, and a wrong guess shifts every freshness) and for one outside
    [:data:`CLOCK_MIN`, :data:`CLOCK_MAX`].
    """
    if now is None:
        return timezone.now()
    if not isinstance(now, datetime):
        raise InvalidArgument(f"now must be a datetime, got {type(now).__name__}")
    if timezone.is_naive(now):
        raise InvalidArgument(f"now must be timezone-aware, got the naive datetime {now}")
    try:
        utc = now.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not CLOCK_MIN <= utc <= CLOCK_MAX:
        raise InvalidArgument(
            f"now must lie between {CLOCK_MIN.date().isoformat()} and "
            f"{CLOCK_MAX.date().isoformat()} UTC, got {now}"
        )
    return now


def excludes_interacted(feed: Any) -> bool:
    """Whether ``feed`` leaves out the items a user has interacted with.

    Raises :class:`~dnf_core.errors.ConfigurationError` unless ``exclude_interacted``
    (or the ``EXCLUDE_INTERACTED`` setting) is a bool: a truthy string such as
    ``"False"`` must not silently change what users see.
    """
    value = feed.get_setting("exclude_interacted")
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"feed {feed.__name__}: exclude_interacted must be True or False, got {value!r}"
        )
    return value


def not_interacted(spec: FeedSpec, user: Any) -> SqlTemplate:
    """A condition on content rows: ``user`` has no row for the item in ``spec``'s
    interaction table (an anti-join, evaluated inside the feed query)."""
    return SqlTemplate(
        "feed/not_interacted",
        [user_key(user)],
        output_field=BooleanField(),
        fragments={
            "interactions": quote_identifier(spec.interaction_table),
            "user": quote_identifier(spec.interaction_user_column),
            "item": quote_identifier(spec.interaction_item_column),
            "user_key_type": spec.user_key_type,
        },
        key="pk",
    )


def scored(
    items: QuerySet[Any], feed: Any, spec: FeedSpec, profile: Profile | None, now: datetime
) -> QuerySet[Any]:
    """``items`` annotated with each of :data:`SIGNALS` and ``score``."""
    similarity: Any = Value(0.0, output_field=FloatField())
    if profile is not None:
        similarity = SqlTemplate(
            "feed/similarity",
            embedding=spec.embedding_column,
            profile=profile.expression("embedding"),
        )
    freshness, _ = _freshness(feed, now)
    weighted = [feed.get_setting(f"weight_{name}") * F(name) for name in SIGNALS]
    signals = items.annotate(
        similarity=similarity,
        collaborative=_collaborative(spec, profile),
        freshness=freshness,
        popularity=_popularity(feed, spec),
    )
    ranked: QuerySet[Any] = signals.annotate(score=reduce(add, weighted))
    return ranked


def _collaborative(spec: FeedSpec, profile: Profile | None) -> Any:
    """Inner product of the item's collaborative vector with the user's (0 without)."""
    if profile is None or profile.collaborative is None:
        return Value(0.0, output_field=FloatField())
    return SqlTemplate(
        "feed/collaborative", [spec.feed_id], key="pk", profile=profile.expression("collaborative")
    )


def _rank_query(feed: Any, profile: Profile | None, now: datetime) -> RankQuery:
    """Stage one's searches; custom signals weigh 0 there, as do similarity for
    anonymous users (the search then ranks by freshness and popularity together) and
    the collaborative signal without collaborative vectors."""
    weights = {name: float(feed.get_setting(f"weight_{name}")) for name in SIGNALS}
    text = profile.embedding if profile is not None and weights["similarity"] else None
    collaborative = profile.collaborative if profile is not None else None
    return RankQuery(
        profile=text,
        collaborative_profile=collaborative if weights["collaborative"] else None,
        similarity=weights["similarity"] if text is not None else 0.0,
        collaborative=weights["collaborative"] if collaborative is not None else 0.0,
        freshness=weights["freshness"] if _built_in_freshness(feed) else 0.0,
        popularity=weights["popularity"] if _built_in_popularity(feed) else 0.0,
        now=now,
        iterative_scan=feed_setting("HNSW_ITERATIVE_SCAN"),
        ef_search=feed_setting("HNSW_EF_SEARCH"),
        ef_search_collaborative=feed_setting("HNSW_EF_SEARCH_COLLABORATIVE"),
    )


def _pools(feed: Any, rank: RankQuery, limit: int, *, single_item: bool = False) -> CandidatePools:
    """Pool sizes from the settings, each grown to ``limit`` when that is larger (a
    pool turned off with 0 stays off). For a user with a profile the rank vectors
    carry built-in freshness and popularity, so those signals' own pools then only
    guard against filters starving the search, and contribute ``limit`` each.

    ``covering`` is ``limit``: the freshest pool (or, without one, the newest keys)
    brings that many of the items that pass the filters whatever the other pools
    find, so a page holds ``limit`` items whenever that many exist. At the default
    sizes and ``limit`` <= 100 every pool keeps its size: the common request is the
    same query as before.

    ``single_item``: ranking against one item's vectors (``Feed.similar``), whose text
    similarities to other items are lower and flatter than a user's mean profile's,
    so freshness and popularity weigh more in its top, and the rank search, led by
    the text, can miss a top they dominate (recall@10 0.1 for such an item in the
    feed bench). The exact freshness + popularity pool then runs with a profile too.
    """

    def grown(size: int) -> int:
        return max(size, limit) if size else 0

    similarity = grown(feed_setting("CANDIDATES_SIMILARITY"))
    searched = similarity > 0 and rank.profile is not None
    freshness = grown(feed_setting("CANDIDATES_FRESHNESS"))
    popularity = grown(feed_setting("CANDIDATES_POPULARITY"))
    guarded_freshness = searched and _built_in_freshness(feed)
    guarded_popularity = searched and _built_in_popularity(feed)
    return CandidatePools(
        similarity=similarity,
        freshness=freshness,
        popularity=popularity,
        collaborative=grown(feed_setting("CANDIDATES_COLLABORATIVE")),
        freshness_with_profile=min(freshness, limit) if guarded_freshness else freshness,
        popularity_with_profile=min(popularity, limit) if guarded_popularity else popularity,
        covering=limit,
        cold_with_profile=max(freshness, popularity) if single_item else 0,
    )


def _built_in_freshness(feed: Any) -> bool:
    return (
        feed.get_setting("freshness_expression") is None
        and feed.get_setting("freshness_field") is not None
    )


def _built_in_popularity(feed: Any) -> bool:
    return feed.get_setting("popularity_expression") is None


def _freshness(feed: Any, now: datetime) -> tuple[Any, Any]:
    """The freshness expression and the ordering that puts the freshest first."""
    custom = feed.get_setting("freshness_expression")
    if custom is not None and is_constant(custom):
        # Upstream's default, Value(1.0): it tells no item apart, and Postgres refuses a
        # bare constant in ORDER BY. The pool that stands for freshness then takes the
        # newest keys instead (the primary key's index, read backwards), so a feed whose
        # other signals are constant too still gets candidates.
        return _no_null(custom), F("pk").desc()
    if custom is not None:
        # The pool sorts by the expression itself, which an expression index can serve.
        return _no_null(custom), custom.desc(nulls_last=True)
    field = feed.get_setting("freshness_field")
    if field is None:
        return Value(0.0, output_field=FloatField()), None
    decay = ExponentialDecay(
        field, now=now, half_life_hours=feed.get_setting("freshness_half_life_hours")
    )
    # A plain index on a NOT NULL column, read backwards, gives DESC NULLS FIRST; asking
    # for NULLS LAST there would make Postgres sort the whole table on every request.
    nullable = feed.get_setting("content_django_model")._meta.get_field(field).null
    return decay, F(field).desc(nulls_last=True) if nullable else F(field).desc()


def _popularity(feed: Any, spec: Any) -> Any:
    custom = feed.get_setting("popularity_expression")
    if custom is not None:
        return _no_null(custom)
    return SqlTemplate("feed/popularity", [spec.feed_id, spec.feed_id], key="pk")


def _no_null(custom: Any) -> Any:
    """A custom signal with NULL read as 0, as upstream did: a NULL would make the
    score NULL, and ``ORDER BY score DESC`` puts NULLs first, above every real item."""
    return Coalesce(custom, Value(0.0), output_field=FloatField())
