"""The key-type matrix: every content key type (integer, bigint, UUID, text) in both
interaction modes, run once per user key type (``DNF_TEST_USER_KEY``), through the
whole pipeline: real triggers, relay, Redis and workers.

Half of the rows predate the feeds (written before their SQL is installed, so only
the backfill can find them), half come after. Once the pipeline is idle every
derived row must equal a recomputation, and every public path must work: feeds,
page chains, explanations, the admin preview, ``dnf_backfill``, ``dnf_status`` and
``dnf_reembed``.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import hypothesis
import numpy as np
import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from hypothesis import strategies as st

from dnf_core.ddl import install_sql
from dnf_core.encoders import HashingEncoder
from dnf_core.errors import ItemNotFound
from dnf_django.endpoints import database_url
from dnf_django.models import FeedItemStat, UserFeedProfile
from tests.conftest import LOGS, WAIT_TIMEOUT_S, wait_until
from tests.encoders import ShiftedEncoder
from tests.keys.feeds import FEEDS
from tests.keys.models import KeyTag
from workers.config import WorkerConfig
from workers.database import connect
from workers.spawn import spawn_worker, stop_worker

pytestmark = [pytest.mark.services, pytest.mark.django_db]

TOPICS = ("space rocket orbit", "garden flower soil", "jazz guitar chord")
FEED_IDS = sorted(FEEDS)


def _new_key(post_model: Any, n: int) -> dict[str, Any]:
    # Text keys are chosen by the application (here with the characters an array
    # literal must escape); every other key type by its default.
    slug = f'post-{n:03d} "q" \\ {{a,b}}'
    return {"slug": slug} if post_model._meta.pk.name == "slug" else {}


@dataclass
class Site:
    """Everything the checks compare against: users, and every feed's models."""

    users: list[Any]
    worker: Any


def _posts(feed: Any) -> Any:
    return feed.get_setting("content_django_model")


def _write(n0: int, users: list[Any], when: Any) -> None:
    """Posts, likes and reactions for every content model; post numbers from ``n0``."""
    for feed_id in FEED_IDS:
        if not feed_id.endswith("_likes"):
            continue
        likes_feed = FEEDS[feed_id]
        post_model = _posts(likes_feed)
        reaction_model = FEEDS[feed_id.replace("_likes", "_reactions")].get_setting(
            "interaction_django_model"
        )
        posts = [
            post_model.objects.create(
                title=f"{TOPICS[n % 3]} number {n}",
                body="" if n % 4 else "long read",
                published_at=when - timedelta(hours=n),
                **_new_key(post_model, n),
            )
            for n in range(n0, n0 + 6)
        ]
        for n, post in enumerate(posts, n0):  # text from a related row, on every key type
            post.tags.add(KeyTag.objects.get_or_create(name=f"tag {TOPICS[n % 3]}")[0])
        for u, user in enumerate(users):
            mine = [p for n, p in enumerate(posts, n0) if n % 3 == u]
            getattr(user, f"liked_{post_model._meta.model_name}").add(*mine)
            for k, post in enumerate(mine):
                reaction_model.objects.create(
                    user=user, post=post, value=1, reacted_at=when + timedelta(seconds=k + n0)
                )
        # One dislike of another topic, so the signed profile path runs on every key type.
        reaction_model.objects.create(
            user=users[0], post=posts[1], value=-1, reacted_at=when + timedelta(seconds=n0 + 50)
        )


