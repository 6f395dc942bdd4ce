"""The audit trail as a whole: verifying every chain (``moodcheck audit verify``) and pruning
records older than each cohort's ``audit_retention_days`` (the hourly housekeeping job).

How a chain is built and checked: ``bot.domain.audit_chain``; docs/security.md, "Audit
trail".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.audit_chain import GENESIS, Broken, ChainCheck
from bot.services.runtime import Runtime

logger = logging.getLogger(__name__)
PRUNE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class ChainState:
    """One verified chain: how many records were checked, its head, and what broke."""

    chain: int
    checked: int
    head_seq: int
    head_hash: str
    anchor_seq: int
    broken: Broken | None


class AuditTrail:
    """Verifies and prunes the audit chains."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def verify(self) -> list[ChainState]:
        """Check every chain from its anchor to its head; one state per chain."""
        states = []
        async with self._rt.uow.reading() as uow:
            heads = {head.chain: head for head in await uow.audit.heads()}
            chains = sorted(set(heads) | set(await uow.audit.chains_with_records()))
            for chain in chains:
                head = heads.get(chain)
                check = ChainCheck(
                    chain,
                    anchor_seq=head.anchor_seq if head else 0,
                    anchor_hash=head.anchor_hash if head else GENESIS,
                    head_seq=head.seq if head else 0,
                    head_hash=head.hash if head else GENESIS,
                )
                async for batch in uow.audit.records(chain):
                    check.feed(batch)
                    if check.broken is not None:
                        break
                states.append(
                    ChainState(
                        chain,
                        check.checked,
                        check.head_seq,
                        check.head_hash,
                        check.anchor_seq,
                        check.finish(),
                    )
                )
        return states

    async def prune(self, now: datetime | None = None) -> int:
        """Delete records older than their cohort's retention (records of no cohort: the
        longest retention of any cohort), behind an anchor; return how many went. Logs each
        chain's head (place and hash, no patient data), so a copy of the head outside the
        database can show later that the chain was not rebuilt."""
        now = now or self._rt.clock.now()
        days: dict[int, int] = {}
        async with self._rt.uow.reading() as uow:
            for cohort in self._rt.config.cohorts:
                stored = await uow.cohorts.by_name(cohort.name)
                if stored is not None:
                    days[stored.id] = cohort.audit_retention_days
        if not days:
            return 0
        days[0] = max(days.values())
        deleted = 0
        for chain, keep in sorted(days.items()):
            while True:
                async with self._rt.uow() as uow:
                    gone = await uow.audit.prune(
                        chain, now - timedelta(days=keep), now, PRUNE_BATCH
                    )
                    await uow.commit()
                deleted += gone
                if gone < PRUNE_BATCH:
                    break
        async with self._rt.uow.reading() as uow:
            for head in await uow.audit.heads():
                logger.info("audit chain %d head: seq %d hash %s", head.chain, head.seq, head.hash)
        return deleted
