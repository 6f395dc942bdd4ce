"""The alert scan: raise unacknowledged alert events again (docs/clinical.md §3.2), and post the
events still waiting for room in their group.

IMMEDIATE: after each of the cohort's ``reraise_minutes`` (15 and 30 by default), the last
time mentioning its on-call handles. URGENT: at the end of the business day (coverage hours).
The events of one cohort due in one scan share a re-raise message (as many as fit; the
on-call mentioned once if any of them needs it), with one row of buttons per event; it
replies to the original when they all come from one. The state is in the head alerts
(``reraised_count``, ``next_reraise_at``), so the JobQueue only triggers the scan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.domain.alert_layout import TELEGRAM_TEXT_LIMIT, chunk
from bot.domain.coverage import mentions_on_call, next_reraise
from bot.services.alerts.alert_actions import reraise_minutes
from bot.services.alerts.alerting import Alerting
from bot.services.alerts.announcer import Event
from bot.services.outbox import alert_priority
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)


class AlertScan:
    """Raises unacknowledged alert events again when their time comes."""

    def __init__(self, runtime: Runtime, alerting: Alerting, batch_size: int = 200) -> None:
        self._rt = runtime
        self._announcer = alerting.announcer
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> int:
        """Queue the re-raises that are due, then post waiting events; return how many
        events were raised again."""
        now = now or self._rt.clock.now()
        queued = 0
        while True:
            async with self._rt.uow() as uow:
                heads = await uow.alerts.due_reraise(now, self._batch_size)
                if not heads:
                    break
                by_cohort: dict[int, list[Alert]] = {}
                for head in heads:
                    by_cohort.setdefault(head.cohort_id, []).append(head)
                for cohort_id, cohort_heads in by_cohort.items():
                    queued += await self._reraise(uow, now, cohort_id, cohort_heads)
                await uow.commit()
            self._rt.wake_delivery()
        if queued:
            logger.info("alert scan raised %d alert events again", queued)
        await self._announcer.flush_all(now)
        return queued

    async def _reraise(
        self, uow: UnitOfWork, now: datetime, cohort_id: int, heads: Sequence[Alert]
    ) -> int:
        cohort = await uow.cohorts.get(cohort_id)
        config = None if cohort is None else self._announcer.cohort_config(cohort)
        if cohort is None or config is None:
            for head in heads:
                head.next_reraise_at = None  # nowhere to say it: stop trying
            return 0
        events = await self._announcer.events(uow, [h.id for h in heads])
        for head in heads:
            if all(e.head.id != head.id for e in events):
                head.next_reraise_at = None  # its alerts are gone
        minutes = config.reraise_minutes
        for event in events:
            event.step = event.head.reraised_count + 1
            event.minutes = reraise_minutes(event.tier, event.step, minutes)
        messages = chunk(events, fits=lambda group: self._fits(cohort, group))
        for message in messages:
            await self._post(uow, now, cohort, message)
        return len(events)

    def _fits(self, cohort: Cohort, events: Sequence[Event]) -> bool:
        if len(events) > self._announcer.max_events:
            return False
        config = self._announcer.cohort_config(cohort)
        on_call = list(config.on_call) if config is not None else []
        text = self._announcer.reraise_text(cohort, events, on_call, worst_case=True)
        return len(text) <= TELEGRAM_TEXT_LIMIT

    async def _post(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, events: Sequence[Event]
    ) -> None:
        config = self._announcer.cohort_config(cohort)
        assert config is not None  # noqa: S101 - checked by _reraise
        minutes = config.reraise_minutes
        paging = any(mentions_on_call(e.tier, e.step, minutes) for e in events)
        on_call = list(config.on_call) if paging else []
        first = events[0]
        dedup_key = f"alert_reraise:{first.head.id}:{first.step}"
        originals = {e.head.group_message_id for e in events}
        original = originals.pop() if len(originals) == 1 else None
        await self._rt.outbound(uow, now).text_to_group(
            cohort,
            self._announcer.reraise_text(cohort, events, on_call),
            priority=alert_priority(min((e.tier for e in events), key=lambda t: t.rank)),
            keyboard=self._announcer.keyboard(cohort, events),
            dedup_key=dedup_key,
            # Refers to the original (a negative id: not sent yet); still sent if that
            # message was deleted meanwhile (bot.services.outbox).
            reply_to=original if original is not None and original > 0 else None,
        )
        outbox_id = await uow.outbox.queued_id(dedup_key)
        assert outbox_id is not None  # noqa: S101 - just queued, or queued before
        await uow.alerts.add_posts([(e.head.id, e.step, outbox_id) for e in events])
        for event in events:
            head = event.head
            head.reraised_count = event.step
            head.next_reraise_at = next_reraise(
                event.tier, head.created_at, event.step, minutes, config.coverage_hours
            )
            uow.audit.record(
                at=now,
                actor="system",
                action="alert_reraised",
                cohort_id=cohort.id,
                patient_id=head.patient_id,
                details={"alert_id": head.id, "step": event.step, "on_call": bool(on_call)},
            )