@pytest.fixture(scope="module")
def site(django_db_setup: None, django_db_blocker: Any, redis_url: str) -> Iterator[Site]:
    """Rows before and after the feeds are installed, and a worker that catches up."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"key-matrix-{os.environ.get('DNF_TEST_USER_KEY')}.log", "wb")  # noqa: SIM115
    with django_db_blocker.unblock():
        now = timezone.now()
        users = [get_user_model().objects.create(username=f"u{i}") for i in range(3)]
        _write(0, users, now - timedelta(days=1))
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM dnf_outbox")
            assert cur.fetchone() == (0,), "no feed is installed yet: nothing is captured"
            for feed in FEEDS.values():
                cur.execute(install_sql(feed.get_spec()))
        worker = spawn_worker(
            WorkerConfig(database_url=database_url(), redis_url=redis_url, poll_interval=0.5),
            log=log,
            env={"DNF_FACTORS_DELAY_S": "0.2", "DNF_FACTORS_INTERVAL_S": "0"},
        )
        _write(100, users, now)
        _edit_and_delete()
        try:
            _wait_until_exact(users)
            yield Site(users, worker)
        finally:
            stop_worker(worker, timeout=30)
            log.close()
            client.flushdb()
            client.close()


def _edit_and_delete() -> None:
    """Live writes on rows that predate the feeds: an edit, an unlike and a delete; and
    a renamed tag, which re-embeds the posts of every key type that carry it."""
    KeyTag.objects.filter(name=f"tag {TOPICS[0]}").update(name="renamed tag")
    for feed_id in FEED_IDS:
        if not feed_id.endswith("_likes"):
            continue
        posts = _posts(FEEDS[feed_id]).objects.order_by("published_at")
        oldest, second = posts[0], posts[1]
        _posts(FEEDS[feed_id]).objects.filter(pk=oldest.pk).update(title="edited jazz chord")
        second.likes.clear()
        second.delete()


def _text(post: Any) -> str:
    tags = ", ".join(sorted(tag.name for tag in post.tags.all())) or None
    return " ".join(part for part in (post.title, post.body, tags) if part is not None)


def _vectors(feed: Any) -> dict[str, np.ndarray]:
    """Every post's expected vector, by key as text: what the encoder makes of its text."""
    vectors = {}
    for post in _posts(feed).objects.all():
        expected = HashingEncoder.encode_batch([_text(post)], "hashing-384")[0]
        assert post.embedding is not None, f"{feed.feed_id}: post {post.pk} has no vector"
        np.testing.assert_allclose(post.embedding, expected, atol=1e-6)
        vectors[str(post.pk)] = np.asarray(post.embedding, dtype=np.float64)
    return vectors


def _interactions(feed: Any, user: Any) -> list[tuple[str, float]]:
    """``user``'s non-neutral interactions in ``feed``, newest first: (key, value)."""
    model = feed.get_setting("interaction_django_model")
    item = feed.get_spec().interaction_item_column
    if feed.get_setting("mode") == "m2m":
        rows = model.objects.filter(**{f"{_user_fk(model)}": user.pk}).order_by("-pk")
        return [(str(getattr(r, item)), 1.0) for r in rows]
    rows = model.objects.filter(user=user).exclude(value=0).order_by("-reacted_at", "-pk")
    return [(str(r.post_id), float(r.value)) for r in rows]


def _user_fk(through: Any) -> str:
    user_model = get_user_model()
    return next(
        f.attname
        for f in through._meta.get_fields()
        if getattr(f, "related_model", None) is user_model
    )


