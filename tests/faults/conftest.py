"""Private Postgres and Redis for the fault tests, which stop, kill and restart them.

Both run from a short temp folder of their own (unix socket paths are limited to about
100 characters) and a free Redis port: never the dev services in ``.dnf`` nor those
``DNF_DATABASE_URL`` / ``DNF_REDIS_URL`` name, which other tests use at the same time.
The schema is plain SQL, no Django: the outbox, two tables, and the real capture
triggers of two feeds over them, so every write is captured once per feed.

Only relays run here, no actors: every message stays in Redis to be inspected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import dramatiq
import psycopg
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from dnf_core.ddl import CURRENT, install_sql
from dnf_core.events import EventKind, OutboxEvent, Task, events_of_row
from dnf_core.services import EmbeddedPostgres, EmbeddedRedis
from dnf_core.services.base import free_port
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.dispatch import EMBED_QUEUE, FEED_QUEUE, Dispatcher, queue_name
from workers.relay import Relay

REPO = Path(__file__).resolve().parents[2]
FEEDS = ("extra", "items")
# A bound on every wait, not a tuned sleep: each wait returns as soon as it holds.
TIMEOUT_S = 30.0

# What the pipeline must deliver: (feed id, task kind, key).
Key = tuple[str, str, str]
T = TypeVar("T")


def feed_spec(feed_id: str) -> FeedSpec:
    return FeedSpec(
        feed_id=feed_id,
        content_table="items",
        content_key="id",
        content_key_type="bigint",
        text_columns=("title",),
        interaction_table="likes",
        interaction_user_column="user_id",
        interaction_item_column="item_id",
        interaction_order_column="id",
        user_key_type="integer",
        encoder="dnf_core.encoders.HashingEncoder",
        model_name="hashing-8",
        dimension=8,
    )


def captured(items: Iterable[int], likes: Iterable[tuple[int, int]] = ()) -> set[Key]:
    """The keys that writing ``items`` and ``likes`` (user, item) must get to Redis."""
    keys: set[Key] = set()
    items, likes = list(items), list(likes)
    for feed in FEEDS:
        keys |= {(feed, "embed", str(item)) for item in items}
        keys |= {(feed, "profiles", str(user)) for user, _ in likes}
        keys |= {(feed, "popularity", str(item)) for _, item in likes}
    return keys


def wait_for(
    condition: Callable[[], T | None],
    what: str,
    timeout: float = TIMEOUT_S,
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` every ``interval`` until it returns something truthy.

    Fails after ``timeout``, naming ``what`` it waited for.
    """
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return result


