"""A small Redis client over a plain socket, for reading the broker from web processes.

The status page and ``dnf_status`` need a handful of broker numbers (message counts,
the newest worker heartbeat, recorded write refusals). Importing redis-py for that
would make the ``redis`` package a dependency of every web process, which the
``[django]`` extra does not install; this speaks just enough of the Redis protocol
(RESP2: commands as arrays of bulk strings) for those reads, with nothing but the
standard library.

URLs are read as redis-py reads them: ``redis://[[user]:password@]host[:port][/db]``,
``rediss://`` for TLS and ``unix:///path/to/socket?db=N``; ``?db=``, ``?password=``
and ``?username=`` may be given in the query too, and ``?ssl_cert_reqs=none``
turns certificate checks off as redis-py's does.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dnf_core.errors import BrokerError

DEFAULT_PORT = 6379
Reply = bytes | int | list[Any] | None


@dataclass(frozen=True)
class RedisAddress:
    """Where a Redis URL points, and how to log in there."""

    host: str | None
    port: int
    unix_path: str | None
    db: int
    username: str | None
    password: str | None
    tls: bool
    verify_certificate: bool
    ca_certs: str | None

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """Parse ``url``; an unknown scheme or a bad number is :class:`BrokerError`."""
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        scheme = parts.scheme.lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise BrokerError(f"not a Redis URL (redis://, rediss:// or unix://): {url!r}")
        try:
            path_db = parts.path.lstrip("/") if scheme != "unix" else ""
            db = int(query.get("db") or path_db or 0)
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise BrokerError(f"bad Redis URL {url!r}: {exc}") from None
        username = unquote(parts.username) if parts.username else query.get("username")
        password = unquote(parts.password) if parts.password else query.get("password")
        return cls(
            host=None if scheme == "unix" else (parts.hostname or "localhost"),
            port=port,
            unix_path=unquote(parts.path) if scheme == "unix" else None,
            db=db,
            username=username or None,
            password=password or None,
            tls=scheme == "rediss",
            verify_certificate=query.get("ssl_cert_reqs", "required").lower() != "none",
            ca_certs=query.get("ssl_ca_certs"),
        )


class RespConnection:
    """One connection to Redis; every failure (network, protocol, a Redis error reply)
    is :class:`BrokerError`. Close it, or use it as a context manager."""

    def __init__(self, address: RedisAddress, timeout: float) -> None:
        self.address = address
        try:
            self._socket = self._connect(address, timeout)
            self._file = self._socket.makefile("rb")
        except OSError as exc:
            raise BrokerError(str(exc) or type(exc).__name__) from exc
        try:
            if address.password is not None:
                credentials = [address.username] if address.username else []
                self.execute("AUTH", *credentials, address.password)
            if address.db:
                self.execute("SELECT", address.db)
        except BrokerError:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, timeout: float = 5.0) -> RespConnection:
        """Connect to the Redis at ``url``, waiting at most ``timeout`` s for any answer."""
        return cls(RedisAddress.from_url(url), timeout)

    @staticmethod
    def _connect(address: RedisAddress, timeout: float) -> socket.socket:
        if address.unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address.unix_path)
            except OSError:
                sock.close()
                raise
            return sock
        assert address.host is not None
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
        if not address.tls:
            return sock
        context = ssl.create_default_context(cafile=address.ca_certs)
        if not address.verify_certificate:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context.wrap_socket(sock, server_hostname=address.host)

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (again is harmless)."""
        self._file.close()
        self._socket.close()

    def execute(self, *command: str | bytes | int | float) -> Reply:
        """Send one command and return its reply."""
        return self.execute_many([command])[0]

    def execute_many(self, commands: Sequence[Sequence[str | bytes | int | float]]) -> list[Reply]:
        """Send ``commands`` in one write and read their replies in order (a pipeline)."""
        payload = b"".join(_encode(command) for command in commands)
        try:
            self._socket.sendall(payload)
            replies = [self._read() for _ in commands]
        except OSError as exc:
            raise BrokerError(str(exc) or type(exc).__name__) from exc
        except ValueError as exc:  # a length or a number that is not one
            raise BrokerError(f"not a Redis reply: {exc}") from exc
        for reply in replies:
            if isinstance(reply, _ErrorReply):
                raise BrokerError(f"Redis answered: {reply.message}")
        return replies

    def _read(self) -> Any:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise BrokerError("the connection to Redis closed mid-reply")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body
        if kind == b"-":
            return _ErrorReply(body.decode(errors="replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise BrokerError("the connection to Redis closed mid-reply")
            return data[:-2]
        if kind == b"*":
            count = int(body)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise BrokerError(f"not a Redis reply: {line[:40]!r}")

    # The commands the broker reads need, with redis-py's names and reply shapes, so
    # dnf_core.broker_layout serves this connection and a redis.Redis alike.

    def hlen(self, name: str) -> int:
        """Number of fields of hash ``name``."""
        return int(self._integer(self.execute("HLEN", name)))

    def hget(self, name: str, key: str) -> bytes | None:
        """Field ``key`` of hash ``name``, or None."""
        reply = self.execute("HGET", name, key)
        return reply if isinstance(reply, bytes) else None

    def hset(self, name: str, key: str, value: str | bytes) -> int:
        """Set field ``key`` of hash ``name``; 1 if it is new."""
        return self._integer(self.execute("HSET", name, key, value))

    def hdel(self, name: str, *keys: str) -> int:
        """Delete fields of hash ``name``; how many existed."""
        return self._integer(self.execute("HDEL", name, *keys))

    def hgetall(self, name: str) -> dict[bytes, bytes]:
        """Every field of hash ``name`` and its value."""
        reply = self.execute("HGETALL", name)
        flat = reply if isinstance(reply, list) else []
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def zrevrange(self, name: str, start: int, end: int, withscores: bool = False) -> list[Any]:
        """Members of sorted set ``name`` from ``start`` to ``end``, highest score first;
        with ``withscores``, as ``(member, score)`` pairs."""
        command: list[str | int] = ["ZREVRANGE", name, start, end]
        if withscores:
            command.append("WITHSCORES")
        reply = self.execute(*command)
        flat = reply if isinstance(reply, list) else []
        if not withscores:
            return flat
        return [(member, float(score)) for member, score in zip(flat[::2], flat[1::2], strict=True)]

    def pipeline(self) -> RespPipeline:
        """Commands sent together by :meth:`RespPipeline.execute` (one round trip)."""
        return RespPipeline(self)

    @staticmethod
    def _integer(reply: Reply) -> int:
        if not isinstance(reply, int):
            raise BrokerError(f"Redis answered {reply!r} where a number was due")
        return reply


class RespPipeline:
    """Queued commands of a :class:`RespConnection`; redis-py's pipeline, in small."""

    def __init__(self, connection: RespConnection) -> None:
        self.connection = connection
        self.commands: list[tuple[str | int, ...]] = []

    def hlen(self, name: str) -> RespPipeline:
        """Queue HLEN ``name``."""
        self.commands.append(("HLEN", name))
        return self

    def execute(self) -> list[Reply]:
        """Send the queued commands; their replies, in order."""
        commands, self.commands = self.commands, []
        return self.connection.execute_many(commands) if commands else []


@dataclass(frozen=True)
class _ErrorReply:
    message: str


def _encode(command: Sequence[str | bytes | int | float]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
