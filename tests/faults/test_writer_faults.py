"""A writer (a web process, say) killed mid-transaction: its rows and their events go together.

The outbox rows are written by the capture triggers inside the writer's own
transaction, so there is no moment at which a write is committed and its event is
not, or the reverse. Judged by what reaches Redis through a running relay.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.faults.conftest import Stack, captured

pytestmark = pytest.mark.faults

# Writes 50 items and a like of each, commits or not, reports, then waits to be killed.
WRITER = """
import sys
import psycopg

conn = psycopg.connect(sys.argv[1])
conn.execute("INSERT INTO items (title) SELECT 'w' || g FROM generate_series(1, 50) g")
conn.execute("INSERT INTO likes (user_id, item_id) SELECT 1, id FROM items")
if sys.argv[2] == "commit":
    conn.commit()
print("written", flush=True)
sys.stdin.read()
"""
IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND state LIKE 'idle in transaction%'"
)


def killed_writer(stack: Stack, mode: str) -> None:
    """Run the writer until it has written, then SIGKILL it."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, stack.database_url, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"written\n", "the writer failed before writing"
    finally:
        writer.kill()
        writer.wait()


def test_a_writer_killed_before_commit_leaves_neither_rows_nor_events(stack: Stack) -> None:
    stack.start_relay(poll_interval=0.5)
    killed_writer(stack, "open")
    # Postgres rolls the transaction back once it sees the client's socket close.
    stack.wait(lambda: stack.sql(IN_TRANSACTION)[0][0] == 0, "the writer's session to end")
    assert stack.sql("SELECT count(*) FROM items") == [(0,)]

    # A later write is delivered, and it alone: the relay saw nothing of the other.
    marker = captured(stack.insert_items(1))
    stack.wait_delivered(marker)
    stack.wait(lambda: stack.outbox_count() == 0, "the outbox to drain")
    assert set(stack.delivered()) == marker


def test_a_writer_killed_after_commit_has_every_event_delivered(stack: Stack) -> None:
    stack.start_relay(poll_interval=0.5)
    killed_writer(stack, "commit")
    items = [int(row[0]) for row in stack.sql("SELECT id FROM items")]
    assert len(items) == 50
    stack.wait_delivered(captured(items, [(1, item) for item in items]))
    stack.wait(lambda: stack.outbox_count() == 0, "the outbox to drain")
