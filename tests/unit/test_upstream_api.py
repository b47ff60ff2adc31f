"""django-neural-feed 1.x habits that need no database: feed settings and their inheritance."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from dnf_core import UnknownFeedAttribute
from dnf_core.errors import ConfigurationError
from dnf_django.feeds import BaseNeuralFeed


class ParentFeed(BaseNeuralFeed):
    feed_id = "parent"
    max_age_days: ClassVar[int] = 7
    boost_tags: ClassVar[tuple[str, ...]] = ("news",)
    weight_freshness = 0.4


class ChildFeed(BaseNeuralFeed):
    feed_id = "child"
    parent_feed = ParentFeed
    boost_tags = ("sport",)
    only_here: ClassVar[Any] = None


class GrandchildFeed(BaseNeuralFeed):
    feed_id = "grandchild"
    parent_feed = ChildFeed


class SubclassFeed(ChildFeed):
    """Plain Python inheritance, no parent_feed of its own."""

    feed_id = "subclass"


def test_custom_attributes_are_inherited_through_parent_feed() -> None:
    assert ChildFeed.get_setting("max_age_days") == 7
    assert GrandchildFeed.get_setting("max_age_days") == 7
    assert ChildFeed.get_setting("boost_tags") == ("sport",)  # own value wins
    assert GrandchildFeed.get_setting("boost_tags") == ("sport",)  # nearest parent
    assert SubclassFeed.get_setting("boost_tags") == ("sport",)
    assert SubclassFeed.get_setting("max_age_days") == 7
    # Declared, but None everywhere: None, as for a built-in attribute left unset.
    assert GrandchildFeed.get_setting("only_here") is None
    # Built-in attributes are unchanged.
    assert GrandchildFeed.get_setting("weight_freshness") == 0.4
    assert GrandchildFeed.get_setting("feed_id") == "grandchild"


def test_an_attribute_no_feed_defines_is_an_attribute_error() -> None:
    with pytest.raises(UnknownFeedAttribute, match=r"'max_agee_days'.*GrandchildFeed -> ChildFeed"):
        GrandchildFeed.get_setting("max_agee_days")
    # Upstream raised AttributeError: code catching it keeps working, and so does
    # code catching our ConfigurationError.
    with pytest.raises(AttributeError):
        ParentFeed.get_setting("only_here")
    with pytest.raises(ConfigurationError):
        ParentFeed.get_setting("nope")


def test_a_parent_feed_cycle_does_not_hang() -> None:
    class Loop(BaseNeuralFeed):
        feed_id = "loop"

    class Back(BaseNeuralFeed):
        feed_id = "back"
        parent_feed = Loop

    Loop.parent_feed = Back
    with pytest.raises(UnknownFeedAttribute):
        Loop.get_setting("missing")
