"""Bulk imports: pause change capture for one transaction, then hand the rows to the backfill.

A million-row ``bulk_create`` normally makes the triggers copy every key into the
outbox, and the relay and workers then take the rows in live-write order. Inside
:func:`paused` the feeds' insert triggers return at once (v3 triggers read the
transaction-local setting ``dnf.capture_paused`` once per statement), so the writer
pays nothing for the feed; when the block ends without an error, in the same
transaction, the feeds' backfill is reset and running workers are notified. After
commit the workers walk the items (queuing only rows whose embedding is missing or
stale, so unchanged rows cost a read) and replay the interactions, exactly as for a
feed installed over existing data. If the transaction rolls back, so do the rows,
the pause and the hand-back.

Deletes and truncates are captured even inside the pause (and interaction updates),
because a walk over the rows that remain cannot see the ones taken away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from dnf_core.errors import ConfigurationError
from dnf_core.identifiers import validate_feed_id
from dnf_core.sqlfiles import load_sql

__all__ = ["ALL_FEEDS", "pause_capture", "paused", "paused_feeds"]

# The setting's value that pauses every feed.
ALL_FEEDS = "*"


def _feed_ids(feeds: tuple[Any, ...]) -> list[str]:
    """Feed ids of ``feeds`` (feed classes or ids); every feed when none is named."""
    from dnf_django.registry import registered_feeds

    if not feeds:
        return [ALL_FEEDS]
    known = {feed.get_spec().feed_id for feed in registered_feeds()}
    ids = []
    for feed in feeds:
        feed_id = validate_feed_id(feed if isinstance(feed, str) else feed.get_spec().feed_id)
        # A misspelt feed would be silently captured, the import paying full price.
        if feed_id not in known:
            raise ConfigurationError(
                f"cannot pause capture for feed {feed_id!r}: it is not in "
                f"DJANGO_NEURAL_FEED['FEEDS'] ({', '.join(sorted(known)) or 'none'})"
            )
        ids.append(feed_id)
    return list(dict.fromkeys(ids))


def paused_feeds(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The feeds whose capture the current transaction paused (``["*"]``: all)."""
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/capture_paused"))
        row = cur.fetchone()
    return [feed_id for feed_id in (row[0] if row else "").split(",") if feed_id]


@contextmanager
def paused(*feeds: Any, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Pause change capture of ``feeds`` (classes or ids; none = every feed) in a block.

    The block runs in ``transaction.atomic(using=using)`` (a savepoint inside an
    enclosing one), because the pause is a transaction-local setting. Writes of other
    sessions, and of this one after the block, are captured as usual. On a clean exit
    the feeds are handed to the backfill in the same transaction: their items and
    interactions are walked again once it commits, by a running worker (woken by a
    NOTIFY on ``dnf_backfill``) or the next one to start. Nested blocks add their feeds
    to the enclosing block's; each restores what it found.

    >>> with paused(MovieFeed):
    ...     Movie.objects.bulk_create(movies, batch_size=10_000)
    """
    ids = _feed_ids(feeds)
    with transaction.atomic(using=using):
        previous = paused_feeds(using)
        with connections[using].cursor() as cur:
            cur.execute(
                load_sql("queries/capture_pause"),
                {"paused": ",".join(dict.fromkeys([*previous, *ids]))},
            )
        yield
        with connections[using].cursor() as cur:
            # Capture is on again for what the enclosing transaction writes next.
            cur.execute(load_sql("queries/capture_pause"), {"paused": ",".join(previous)})
            cur.execute(
                load_sql("queries/backfill_rewalk"),
                {"all": ALL_FEEDS in ids, "feeds": [i for i in ids if i != ALL_FEEDS]},
            )


# The name ``dnf_django`` exports.
pause_capture = paused