def _check_exact(feed: Any, users: list[Any]) -> None:
    """Every derived row of ``feed`` equals a recomputation from its tables."""
    spec = feed.get_spec()
    vectors = _vectors(feed)
    liked_counts: dict[str, int] = {}
    for user in users:
        recent = [(k, v) for k, v in _interactions(feed, user) if k in vectors][: spec.window]
        for key, value in _interactions(feed, user):
            if value > 0:
                liked_counts[key] = liked_counts.get(key, 0) + 1
        direction = sum(
            (vectors[k] if v > 0 else -spec.dislike_weight * vectors[k]) for k, v in recent
        )
        profile = UserFeedProfile.objects.get(user=user, feed_id=spec.feed_id)
        np.testing.assert_allclose(
            profile.embedding, direction / np.linalg.norm(direction), atol=1e-5
        )
        # Three users with disjoint tastes can leave a collaborative direction at zero;
        # when there is one, it is a unit vector.
        if profile.collaborative is not None:
            assert np.linalg.norm(profile.collaborative) in (
                pytest.approx(0.0, abs=1e-6),
                pytest.approx(1.0, abs=1e-4),
            )
    counts = {
        s.item_key: s.interactions
        for s in FeedItemStat.objects.filter(feed_id=spec.feed_id, interactions__gt=0)
    }
    assert counts == liked_counts
    with connection.cursor() as cur:
        cur.execute("SELECT item_key FROM dnf_item_rank WHERE feed_id = %s", [spec.feed_id])
        assert {k for (k,) in cur.fetchall()} == set(vectors)
        cur.execute("SELECT item_key FROM dnf_item_factor WHERE feed_id = %s", [spec.feed_id])
        factors = {k for (k,) in cur.fetchall()}
    assert factors == set(liked_counts), f"{spec.feed_id}: collaborative vectors"


