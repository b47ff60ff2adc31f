"""Text from related rows: rendered in SQL, captured on every table it reads, whoever writes.

The capture matrix of issue 17: each kind of relation a lookup follows (a foreign key,
a many-to-many, the reverse side of a foreign key, two hops) against each way of
writing (ORM save, ``bulk_create``, raw SQL, ``set()``/``clear()``/``add()``/
``remove()``, cascading deletes, TRUNCATE), with real triggers; then the real relay
and workers re-embedding what a rename touched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from dnf_core.queries import feed_query
from dnf_django.capture import pause_capture
from dnf_django.registry import installed_specs
from tests.conftest import wait_until
from tests.feedapp.feeds import PostFeed
from tests.feedapp.models import Author, AuthorProfile, Category, Comment, Post, Tag
from tests.integration.test_capture import drain

pytestmark = pytest.mark.services


def posts(*objects: Post) -> Counter[tuple[str, str, str | None, str | None]]:
    return Counter(("posts", "item", str(p.pk), None) for p in objects)


def outbox_rows() -> list[tuple[str, list[str]]]:
    with connection.cursor() as cur:
        cur.execute("SELECT kind, item_keys FROM dnf_outbox WHERE feed_id = 'posts' ORDER BY id")
        return [(kind, sorted(keys or [])) for kind, keys in cur.fetchall()]


def sql_texts(*objects: Post) -> dict[int, str]:
    """The text the feed's SQL gives each post (what the worker embeds)."""
    spec = PostFeed.get_spec()
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT c.id, {spec.text_expression('c')} FROM feedapp_post c WHERE c.id = ANY(%s)",
            [[p.pk for p in objects]],
        )
        return dict(cur.fetchall())


def python_text(post: Post) -> str:
    """The same text computed with the ORM, as the feed documents it."""
    bound = PostFeed.get_spec().text_max_values
    tags = sorted({t.name for t in post.tags.all() if t.name})[:bound]
    comments = sorted({c.text for c in post.comments.all() if c.text})[:bound]
    profile = AuthorProfile.objects.filter(author_id=post.author_id).first()
    parts = [
        post.title,
        post.category.name if post.category else None,
        ", ".join(tags) or None,
        profile.bio if profile and profile.bio else None,
        ", ".join(comments) or None,
    ]
    return " ".join(p for p in parts if p is not None)


@pytest.fixture
def world(clean_pipeline: str) -> dict[str, Any]:
    drama = Category.objects.create(name="drama")
    ann = Author.objects.create(name="ann")
    AuthorProfile.objects.create(author=ann, bio="writes about ships")
    tags = [Tag.objects.create(name=f"tag{i}", slug=f"t{i}") for i in range(3)]
    first = Post.objects.create(title="first", category=drama, author=ann)
    second = Post.objects.create(title="second", category=drama)
    first.tags.set(tags[:2])
    second.tags.set(tags[1:])
    Comment.objects.create(post=first, text="nice")
    drain()
    return {"drama": drama, "ann": ann, "tags": tags, "first": first, "second": second}


def test_the_sql_text_is_the_documented_text(world: dict[str, Any]) -> None:
    first, second = world["first"], world["second"]
    # Duplicates, empty values and more values than the bound.
    first.tags.add(*[Tag.objects.create(name=n) for n in ("zeta", "alpha", "", "tag0", "beta")])
    texts = sql_texts(first, second)
    assert texts[first.pk] == python_text(first)
    assert texts[second.pk] == python_text(second)
    # Distinct (tag0 twice), non-empty, sorted, the first text_max_values of them.
    assert "alpha, beta, tag0, tag1, zeta" in texts[first.pk]
    lone = Post.objects.create(title="lone")
    assert sql_texts(lone)[lone.pk] == "lone"


def test_foreign_key(world: dict[str, Any]) -> None:
    drama, first, second = world["drama"], world["first"], world["second"]
    drama.name = "tragedy"
    drama.save()
    assert drain() == posts(first, second)
    Category.objects.filter(pk=drama.pk).update(name="tragedy")  # same text: still captured
    drain()
    comedy = Category.objects.create(name="comedy")
    assert drain() == Counter()  # no post reads it yet
    Post.objects.filter(pk=first.pk).update(category=comedy)
    assert drain() == posts(first)
    with connection.cursor() as cur:
        cur.execute("UPDATE feedapp_category SET name = 'farce' WHERE id = %s", [comedy.pk])
    assert drain() == posts(first)
    # SET_NULL: Django nulls the posts' column (captured on the content table).
    comedy.delete()
    assert drain() == posts(first)


def test_many_to_many(world: dict[str, Any]) -> None:
    tags, first, second = world["tags"], world["first"], world["second"]
    new = Tag.objects.create(name="new")
    assert drain() == Counter()
    first.tags.add(new)
    assert drain() == posts(first)
    first.tags.remove(new)
    assert drain() == posts(first)
    second.tags.set([tags[0]])
    assert drain() == posts(second) + posts(second)  # set(): one delete, one insert
    second.tags.clear()
    assert drain() == posts(second)
    Post.tags.through.objects.bulk_create(
        [Post.tags.through(post=p, tag=new) for p in (first, second)]
    )
    assert drain() == posts(first, second)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO feedapp_post_tags (post_id, tag_id) VALUES (%s, %s)",
            [second.pk, tags[0].pk],
        )
    assert drain() == posts(second)
    new.name = "renamed"
    new.save()
    assert drain() == posts(first, second)
    # Deleting a tag: Django deletes its links first, then the tag.
    new.delete()
    assert drain() == posts(first, second)


