"""The unit of work: one transaction per use case. Only it commits; repositories never do."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import READ_ONLY, DatabaseUnavailableError
from storage.erasure import ErasureRepository
from storage.queries.answers import AnswerQueries
from storage.queries.digest import DigestQueries
from storage.queries.export import ExportQueries, OutcomeQueries
from storage.queries.history import PatientHistoryQueries
from storage.queries.ops import OpsQueries
from storage.queries.provider import ProviderQueries
from storage.repositories.alerts import AlertRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.channel import ChannelRepository
from storage.repositories.checkins import CheckinRepository
from storage.repositories.cohorts import CohortRepository
from storage.repositories.confirmations import ConfirmationRepository
from storage.repositories.invites import InviteRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.patients import PatientRepository
from storage.repositories.side_checks import SideCheckRepository
from storage.repositories.team import TeamRepository
from storage.repositories.updates import UpdateRepository
from storage.sqlite_inline import SQLITE_BUSY_TIMEOUT_MS


class UnitOfWork:
    """A transaction with the repositories that work inside it.

    Use as ``async with uow_factory() as uow: ...; await uow.commit()``. Leaving the block
    without committing rolls everything back, so a failure half-way stores nothing.
    """

    session: AsyncSession
    cohorts: CohortRepository
    invites: InviteRepository
    patients: PatientRepository
    checkins: CheckinRepository
    alerts: AlertRepository
    outbox: OutboxRepository
    updates: UpdateRepository
    audit: AuditRepository
    answers: AnswerQueries
    history: PatientHistoryQueries
    provider: ProviderQueries
    digest: DigestQueries
    ops: OpsQueries
    export: ExportQueries
    outcomes: OutcomeQueries
    channel: ChannelRepository
    side_checks: SideCheckRepository
    team: TeamRepository
    erasure: ErasureRepository
    confirmations: ConfirmationRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        read_only: bool = False,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._read_only = read_only
        self._write_lock = None if read_only else write_lock
        self._holds_lock = False

    async def __aenter__(self) -> Self:
        if self._write_lock is not None:
            try:
                async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                    await self._write_lock.acquire()
            except TimeoutError:
                # What SQLite's busy timeout would have said, after as long.
                raise WriterBusyError from None
            self._holds_lock = True
        self.session = self._session_factory()
        session = self.session
        if self._read_only:
            # Procure the connection now, marked, so that SQLite begins without a write lock.
            _ = await session.connection(execution_options={READ_ONLY: True})
        self.cohorts = CohortRepository(session)
        self.invites = InviteRepository(session)
        self.patients = PatientRepository(session)
        self.checkins = CheckinRepository(session)
        self.alerts = AlertRepository(session)
        self.outbox = OutboxRepository(session)
        self.updates = UpdateRepository(session)
        self.audit = AuditRepository(session)
        self.answers = AnswerQueries(session)
        self.history = PatientHistoryQueries(session)
        self.provider = ProviderQueries(session)
        self.digest = DigestQueries(session)
        self.ops = OpsQueries(session)
        self.export = ExportQueries(session)
        self.outcomes = OutcomeQueries(session)
        self.channel = ChannelRepository(session)
        self.side_checks = SideCheckRepository(session)
        self.team = TeamRepository(session)
        self.erasure = ErasureRepository(session)
        self.confirmations = ConfirmationRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends the transaction without committing it. Rolling back explicitly would
        # also expire every loaded object, which read-only callers still want to look at.
        try:
            if exc_type is not None and self.session.in_transaction():
                await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                if self._holds_lock:
                    self._holds_lock = False
                    assert self._write_lock is not None  # noqa: S101 - set when held
                    self._write_lock.release()

    async def flush(self) -> None:
        """Write what is pending so far (ids of new rows, changes a query must see), without
        committing."""
        await self.session.flush()

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        # An update from a patient is linked to them, so that erasing them finds it.
        subject = self.patients.subject or self.checkins.subject
        if self.updates.claimed is not None and subject is not None:
            await self.updates.link(self.updates.claimed, subject)
        await self.audit.seal()
        await self.session.commit()


class WriterBusyError(DatabaseUnavailableError):
    """No write transaction could start within SQLite's busy timeout."""

    def __init__(self) -> None:
        super().__init__("database is locked: another write transaction held it too long")


class UnitOfWorkFactory:
    """Makes a fresh unit of work per use case (never share one between tasks).

    On SQLite, write units of work of this process queue on an asyncio lock before they
    begin. SQLite admits one writer at a time anyway, but makes the others wait by sleeping
    and retrying (1, 2, 5 ... up to 100 ms between tries), so under concurrent taps most of
    a transaction's latency was spent asleep while the lock was already free. A FIFO queue
    in the event loop hands the lock over at once. Read-only units of work do not queue
    (WAL: readers never wait for the writer).
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        bind = session_factory.kw.get("bind")
        sqlite = isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock() if sqlite else None

    @property
    def holds_event_loop(self) -> bool:
        """True on SQLite, whose statements run in the event loop's thread (storage/db.py): a
        transaction keeps every other task waiting until it ends, not only other writers."""
        return self._write_lock is not None

    def __call__(self) -> UnitOfWork:
        """Return a new, not yet entered, unit of work."""
        return UnitOfWork(self._session_factory, write_lock=self._write_lock)

    def reading(self) -> UnitOfWork:
        """Return a unit of work that only reads: on SQLite it takes no write lock."""
        return UnitOfWork(self._session_factory, read_only=True)
