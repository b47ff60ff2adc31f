"""The broker client web processes use: URLs read as redis-py reads them, replies parsed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from dnf_core.errors import BrokerError
from dnf_core.resp import RedisAddress, RespConnection


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379/0", ("localhost", 6379, None, 0, None, None, False)),
        ("redis://cache", ("cache", 6379, None, 0, None, None, False)),
        ("redis://:s%40cret@h:7000/3", ("h", 7000, None, 3, None, "s@cret", False)),
        ("redis://bob:pw@h/2?db=5", ("h", 6379, None, 5, "bob", "pw", False)),
        ("rediss://h:6380", ("h", 6380, None, 0, None, None, True)),
        (
            "unix:///run/redis.sock?db=4&password=pw",
            (None, 6379, "/run/redis.sock", 4, None, "pw", False),
        ),
    ],
)
def test_urls_are_read_as_redis_py_reads_them(url: str, expected: tuple[object, ...]) -> None:
    a = RedisAddress.from_url(url)
    assert (a.host, a.port, a.unix_path, a.db, a.username, a.password, a.tls) == expected


def test_certificate_checks_are_on_unless_turned_off() -> None:
    assert RedisAddress.from_url("rediss://h").verify_certificate
    assert not RedisAddress.from_url("rediss://h?ssl_cert_reqs=none").verify_certificate


@pytest.mark.parametrize("url", ["localhost:6379", "http://h", "redis://h/notanumber"])
def test_bad_urls_are_broker_errors(url: str) -> None:
    with pytest.raises(BrokerError):
        RedisAddress.from_url(url)


@pytest.fixture
def fake_redis() -> Iterator[tuple[int, list[bytes]]]:
    """A server that records what it is sent and answers with canned RESP replies."""
    replies = [
        b"+OK\r\n",  # AUTH
        b"+OK\r\n",  # SELECT
        b":3\r\n",  # HLEN
        b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n",  # HGETALL
        b"*2\r\n$2\r\nw1\r\n$13\r\n1700000000000\r\n",  # ZREVRANGE WITHSCORES
        b"$-1\r\n",  # HGET of a missing field
        b"-ERR wrong kind of value\r\n",
    ]
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            for reply in replies:
                received.append(conn.recv(65536))
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    thread.join(timeout=5)
    server.close()


def test_commands_and_replies(fake_redis: tuple[int, list[bytes]]) -> None:
    port, received = fake_redis
    with RespConnection.from_url(f"redis://:pw@127.0.0.1:{port}/2", timeout=5) as conn:
        assert conn.hlen("h") == 3
        assert conn.hgetall("h") == {b"a": b"1", b"b": b""}
        assert conn.zrevrange("z", 0, 0, withscores=True) == [(b"w1", 1700000000000.0)]
        assert conn.hget("h", "missing") is None
        with pytest.raises(BrokerError, match="wrong kind of value"):
            conn.hlen("s")
    assert received[:3] == [
        b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n",
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n",
        b"*2\r\n$4\r\nHLEN\r\n$1\r\nh\r\n",
    ]
    assert (
        received[4]
        == b"*5\r\n$9\r\nZREVRANGE\r\n$1\r\nz\r\n$1\r\n0\r\n$1\r\n0\r\n$10\r\nWITHSCORES\r\n"
    )


def test_an_unreachable_broker_is_a_broker_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(BrokerError):
        RespConnection.from_url(f"redis://127.0.0.1:{port}", timeout=2)
