"""Invite links: stored by the hash of their code."""

from __future__ import annotations

from sqlalchemy import (
    select,
)

from storage.models import (
    Invite,
)
from storage.repositories.base import Repository


class InviteRepository(Repository):
    """Invites, looked up by the hash of their code."""

    def add(self, invite: Invite) -> None:
        """Stage a new invite."""
        self.session.add(invite)

    async def by_hash(self, code_hash: str) -> Invite | None:
        """Return the invite whose code hashes to this."""
        stmt = select(Invite).where(Invite.code_hash == code_hash)
        return await self.session.scalar(self._locking(stmt))

    async def get(self, invite_id: int) -> Invite | None:
        """Return the invite with that id."""
        stmt = select(Invite).where(Invite.id == invite_id)
        return await self.session.scalar(self._locking(stmt))
