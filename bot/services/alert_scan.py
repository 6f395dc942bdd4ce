"""The alert scan: raise unacknowledged alerts again (REFERENCE.md 3.2).

IMMEDIATE: after each of the cohort's ``reraise_minutes`` (15 and 30 by default), the last
time mentioning its on-call handles. URGENT: at the end of the business day (coverage hours).
Each re-raise is a new group message that replies to the original and has its buttons; the
state is in the head alert (``reraised_count``, ``next_reraise_at``), so the JobQueue only
triggers the scan.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.coverage import mentions_on_call, next_reraise
from bot.services.alert_actions import reraise_minutes
from bot.services.alerting import Alerting, alert_keyboard, top_tier
from bot.services.outbox import alert_priority, send_row
from bot.services.runtime import Runtime
from storage.models import Alert
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)


class AlertScan:
    """Raises unacknowledged alerts again when their time comes."""

    def __init__(self, runtime: Runtime, alerting: Alerting, batch_size: int = 200) -> None:
        self._rt = runtime
        self._alerting = alerting
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> int:
        """Queue the re-raises that are due; return how many."""
        now = now or self._rt.clock.now()
        queued = 0
        while True:
            async with self._rt.uow() as uow:
                heads = await uow.alerts.due_reraise(now, self._batch_size)
                if not heads:
                    break
                for head in heads:
                    queued += await self._reraise(uow, now, head)
                await uow.commit()
            self._rt.wake_delivery()
        if queued:
            logger.info("alert scan raised %d alerts again", queued)
        return queued

    async def _reraise(self, uow: UnitOfWork, now: datetime, head: Alert) -> int:
        cohort = await uow.cohorts.get(head.cohort_id)
        config = None if cohort is None else self._alerting.cohort_config(cohort)
        patient = await uow.patients.get(head.patient_id)
        if cohort is None or config is None or patient is None:
            head.next_reraise_at = None  # nowhere to say it: stop trying
            return 0
        sent = head.group_message_id is not None and head.group_message_id > 0
        alerts = [head]
        if head.group_message_id is not None:
            alerts = list(await uow.alerts.of_message(cohort.id, head.group_message_id)) or [head]
        tier = top_tier(alerts)
        step = head.reraised_count + 1
        minutes = config.reraise_minutes
        on_call = list(config.on_call) if mentions_on_call(tier, step, minutes) else []
        row = send_row(
            now=now,
            chat_id=cohort.provider_chat_id,
            priority=alert_priority(tier),
            dedup_key=f"alert_reraise:{head.id}:{step}",
            text=self._rt.renderer.render(
                "alert_reraise",
                cohort.locale,
                tier=tier.value,
                label=patient.label,
                time=self._alerting.local_time(cohort, head.created_at),
                minutes=reraise_minutes(tier, step, minutes),
                on_call=on_call,
                acknowledged_by=None,
                acknowledged_at=None,
                resolved_by=None,
                resolved_at=None,
            ),
            keyboard=alert_keyboard(self._rt, cohort.locale, head.id),
        )
        if sent:
            # Refers to the original; still sent if that message was deleted meanwhile.
            row["payload"]["reply_to_message_id"] = head.group_message_id
            row["payload"]["allow_sending_without_reply"] = True
        queued = await uow.outbox.enqueue(row)
        head.reraised_count = step
        head.next_reraise_at = next_reraise(
            tier, head.created_at, step, minutes, config.coverage_hours
        )
        uow.audit.record(
            at=now,
            actor="system",
            action="alert_reraised",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"alert_id": head.id, "step": step, "on_call": bool(on_call)},
        )
        return 1 if queued else 0