@dataclass
class Services:
    """The private servers and how to reach them."""

    root: Path
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    database_url: str
    redis_url: str

    def ensure_up(self) -> None:
        """Start whatever a previous test left stopped, at the same address."""
        if not self.postgres.is_running():
            assert self.postgres.start() == self.database_url
        if not self.redis.is_running():
            url = self.redis.start()
            assert url == self.redis_url, f"Redis came back on {url}, not {self.redis_url}"


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with contextlib.ExitStack() as cleanup:
        # Cleanups run in reverse order, each one even if another failed.
        root = Path(tempfile.mkdtemp(prefix="dnff", dir="/tmp"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        postgres = EmbeddedPostgres(root)
        cleanup.callback(postgres.stop)
        broker = EmbeddedRedis(root, port=free_port())
        cleanup.callback(broker.stop)
        database_url = postgres.start()
        redis_url = broker.start()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(load_sql("schema/0001_outbox"))
            conn.execute(load_sql("schema/0003_outbox_key_arrays"))
            conn.execute(
                "CREATE TABLE items (id bigserial PRIMARY KEY, title text, embedding vector(8))"
            )
            conn.execute(
                "CREATE TABLE likes (id bigserial PRIMARY KEY,"
                " user_id integer NOT NULL, item_id bigint NOT NULL)"
            )
            for feed in FEEDS:
                # Without rank vectors: their tables are Django's, and no worker runs here.
                conn.execute(install_sql(feed_spec(feed), replace(CURRENT, rank=0)))
        yield Services(root, postgres, broker, database_url, redis_url)


@dataclass
class RelayProcess:
    """A ``dnf-worker --mode relay`` child process and its log."""

    popen: subprocess.Popen[bytes]
    log: Path
    # Set when the test ended it on purpose: only other exits are failures.
    ended: bool = False

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.ended = True
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(TIMEOUT_S)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, as a supervisor would; None if it did not exit within ``timeout``."""
        self.ended = True
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.popen.returncode


@dataclass
class RelayThread:
    """A :class:`Relay` running in a thread of the test process, with its own broker."""

    thread: threading.Thread
    stop: threading.Event
    broker: RedisBroker


@dataclass
class Stack:
    """One test's view of the services: writes, the outbox, Redis, and the relays it ran."""

    services: Services
    name: str
    client: redis.Redis
    processes: list[RelayProcess] = field(default_factory=list)
    threads: list[RelayThread] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.services.database_url

    @property
    def queues(self) -> tuple[str, str]:
        """The embed and feed queues of this database (its broker namespace)."""
        ((namespace,),) = self.sql(load_sql("queries/broker_namespace"))
        return queue_name(EMBED_QUEUE, namespace), queue_name(FEED_QUEUE, namespace)

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement in its own connection: Postgres may have restarted since."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def insert_items(self, count: int) -> list[int]:
        rows = self.sql(
            "INSERT INTO items (title) SELECT 'item ' || g FROM generate_series(1, %s) g"
            " RETURNING id",
            [count],
        )
        return [int(r[0]) for r in rows]

    def insert_likes(self, likes: list[tuple[int, int]]) -> None:
        self.sql(
            "INSERT INTO likes (user_id, item_id) SELECT * FROM unnest(%s::int[], %s::bigint[])",
            [[u for u, _ in likes], [i for _, i in likes]],
        )

    def outbox_events(self) -> list[OutboxEvent]:
        rows = self.sql(
            "SELECT id, feed_id, kind, item_key, user_key, item_keys, user_keys FROM dnf_outbox"
        )
        return [event for row in rows for event in events_of_row(*row)]

    def outbox_count(self) -> int:
        """Events still in the outbox (a v2 row holds one per key of its statement)."""
        return len(self.outbox_events())

    def outbox_keys(self) -> set[Key]:
        """The keys the outbox rows still hold, mapped as the relay maps them."""
        keys: set[Key] = set()
        for event in self.outbox_events():
            feed, item, user = event.feed_id, event.item_key, event.user_key
            if event.kind is EventKind.ITEM:
                keys.add((feed, "embed", str(item)))
            elif event.kind is EventKind.INTERACTION:
                keys |= {(feed, "profiles", str(user)), (feed, "popularity", str(item))}
        return keys

    def message_count(self) -> int:
        return sum(int(self.client.hlen(f"dramatiq:{q}.msgs")) for q in self.queues)

    def delivered(self) -> Counter[Key]:
        """How many messages in Redis carry each key (args are feed id, keys)."""
        counts: Counter[Key] = Counter()
        for queue in self.queues:
            for body in self.client.hvals(f"dramatiq:{queue}.msgs"):
                # Bytes: the client does not decode responses.
                message = dramatiq.Message.decode(cast(bytes, body))
                feed, keys = message.args
                kind = message.actor_name.removeprefix("dnf_")
                counts.update((feed, kind, key) for key in keys)
        return counts

    def check_relays(self) -> None:
        """Fail at once, with its log, if a relay process exited that nobody ended."""
        for relay in self.processes:
            if not relay.ended and not relay.alive:
                pytest.fail(
                    f"relay {relay.log.name} exited with {relay.popen.returncode}:\n"
                    + relay.output()[-3000:]
                )

    def wait(
        self,
        condition: Callable[[], T | None],
        what: str,
        timeout: float = TIMEOUT_S,
        interval: float = 0.05,
    ) -> T:
        """:func:`wait_for`, failing early if a relay dies meanwhile."""

        def check() -> T | None:
            self.check_relays()
            return condition()

        return wait_for(check, what, timeout, interval)

    def wait_delivered(self, expected: set[Key], timeout: float = TIMEOUT_S) -> None:
        """Wait until every expected key is in some message, saying what is missing if not."""
        deadline = time.monotonic() + timeout
        while missing := expected - set(self.delivered()):
            self.check_relays()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"after {timeout:.0f}s, {len(missing)} of {len(expected)} keys never reached"
                    f" Redis (e.g. {sorted(missing)[:3]}); the outbox holds"
                    f" {self.outbox_count()} rows"
                )
            time.sleep(0.05)

    def start_relay(self, poll_interval: float = 0.5) -> RelayProcess:
        """``dnf-worker --mode relay`` in a child process, logging to the temp folder."""
        log = self.services.root / "logs" / f"{self.name}-{len(self.processes)}.log"
        log.parent.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DNF_")}
        env["DNF_DATA_DIR"] = str(self.services.root)
        command = [
            sys.executable,
            "-m",
            "workers.cli",
            "--mode",
            "relay",
            "--database-url",
            self.database_url,
            "--redis-url",
            self.services.redis_url,
            "--poll-interval",
            str(poll_interval),
        ]
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        relay = RelayProcess(popen, log)
        self.processes.append(relay)
        return relay

    def start_relay_thread(self, record: Callable[[int], None], **options: Any) -> None:
        """A :class:`Relay` in a thread; ``record`` gets the key count of each task it sends."""
        broker = RedisBroker(url=self.services.redis_url)  # type: ignore[no-untyped-call]
        ((namespace,),) = self.sql(load_sql("queries/broker_namespace"))
        dispatcher = Dispatcher(broker, namespace=namespace)

        def send(task: Task) -> None:
            dispatcher.send(task)
            record(len(task.keys))

        stop = threading.Event()
        relay = Relay(self.database_url, send, **options)
        thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
        thread.start()
        self.threads.append(RelayThread(thread, stop, broker))

    def stop_relay_threads(self) -> list[bool]:
        """Stop every relay thread; return, for each, whether it was still running."""
        alive = [relay.thread.is_alive() for relay in self.threads]
        for relay in self.threads:
            relay.stop.set()
        for relay in self.threads:
            relay.thread.join(timeout=10)
            relay.broker.close()
        hung = sum(relay.thread.is_alive() for relay in self.threads)
        self.threads.clear()
        assert not hung, f"{hung} relay threads ignored their stop event"
        return alive

    def stop_relays(self) -> None:
        for relay in self.processes:
            if relay.stop() is None:
                relay.kill()
            # Shown by pytest only when the test failed.
            print(f"--- {relay.log.name} (exit {relay.popen.returncode}) ---")
            print(relay.output()[-4000:])


@pytest.fixture
def stack(services: Services, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Both services up, no rows, no messages; stops the relays the test started."""
    services.ensure_up()
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    with psycopg.connect(services.database_url) as conn:
        # One transaction, so the outbox rows the TRUNCATE triggers write go too.
        conn.execute("TRUNCATE items, likes")
        conn.execute("DELETE FROM dnf_outbox")
    current = Stack(services, request.node.name, client)
    try:
        yield current
    finally:
        try:
            current.stop_relay_threads()
        finally:
            current.stop_relays()
            client.close()
