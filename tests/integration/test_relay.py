"""The relay against the real outbox and a real Redis broker."""

from __future__ import annotations

import pytest
import redis

from catalog.models import Movie
from dnf_core.events import Task, TaskKind
from tests.conftest import namespace_of
from workers.broker import make_broker
from workers.dispatch import Dispatcher
from workers.relay import Relay

pytestmark = pytest.mark.services


def outbox_count() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_outbox")
        return int(cur.fetchone()[0])


def test_relay_coalesces_enqueues_then_deletes(clean_pipeline: str) -> None:
    movies = Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(130)])
    Movie.objects.filter(pk=movies[0].pk).update(title="changed")
    sent: list[Task] = []
    with Relay(clean_pipeline, sent.append) as relay:
        assert relay.drain() == 2  # one outbox row per statement
    assert outbox_count() == 0
    keys = [k for t in sent for k in t.keys]
    assert {t.kind for t in sent} == {TaskKind.EMBED}
    # The edited item's two events became one key.
    assert sorted(keys) == sorted(str(m.pk) for m in movies)


def test_small_batches_move_everything(clean_pipeline: str) -> None:
    for i in range(25):
        Movie.objects.create(title=f"M{i}")
    sent: list[Task] = []
    with Relay(clean_pipeline, sent.append, batch_size=10) as relay:
        assert [relay.relay_batch() for _ in range(4)] == [10, 10, 5, 0]
    assert len({k for t in sent for k in t.keys}) == 25


def test_rows_stay_when_the_enqueue_fails(clean_pipeline: str) -> None:
    Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(10)])

    def broken(task: Task) -> None:
        raise ConnectionError("broker down")

    with Relay(clean_pipeline, broken) as relay, pytest.raises(ConnectionError):
        relay.relay_batch()
    assert outbox_count() == 1
    sent: list[Task] = []
    with Relay(clean_pipeline, sent.append) as relay:
        assert relay.drain() == 1
    assert outbox_count() == 0
    assert len(sent[0].keys) == 10


def test_messages_reach_the_redis_broker(
    clean_pipeline: str, redis_url: str, redis_client: redis.Redis
) -> None:
    namespace = namespace_of(clean_pipeline)
    broker = make_broker(redis_url, namespace=namespace)
    try:
        Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(300)])
        with Relay(clean_pipeline, Dispatcher(broker, namespace=namespace).send) as relay:
            relay.drain()
        # 300 keys in messages of at most 256: two, bodies held until acknowledged.
        assert redis_client.hlen(f"dramatiq:dnf_embed.{namespace}.msgs") == 2
    finally:
        broker.close()
