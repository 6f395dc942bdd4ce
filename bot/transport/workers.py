"""Worker slots: how several moodcheck processes on one database share the sending.

Telegram's limits hold per bot token, so N processes of one bot must together stay within
30 messages a second, 20 a minute per group and about one a second per private chat. Each
process therefore keeps to 1/N of the overall rate and sends only to the chats of its
partition (``chat_id mod N == rank``), so that one chat's windows live in one process.

PostgreSQL: a process takes the first free slot ``pg_try_advisory_lock(KEY, slot)`` on a
connection it keeps; the live slots (and so N and its rank among them) are read from
``pg_locks``. A process that dies loses its connection and with it its slot: no table, no
heartbeat, no clean-up. Which rows a process sends is still decided by row locks (the claim's
``FOR UPDATE SKIP LOCKED``), so a moment in which two processes disagree about N can bend a
chat's rate window, never send a message twice.

SQLite has one writer at a time and is meant for one process: the slot is an exclusive lock
on a file beside the database. A second process is told so in the log (it still sends
nothing twice, because claims are leased, but it does not share the rate limits).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

ADVISORY_KEY = 0x6D6F6F64
"""First key of every slot's advisory lock ("mood"); the second is the slot number."""
MAX_SLOTS = 64

_TAKE = text("SELECT pg_try_advisory_lock(CAST(:key AS integer), CAST(:slot AS integer))")
_LIVE = text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid::bigint = :key AND objsubid = 2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True, slots=True)
class Partition:
    """The share of the chats a process sends to: ``chat_id mod count == rank``."""

    rank: int = 0
    count: int = 1

    def owns(self, chat_id: int) -> bool:
        """Tell whether messages to this chat are this process's to send."""
        return chat_id % self.count == self.rank  # Python's mod is never negative

    @property
    def shard(self) -> tuple[int, int] | None:
        """(rank, count) for the outbox claim; None when one process does everything."""
        return None if self.count == 1 else (self.rank, self.count)


class WorkerSlots(Protocol):
    """A process's place among the processes of one database."""

    partition: Partition
    exclusive: bool
    """True when this process is known to be the only one (it may then take back every
    lease a previous run left behind)."""

    async def acquire(self) -> None:
        """Take a slot (before the first send)."""

    async def refresh(self) -> Partition:
        """Look again at how many processes there are; return this one's partition."""

    async def release(self) -> None:
        """Give the slot up (at shutdown)."""


class SqliteSlot:
    """One process per SQLite database, held by an exclusive lock on a file beside it."""

    def __init__(self, database: str | None) -> None:
        self._path = None if not database or database == ":memory:" else Path(database)
        self._fd: int | None = None
        self.partition = Partition()
        self.exclusive = self._path is None

    async def acquire(self) -> None:
        """Lock ``<database>.worker-lock``; if another process holds it, say so and go on."""
        if self._path is None or self._fd is not None:
            return
        fd = os.open(f"{self._path}.worker-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            logger.error(  # noqa: TRY400 - a warning to the operator, not a failure
                "another moodcheck process is sending from %s: SQLite is for one process; "
                "two share no rate limits (use PostgreSQL for several)",
                self._path.name,
            )
            self.exclusive = False
            return
        self._fd = fd
        self.exclusive = True

    async def refresh(self) -> Partition:
        """One process: always the whole."""
        return self.partition

    async def release(self) -> None:
        """Unlock (closing the file does; so does the process dying)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class PostgresSlots:
    """Slots as session advisory locks; the live ones counted in ``pg_locks``."""

    def __init__(
        self, engine: AsyncEngine, *, key: int = ADVISORY_KEY, max_slots: int = MAX_SLOTS
    ) -> None:
        self._engine = engine
        self._key = key
        self._max_slots = max_slots
        self._connection: AsyncConnection | None = None
        self.slot: int | None = None
        self.partition = Partition()
        self.exclusive = False

    async def acquire(self) -> None:
        """Take the first free slot on a connection kept for as long as the process runs."""
        if self._connection is not None:
            return
        connection = await self._engine.connect()
        # Autocommit: a session lock needs no transaction, and an idle one left open would
        # hold back vacuum for as long as the process lives.
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for slot in range(self._max_slots):
            taken = await connection.scalar(_TAKE, {"key": self._key, "slot": slot})
            if taken:
                self._connection, self.slot = connection, slot
                await self.refresh()
                # Alone among the live slots: any lease left is a dead process's, and its
                # messages (a crisis card among them, maybe) need not wait for it to expire.
                self.exclusive = self.partition.count == 1
                return
        await connection.invalidate()
        await connection.close()
        raise RuntimeError(f"all {self._max_slots} worker slots are taken")

    async def refresh(self) -> Partition:
        """Count the live slots; take a slot again if the connection holding ours is gone."""
        try:
            if self._connection is None:
                await self.acquire()
            assert self._connection is not None  # noqa: S101 - acquire() set it or raised
            result = await self._connection.execute(_LIVE, {"key": self._key})
            live = sorted(int(slot) for slot in result.scalars())
        except (SQLAlchemyError, OSError):
            # The server restarted or the connection broke: our lock went with it.
            logger.warning("worker slot connection lost; taking a slot again")
            await self._drop()
            await self.acquire()
            return self.partition
        if self.slot not in live:
            await self._drop()
            await self.acquire()
            return self.partition
        self.partition = Partition(live.index(self.slot), len(live))
        return self.partition

    async def release(self) -> None:
        """Close the slot's connection (which releases the lock)."""
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection, self.slot = self._connection, None, None
        if connection is not None:
            # Closed for good, not returned to the pool: the lock lives as long as the
            # server session, which a pooled connection would keep open.
            with contextlib.suppress(SQLAlchemyError, OSError):
                await connection.invalidate()
                await connection.close()


def slots_for(engine: AsyncEngine) -> WorkerSlots:
    """Return the slot kind that fits the engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresSlots(engine)
    return SqliteSlot(engine.url.database)
