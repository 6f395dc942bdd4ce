"""Raising alerts: one place for every path that escalates (answers, crisis words, a patient
who cannot be reached, patient-level rules).

Alerts raised by one event (one answer, one message, one completed check-in) go to the
provider group as **one** message that lists them, most urgent first: the group's 20
messages a minute are kept for what matters, and a provider reads one event once. Each alert
is a row (audited); the group message carries Acknowledge and Resolve buttons for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.alerts import Tier
from bot.domain.schedule import zone_or_error
from bot.services.outbox import alert_priority, queue_send
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort, Patient
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Raise:
    """An alert to raise: which rule, how urgent, and the event it is about."""

    rule: str
    tier: Tier
    event_key: str
    """Identifies the event (e.g. ``checkin:42`` or ``message:7``): one alert per rule and
    event, however often the event is seen."""


class Alerting:
    """Writes alert rows and queues the provider-group message that announces them."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def raise_(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        raises: Sequence[Raise],
        *,
        checkin_id: int | None = None,
    ) -> list[Alert]:
        """Raise alerts for one event; return the ones that are new (others existed)."""
        created: list[Alert] = []
        for item in sorted(raises, key=lambda r: (r.tier.rank, r.rule)):
            alert = await uow.alerts.add_if_absent(
                {
                    "cohort_id": cohort.id,
                    "patient_id": patient.id,
                    "checkin_id": checkin_id,
                    "rule": item.rule,
                    "tier": item.tier.value,
                    "status": "open",
                    "dedup_key": f"{item.rule}:{item.event_key}",
                    "event_key": item.event_key,
                    "created_at": now,
                }
            )
            if alert is None:
                continue
            uow.audit.record(
                at=now,
                actor="system",
                action="alert_raised",
                cohort_id=cohort.id,
                patient_id=patient.id,
                details={"alert_id": alert.id, "rule": alert.rule, "tier": alert.tier},
            )
            created.append(alert)
        if created:
            await self._announce(uow, now, cohort, patient, created)
        return created

    async def _announce(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        alerts: list[Alert],
    ) -> None:
        top = min((Tier(a.tier) for a in alerts), key=lambda t: t.rank)
        local = now.astimezone(zone_or_error(cohort.timezone))
        await queue_send(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            priority=alert_priority(top),
            dedup_key=f"alert:{alerts[0].id}",
            text=self._rt.renderer.render(
                "alert_group",
                cohort.locale,
                tier=top.value,
                label=patient.label,
                rules=[a.rule for a in alerts],
                time=local.strftime("%Y-%m-%d %H:%M %Z"),
            ),
        )
