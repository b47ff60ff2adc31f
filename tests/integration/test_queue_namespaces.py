"""Broker queues are namespaced by database: workers of two databases sharing one Redis
never take each other's messages."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import redis
from django.db import connections

from catalog.models import Movie
from dnf_django.evaluation.scratch import scratch_database, set_encoder
from tests.conftest import namespace_of, wait_until
from workers.backlog import pending_messages
from workers.config import Mode

pytestmark = pytest.mark.services

StartWorker = Callable[..., subprocess.Popen[bytes]]


def embedded(alias: str, pk: int) -> bool:
    return Movie.objects.using(alias).filter(pk=pk, embedding_hash__isnull=False).exists()


def test_workers_of_two_databases_sharing_a_redis_never_take_each_others_messages(
    hashing_encoder: None,
    clean_pipeline: str,
    start_worker: StartWorker,
    redis_client: redis.Redis,
) -> None:
    with scratch_database() as other:
        set_encoder(other.alias, "movies", "dnf_core.encoders.HashingEncoder", "hashing-384")
        with connections[other.alias].cursor() as cur:
            cur.execute("DELETE FROM dnf_embedding_model")  # nothing embedded there yet
        ours, theirs = namespace_of(clean_pipeline), namespace_of(other.url)
        assert ours != theirs

        # This database's whole worker, and the other database's relay alone, on one Redis.
        start_worker(backfill=False)
        start_worker(database_url=other.url, mode=Mode.RELAY, backfill=False)
        their_movie = Movie.objects.using(other.alias).create(title="space ships")
        wait_until(
            lambda: redis_client.hlen(f"dramatiq:dnf_embed.{theirs}.msgs") == 1,
            what="the other database's embed message in Redis",
        )
        # Ours is handled while theirs waits in the same Redis, in queues of its own.
        our_movie = Movie.objects.create(title="space ships")
        wait_until(lambda: embedded("default", our_movie.pk), what="our movie embedded")
        wait_until(lambda: pending_messages(redis_client, ours) == 0, what="our queues empty")
        assert pending_messages(redis_client, theirs) >= 1
        assert not embedded(other.alias, their_movie.pk)

        # The other database's actors take their messages, and only they.
        start_worker(database_url=other.url, mode=Mode.ACTORS, backfill=False)
        wait_until(lambda: embedded(other.alias, their_movie.pk), what="their movie embedded")
        wait_until(lambda: pending_messages(redis_client, theirs) == 0, what="their queues empty")