def test_two_hops(world: dict[str, Any]) -> None:
    ann, first = world["ann"], world["first"]
    profile = ann.profile
    profile.bio = "writes about trains"
    profile.save()
    assert drain() == posts(first)
    profile.website = "https://example.org"  # not read by the text
    profile.save()
    ann.name = "Ann"  # the author's name is not read either
    ann.save()
    assert drain() == Counter()
    bob = Author.objects.create(name="bob")
    third = Post.objects.create(title="third", author=bob)
    drain()
    AuthorProfile.objects.create(author=bob, bio="new profile")
    assert drain() == posts(third)
    AuthorProfile.objects.filter(author=bob).delete()
    assert drain() == posts(third)
    # Cascade: deleting the author deletes its posts (captured as deletes).
    pk = third.pk
    bob.delete()
    # The profile goes first (its post is re-queued), then the post (a delete).
    assert set(drain()) == {("posts", "item", str(pk), None)}


def test_reverse_foreign_key(world: dict[str, Any]) -> None:
    first, second = world["first"], world["second"]
    comment = Comment.objects.create(post=second, text="meh")
    assert drain() == posts(second)
    comment.text = "great"
    comment.save()
    assert drain() == posts(second)
    comment.post = first  # moves: both posts' texts change
    comment.save()
    assert drain() == posts(first, second)
    Comment.objects.bulk_create([Comment(post=second, text=f"c{i}") for i in range(3)])
    assert drain() == posts(second)
    Comment.objects.all().delete()
    assert drain() == posts(first, second)


def test_unrelated_columns_enqueue_nothing(world: dict[str, Any]) -> None:
    Tag.objects.update(slug="other")
    with connection.cursor() as cur:
        cur.execute("UPDATE feedapp_tag SET slug = 'raw'")
        cur.execute("UPDATE feedapp_authorprofile SET website = 'x'")
    Post.objects.update(published_at=world["first"].published_at)
    assert drain() == Counter()


def test_a_rename_is_one_outbox_row_per_statement(world: dict[str, Any]) -> None:
    tag = world["tags"][0]
    many = Post.objects.bulk_create([Post(title=f"p{i}") for i in range(200)])
    Post.tags.through.objects.bulk_create([Post.tags.through(post=p, tag=tag) for p in many])
    drain()
    Tag.objects.filter(pk=tag.pk).update(name="renamed")
    assert outbox_rows() == [("item", sorted(str(p.pk) for p in [world["first"], *many]))]


def test_truncate_hands_the_items_to_the_backfill(world: dict[str, Any]) -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_backfill WHERE feed_id = 'posts'")
        cur.execute("TRUNCATE feedapp_post_tags")
        cur.execute("SELECT phase, finished_at IS NULL FROM dnf_backfill WHERE feed_id = 'posts'")
        assert cur.fetchall() == [("items", True)]
        assert drain() == Counter()
        # Emptied together with the content table (as Django's flush does): no item is
        # left to walk, and the content's own trigger says what went.
        cur.execute("DELETE FROM dnf_backfill WHERE feed_id = 'posts'")
        cur.execute("TRUNCATE feedapp_post CASCADE")
        cur.execute("SELECT count(*) FROM dnf_backfill WHERE feed_id = 'posts'")
        assert cur.fetchone() == (0,)
    assert sorted(kind for kind, _ in outbox_rows()) == ["truncate_interactions", "truncate_items"]


def test_paused_capture_writes_nothing_and_hands_back(world: dict[str, Any]) -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_backfill WHERE feed_id = 'posts'")
    with transaction.atomic(), pause_capture(PostFeed):
        Tag.objects.update(name="paused")
        world["first"].tags.clear()
    assert drain() == Counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_backfill WHERE feed_id = 'posts'")
        assert cur.fetchone() == (2,)


def embedded(post: Post) -> tuple[Any, str | None]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT embedding::text, embedding_hash FROM feedapp_post WHERE id = %s", [post.pk]
        )
        return cur.fetchone()


def current_hash(post: Post) -> str:
    spec = installed_specs()["posts"]  # the hashing encoder's identity
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT md5(%s || E'\\n' || {spec.text_expression('c')}) FROM feedapp_post c "
            "WHERE c.id = %s",
            [spec.embedding_identity, post.pk],
        )
        return cur.fetchone()[0]


def test_workers_re_embed_what_a_related_change_touched(
    world: dict[str, Any],
    hashing_encoder: None,
    start_worker: Callable[..., Any],
) -> None:
    first, second = world["first"], world["second"]
    lone = Post.objects.create(title="lone")
    start_worker()
    for post in (first, second, lone):
        wait_until(lambda p=post: embedded(p)[1] == current_hash(p), what=f"post {post.pk}")
    before = {p.pk: embedded(p) for p in (first, second, lone)}
    Tag.objects.filter(pk=world["tags"][1].pk).update(name="carried by both")
    for post in (first, second):
        wait_until(lambda p=post: embedded(p)[1] == current_hash(p), what="re-embedded")
        assert embedded(post)[0] != before[post.pk][0]
    assert embedded(lone) == before[lone.pk]
    # Backfill and re-embedding read the same text: nothing of the feed is stale.
    spec = installed_specs()["posts"]
    with connection.cursor() as cur:
        cur.execute(
            feed_query("feed_waiting_items", spec),
            {"identity": spec.embedding_identity, "feed_id": "posts", "task": "embed", "sample": 5},
        )
        assert cur.fetchone()[0] == 0


def test_users_of_other_feeds_are_untouched(world: dict[str, Any]) -> None:
    User.objects.create(username="nobody")
    Tag.objects.create(name="lonely")
    assert drain() == Counter()
