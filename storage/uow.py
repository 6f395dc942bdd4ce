"""The unit of work: one transaction per use case. Only it commits; repositories never do."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import READ_ONLY
from storage.repositories import (
    AlertRepository,
    AuditRepository,
    CheckinRepository,
    CohortRepository,
    DigestRepository,
    InviteRepository,
    OutboxRepository,
    PatientDataRepository,
    PatientRepository,
    ProviderRepository,
    UpdateRepository,
)


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
    patient_data: PatientDataRepository
    provider: ProviderRepository
    digest: DigestRepository

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, read_only: bool = False
    ) -> None:
        self._session_factory = session_factory
        self._read_only = read_only

    async def __aenter__(self) -> Self:
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
        self.patient_data = PatientDataRepository(session)
        self.provider = ProviderRepository(session)
        self.digest = DigestRepository(session)
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
            await self.session.close()

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self.session.commit()


class UnitOfWorkFactory:
    """Makes a fresh unit of work per use case (never share one between tasks)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    def __call__(self) -> UnitOfWork:
        """Return a new, not yet entered, unit of work."""
        return UnitOfWork(self._session_factory)

    def reading(self) -> UnitOfWork:
        """Return a unit of work that only reads: on SQLite it takes no write lock."""
        return UnitOfWork(self._session_factory, read_only=True)
