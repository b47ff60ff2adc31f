"""The arguments of a feed request, checked where they enter.

``get_feed``, ``get_page``, ``explain`` and ``get_user_vector`` take a user, querysets
and items from views; a value of the wrong kind used to give a plausible answer (the
anonymous feed for ``user=5``, an empty feed for a queryset of another model). Each
entry point passes its arguments through here first, so a wrong value is an error
that says which argument and why, never a wrong feed: :class:`InvalidArgumentType`
(a ``TypeError``) for a value of the wrong kind, :class:`InvalidArgument` (a
``ValueError``) for one of the right kind that cannot be used.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import LazyObject

from dnf_core.errors import InvalidArgument, InvalidArgumentType, ItemNotFound


def checked_user(user: Any) -> Any:
    """``user`` if it is a saved instance of ``AUTH_USER_MODEL``, ``None`` or an
    ``AnonymousUser``; else :class:`TypeError` (:class:`ValueError` for an unsaved user).

    ``request.user`` (a lazy object) passes: it presents the class it wraps.
    """
    if user is None or isinstance(user, AnonymousUser):
        return user
    user_model = get_user_model()
    if not isinstance(user, user_model):
        kind = (
            f"an instance of {user._meta.label}"
            if isinstance(user, models.Model)
            else f"{type(user).__name__} {user!r}"
        )
        raise InvalidArgumentType(
            f"user must be an instance of {user_model._meta.label}, None or AnonymousUser, "
            f"got {kind} (to rank for a user by key, fetch the user first)"
        )
    if user.pk is None:
        # Its profile query would compare with NULL and quietly find nothing.
        raise InvalidArgument(f"user is an unsaved {user_model._meta.label}: save it first")
    return user


async def achecked_user(user: Any) -> Any:
    """:func:`checked_user` for async code, where a lazy user must not be evaluated.

    ``await request.auser()`` gives a plain user and passes as it is. A lazy object
    (``request.user``, a ``SimpleLazyObject``) reads the session and the user table
    when first touched, which Django refuses in an event loop
    (``SynchronousOnlyOperation``): it is resolved with ``sync_to_async``, on the
    thread that holds the request's connection, and the user it wraps is returned.
    """
    if isinstance(user, LazyObject):
        return await sync_to_async(_resolved)(user)
    return checked_user(user)


def _resolved(user: LazyObject[Any]) -> Any:
    checked_user(user)  # evaluates it
    return user._wrapped


def checked_items(feed: Any, items: Any, argument: str) -> models.QuerySet[Any] | None:
    """``items`` (``queryset`` or ``excluded_queryset``) as a QuerySet of ``feed``'s
    content model, or None.

    A manager is taken as its ``all()``. A QuerySet of another model (say, the likes
    table) is :class:`ValueError` naming both models: its keys are another table's, so
    filtering by them would silently give an empty or a wrong feed. Anything that is
    not a QuerySet is :class:`TypeError`.
    """
    if items is None:
        return None
    content = feed.get_setting("content_django_model")
    if isinstance(items, models.Manager):
        items = items.all()
    if not isinstance(items, models.QuerySet):
        hint = "; pass keys as excluded_ids" if argument == "excluded_queryset" else ""
        raise InvalidArgumentType(
            f"{argument} must be a QuerySet of {content._meta.label} (feed "
            f"{feed.__name__}), got {type(items).__name__}{hint}"
        )
    # A proxy of the content model reads the same table with the same keys.
    if items.model._meta.concrete_model is not content._meta.concrete_model:
        raise InvalidArgument(
            f"{argument} is a QuerySet of {items.model._meta.label}, but feed "
            f"{feed.__name__} ranks {content._meta.label}: filter {content._meta.label} "
            f"instead (e.g. {content.__name__}.objects.filter(...))"
        )
    return items


def checked_item(feed: Any, item: Any) -> Any:
    """An item to explain: an instance of ``feed``'s content model, returned as is, or
    a key, returned as the key field converts it (``"42"`` becomes ``42``).

    An instance of another model is :class:`TypeError` (its key would name another
    table's row); a key the content model's key field cannot hold, ``None`` and an
    unsaved instance are :class:`ValueError`.
    """
    content = feed.get_setting("content_django_model")
    label = content._meta.label
    if isinstance(item, models.Model):
        if item._meta.concrete_model is not content._meta.concrete_model:
            raise InvalidArgumentType(
                f"item is an instance of {item._meta.label}, but feed {feed.__name__} "
                f"ranks {label}: pass a {label} or its key"
            )
        if item.pk is None:
            raise InvalidArgument(f"item is an unsaved {label}: it has no key to explain")
        return item
    key_field = content._meta.pk
    assert key_field is not None
    # Only the types a key of its kind is written as. The key field's own conversion
    # is lenient where a wrong key must not pass: an integer key takes True as 1, 1.5
    # as 1 and a UUID as its 128-bit number.
    accepted: tuple[type, ...] = (str, int)
    if isinstance(key_field, models.UUIDField):
        accepted = (str, uuid.UUID)
    if isinstance(item, bool) or not isinstance(item, accepted):
        raise InvalidArgument(f"item must be a {label} or its key, got {item!r}")
    try:
        key = key_field.to_python(item)
    except (ValidationError, TypeError, ValueError):
        raise InvalidArgument(
            f"item {item!r} cannot be a key of {label} (its key is a {type(key_field).__name__})"
        ) from None
    if key is None:
        raise InvalidArgument(f"item must be a {label} or its key, got {item!r}")
    return key


def missing_item(model: type[models.Model], key: Any) -> ItemNotFound:
    """The error for a key no ``model`` row has: an :class:`ItemNotFound` that is also
    ``model.DoesNotExist``, so code that catches the latter (as for 1.x) still works."""
    error_class = _not_found_classes.get(model)
    if error_class is None:
        bases = (ItemNotFound, model.DoesNotExist)  # type: ignore[attr-defined]
        error_class = type(f"{model.__name__}NotFound", bases, {"__module__": __name__})
        _not_found_classes[model] = error_class
    return error_class(f"{model.__name__} with key {key!r} does not exist")


# One class per model, so a class made for one request is the one the next request raises.
_not_found_classes: dict[type[models.Model], type[ItemNotFound]] = {}