def _wait_until_exact(users: list[Any]) -> None:
    failures: list[str] = []

    def exact() -> bool:
        try:
            for feed in FEEDS.values():
                _check_exact(feed, users)
        except (AssertionError, UserFeedProfile.DoesNotExist) as exc:
            failures.append(str(exc))
            return False
        return True

    try:
        wait_until(exact, timeout=WAIT_TIMEOUT_S, what="every feed exact")
    except BaseException:
        print("last mismatch:", failures[-1] if failures else None)
        raise


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_every_derived_row_equals_a_recomputation(site: Site, feed_id: str) -> None:
    _check_exact(FEEDS[feed_id], site.users)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT phase, finished_at IS NOT NULL, error FROM dnf_backfill WHERE feed_id = %s",
            [feed_id],
        )
        assert sorted(cur.fetchall()) == [("interactions", True, None), ("items", True, None)]


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_feeds_pages_and_explanations(site: Site, feed_id: str) -> None:
    feed = FEEDS[feed_id]
    user = site.users[0]
    now = timezone.now()
    top = list(feed.get_feed(user, limit=3, now=now))
    # The user likes space posts: the profile puts them first.
    assert top and all("space" in post.title for post in top), [p.title for p in top]
    explanation = feed.explain(user, top[0].pk, now=now)
    assert explanation.score == pytest.approx(top[0].score, abs=1e-6)
    assert feed.explain(user, str(top[0].pk), now=now).score == pytest.approx(top[0].score)

    total = _posts(feed).objects.count()
    assert len(list(feed.get_feed(user, limit=total + 5, now=now))) == total
    shown: list[Any] = []
    cursor = None
    while True:
        page = feed.get_page(user, cursor=cursor, limit=4)
        shown += [post.pk for post in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # The chain's keys stay server-side: the cursor does not grow with them.
        assert len(cursor) <= 256
    assert len(shown) == len(set(shown)) == total
    # A replayed cursor shows its page again, in the same order.
    assert cursor is not None
    assert [post.pk for post in feed.get_page(user, cursor=cursor, limit=4).items] == [
        post.pk for post in page.items
    ]

    excluded = list(feed.get_feed(user, limit=total, excluded_ids=[top[0].pk]))
    assert top[0].pk not in {post.pk for post in excluded}
    # Every key but one, as keys and as their text: only that one is left.
    keys = list(_posts(feed).objects.order_by("pk").values_list("pk", flat=True))
    for given in (keys[1:], [str(key) for key in keys[1:]]):
        assert [post.pk for post in feed.get_feed(user, excluded_ids=given)] == [keys[0]]


def _absent_keys(post_model: Any) -> st.SearchStrategy[Any]:
    """Keys no post has, of the content key's type: text ones in any script and case,
    so that any order but the one the keys are sorted in would misplace them."""
    field = post_model._meta.pk
    if field.get_internal_type() == "UUIDField":
        return st.uuids()
    if field.get_internal_type() == "CharField":
        return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
    return st.integers(-(2**31), 2**31 - 1)


@pytest.mark.parametrize("feed_id", FEED_IDS)
@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
    ],
)
@hypothesis.given(data=st.data())
def test_excluded_ids_leave_exactly_the_rest(site: Site, feed_id: str, data: st.DataObject) -> None:
    feed = FEEDS[feed_id]
    post_model = _posts(feed)
    keys = list(post_model.objects.values_list("pk", flat=True))
    dropped = data.draw(st.lists(st.sampled_from(keys), unique=True))
    texts = {str(key) for key in keys}
    absent = data.draw(
        st.lists(_absent_keys(post_model).filter(lambda key: str(key) not in texts), max_size=20)
    )
    as_text = data.draw(st.booleans())
    excluded = [str(key) if as_text else key for key in [*dropped, *absent]]
    user = data.draw(st.sampled_from([None, site.users[0]]))
    shown = [post.pk for post in feed.get_feed(user, limit=len(keys), excluded_ids=excluded)]
    assert len(shown) == len(set(shown))
    assert set(shown) == set(keys) - set(dropped)


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_more_like_this(site: Site, feed_id: str) -> None:
    feed = FEEDS[feed_id]
    posts = _posts(feed)
    source = posts.objects.get(title=f"{TOPICS[0]} number 102")
    found = list(feed.similar(source, limit=3))
    # Its text and its co-likers agree: another space post comes first.
    assert found and "space" in found[0].title, [p.title for p in found]
    assert source.pk not in {post.pk for post in found}
    # The key, and its text, name the same item.
    for named in (source.pk, str(source.pk)):
        assert [p.pk for p in feed.similar(named, limit=3)] == [p.pk for p in found]
    explained = feed.explain(None, found[0])
    assert explained.similar_to == source.pk
    assert explained.score == pytest.approx(found[0].score)
    rest = list(feed.similar(source, limit=3, excluded_ids=[str(found[0].pk)]))
    assert found[0].pk not in {post.pk for post in rest} and len(rest) == 3
    missing: Any = max(posts.objects.values_list("pk", flat=True))
    if posts._meta.pk.name == "slug":
        missing = "no such post"
    elif posts._meta.pk.get_internal_type() == "UUIDField":
        missing = uuid.uuid4()
    else:
        missing += 1000
    with pytest.raises(ItemNotFound):
        list(feed.similar(missing))


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_exclude_interacted(site: Site, feed_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = FEEDS[feed_id]
    user = site.users[0]
    total = _posts(feed).objects.count()
    touched = {key for key, _ in _interactions(feed, user)}
    assert touched
    monkeypatch.setattr(feed, "exclude_interacted", True)
    shown = {str(post.pk) for post in feed.get_feed(user, limit=total)}
    assert shown == {str(pk) for pk in _posts(feed).objects.values_list("pk", flat=True)} - touched
    pages: list[str] = []
    page = feed.get_page(user, limit=2)
    while True:
        pages += [str(post.pk) for post in page.items]
        if page.next_cursor is None:
            break
        page = feed.get_page(user, cursor=page.next_cursor, limit=2)
    assert sorted(pages) == sorted(shown)


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_admin_preview(site: Site, feed_id: str) -> None:
    admin = get_user_model().objects.create(username=f"admin-{feed_id}")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    user = site.users[0]
    for given in (user.username, str(user.pk)):
        response = client.get(
            "/admin/dnf_django/feedpreview/", {"feed": feed_id, "user": given, "limit": "3"}
        )
        assert response.status_code == 200
        assert response.context["has_profile"] is True
        expected = list(FEEDS[feed_id].get_feed(user, limit=3, now=response.context["preview"].now))
        assert [row["key"] for row in response.context["rows"]] == [p.pk for p in expected]


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_backfill_and_status_commands(site: Site, feed_id: str) -> None:
    call_command("dnf_backfill", "--feed", feed_id, stdout=io.StringIO(), stderr=io.StringIO())
    # Finished before: nothing walked again, nothing queued.
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_outbox WHERE feed_id = %s", [feed_id])
        assert cur.fetchone() == (0,)

    out = io.StringIO()
    call_command(
        "dnf_backfill",
        "--feed",
        feed_id,
        "--restart",
        "--batch",
        "2",
        stdout=out,
        stderr=io.StringIO(),
    )
    items = _posts(FEEDS[feed_id]).objects.count()
    # Every item walked, in batches of two, and none queued: every vector is current.
    assert f"{feed_id} items: {items} scanned, 0 queued" in out.getvalue()
    _wait_until_exact(site.users)

    out = io.StringIO()
    call_command("dnf_status", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["healthy"], report["problems"]
    assert report["feeds"][feed_id]["items"] == items
    assert report["feeds"][feed_id]["items_never_embedded"] == 0
    assert report["feeds"][feed_id]["users_without_profile"] == 0


def test_a_failed_backfill_is_reported_until_it_succeeds(site: Site) -> None:
    feed_id = "uuid_likes"
    # A walk that breaks: a position the database cannot read as a UUID (committed,
    # as the command's own connection must see it).
    with connect(database_url(), autocommit=True) as conn:
        conn.execute(
            "UPDATE dnf_backfill SET last_key = 'not-a-key', finished_at = NULL "
            "WHERE feed_id = %s AND phase = 'items'",
            [feed_id],
        )
    stopped = f"feed {feed_id}: the backfill of its items stopped after key 'not-a-key'"
    with pytest.raises(CommandError, match=re.escape(stopped)):
        call_command("dnf_backfill", "--feed", feed_id, stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match=re.escape(f"dnf_backfill --feed {feed_id}`")) as failed:
        call_command("dnf_status", stdout=io.StringIO())
    assert "invalid input syntax for type uuid" in str(failed.value)

    call_command(
        "dnf_backfill", "--feed", feed_id, "--restart", stdout=io.StringIO(), stderr=io.StringIO()
    )
    out = io.StringIO()
    call_command("dnf_status", "--json", stdout=out)
    assert json.loads(out.getvalue())["healthy"]


def test_reembedding_on_every_key_type(
    site: Site, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model change re-embeds every feed's items, whatever their key type."""
    stop_worker(site.worker, timeout=30)
    new = {"encoder": "tests.encoders.ShiftedEncoder", "model_name": "hashing-384"}
    # What dnf_makemigrations + migrate would install, committed for the worker to read.
    with connect(database_url(), autocommit=True) as conn:
        for feed in FEEDS.values():
            if feed.get_setting("parent_feed") is None:
                monkeypatch.setattr(feed, "encoder_class", new["encoder"])
            conn.execute(
                "UPDATE dnf_feed SET spec = spec || %s::jsonb WHERE feed_id = %s",
                [json.dumps(new), feed.feed_id],
            )
    log = open(LOGS / "key-matrix-reembed.log", "wb")  # noqa: SIM115
    worker = spawn_worker(
        WorkerConfig(database_url=database_url(), redis_url=redis_url, poll_interval=0.5), log=log
    )
    try:
        for feed_id in FEED_IDS:
            out = io.StringIO()
            call_command("dnf_reembed", "--feed", feed_id, "--poll", "0.2", stdout=out)
            assert "now serve" in out.getvalue() or "already serves" in out.getvalue()
        for feed in FEEDS.values():
            for post in _posts(feed).objects.all():
                expected = ShiftedEncoder.encode_batch([_text(post)], "hashing-384")[0]
                np.testing.assert_allclose(post.embedding, expected, atol=1e-6)
    finally:
        stop_worker(worker, timeout=30)
        log.close()
