"""Taking the database away, for tests and benchmarks of what the bot does during an outage.

PostgreSQL: :class:`TcpProxy` sits between the bot and the server on 127.0.0.1. ``cut()``
closes every connection through it and stops listening, so new connections are refused (what
a server restart, a failover or a network partition with RST looks like to the bot);
``restore()`` listens again on the same port.

SQLite: :class:`SqliteLock` takes the database's write lock from another connection and keeps
it (what a backup, a ``sqlite3`` shell left in a transaction, or a stuck migration does).
Readers go on (WAL); every writer waits out its busy budget and then fails with "database is
locked". Renaming or chmod-ing the file would not do: the bot's open connections keep the
file they opened and go on writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

from sqlalchemy.engine import make_url


class TcpProxy:
    """A TCP proxy on 127.0.0.1 that can cut and refuse connections."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.accepted = 0

    @classmethod
    def for_url(cls, url: str) -> TcpProxy:
        """A proxy in front of a PostgreSQL URL's server."""
        parsed = make_url(url)
        return cls(parsed.host or "127.0.0.1", parsed.port or 5432)

    def url(self, url: str) -> str:
        """The same URL through the proxy."""
        return (
            make_url(url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    @property
    def up(self) -> bool:
        """Whether the proxy accepts connections."""
        return self._server is not None

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        """Close every connection and stop listening: new connections are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def restore(self) -> None:
        """Accept connections again."""
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        """Cut and stay down."""
        await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers.discard(writer)
            self._writers.discard(up_writer)


class SqliteLock:
    """Holds an SQLite database's write lock from a connection of its own (in a thread, so
    the event loop under test never blocks on it)."""

    def __init__(self, url_or_path: str | Path) -> None:
        text = str(url_or_path)
        self._path = make_url(text).database if "://" in text else text
        self._release = threading.Event()
        self._held = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        """Whether the lock is held."""
        return self._held.is_set()

    def _hold(self) -> None:
        connection = sqlite3.connect(str(self._path), isolation_level=None, timeout=30)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            self._held.set()
            self._release.wait()
            connection.execute("ROLLBACK")
        finally:
            connection.close()
            self._held.clear()

    async def take(self) -> None:
        """Take the write lock (waits for a writer in progress) and keep it."""
        self._release.clear()
        self._thread = threading.Thread(target=self._hold, name="sqlite-outage", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._held.wait, 30)

    async def release(self) -> None:
        """Give the lock back."""
        self._release.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
            self._thread = None


class DatabaseOutage:
    """One interface over both: ``await outage.begin()`` / ``await outage.end()``."""

    def __init__(self, proxy: TcpProxy | None = None, lock: SqliteLock | None = None) -> None:
        self.proxy = proxy
        self.lock = lock

    async def begin(self) -> None:
        """Take the database away."""
        if self.proxy is not None:
            await self.proxy.cut()
        if self.lock is not None:
            await self.lock.take()

    async def end(self) -> None:
        """Give it back."""
        if self.proxy is not None:
            await self.proxy.restore()
        if self.lock is not None:
            await self.lock.release()
