"""Raising alerts: one place for every path that escalates (answers, crisis words, a patient
who cannot be reached, patient-level rules).

Alerts raised by one event (one answer, one message, one completed check-in) go to the
provider group as **one** message that lists them, most urgent first: the group's 20
messages a minute are kept for what matters, and a provider reads one event once. Each alert
is a row (audited); the group message carries one Acknowledge and one Resolve button that act
on every alert it lists (a provider handles the event, not its rule rows one by one).

The first alert of a message (the most urgent) is its *head*: the buttons carry its id, and
it holds the re-raise schedule (``next_reraise_at``, ``reraised_count``). Until the message
is sent, the alerts' ``group_message_id`` holds the head's id negated, which groups them;
the delivery worker then replaces it with the Telegram message id (Telegram's are positive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config import CohortConfig, ConfigError
from bot.domain.alerts import Tier
from bot.domain.callback_data import AlertButton, encode
from bot.domain.coverage import next_reraise
from bot.domain.schedule import zone_or_error
from bot.services.outbox import Keyboard, OnSent, alert_priority, queue_send
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
    patient_scoped: bool = False
    """The event key is unique only within the patient (patient-level rules use local dates):
    the dedup key then includes the patient id."""
    announce: bool = True
    """Post it to the group. Patient-level ROUTINE alerts are stored (for the digest and
    /alerts) but not posted (REFERENCE.md 3.2: weekly digest)."""


@dataclass(frozen=True, slots=True)
class Status:
    """Who acknowledged or resolved a group message's alerts, for its text."""

    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    resolved_by: str | None = None
    resolved_at: str | None = None

    def values(self) -> dict[str, str | None]:
        """Return the template values."""
        return {
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
            "resolved_by": self.resolved_by,
            "resolved_at": self.resolved_at,
        }


def top_tier(alerts: Sequence[Alert]) -> Tier:
    """Return the most urgent tier among alerts."""
    return min((Tier(a.tier) for a in alerts), key=lambda t: t.rank)


def alert_keyboard(runtime: Runtime, locale: str, head_id: int) -> Keyboard:
    """Return the Acknowledge and Resolve buttons of a group message."""
    render = runtime.renderer.render
    return [
        [
            {
                "text": render("button_alert_ack", locale),
                "callback_data": encode(AlertButton(head_id, "ack")),
            },
            {
                "text": render("button_alert_res", locale),
                "callback_data": encode(AlertButton(head_id, "res")),
            },
        ]
    ]


class Alerting:
    """Writes alert rows and queues the provider-group message that announces them."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def cohort_config(self, cohort: Cohort) -> CohortConfig | None:
        """Return a cohort's configuration (None if it left the file since it was synced)."""
        try:
            return self._rt.config.cohort(cohort.name)
        except ConfigError:
            return None

    def after_hours(self, cohort: Cohort, now: datetime) -> bool:
        """Tell whether nobody watches the cohort's group now (coverage hours configured and
        not covering ``now``); patients' cards and group messages say so."""
        config = self.cohort_config(cohort)
        coverage = None if config is None else config.coverage_hours
        return coverage is not None and not coverage.covers(now)

    def local_time(self, cohort: Cohort, instant: datetime) -> str:
        """Format an instant in the cohort's time zone, as group messages show it."""
        return instant.astimezone(zone_or_error(cohort.timezone)).strftime("%Y-%m-%d %H:%M %Z")

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
        announced: list[Alert] = []
        after_hours = self.after_hours(cohort, now)
        for item in sorted(raises, key=lambda r: (r.tier.rank, r.rule)):
            scope = f"p{patient.id}:" if item.patient_scoped else ""
            alert = await uow.alerts.add_if_absent(
                {
                    "cohort_id": cohort.id,
                    "patient_id": patient.id,
                    "checkin_id": checkin_id,
                    "rule": item.rule,
                    "tier": item.tier.value,
                    "status": "open",
                    "dedup_key": f"{item.rule}:{scope}{item.event_key}",
                    "event_key": item.event_key,
                    "created_at": now,
                    "after_hours": after_hours,
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
                details={
                    "alert_id": alert.id,
                    "rule": alert.rule,
                    "tier": alert.tier,
                    "after_hours": after_hours,
                },
            )
            created.append(alert)
            if item.announce:
                announced.append(alert)
        if announced:
            await self._announce(uow, now, cohort, patient, announced)
        return created

    def group_text(
        self, cohort: Cohort, label: str, alerts: Sequence[Alert], status: Status | None = None
    ) -> str:
        """Render the group message of some alerts (with who acted on them, once someone has)."""
        config = self.cohort_config(cohort)
        coverage = None if config is None or config.coverage is None else config.coverage
        return self._rt.renderer.render(
            "alert_group",
            cohort.locale,
            tier=top_tier(alerts).value,
            label=label,
            rules=[a.rule for a in alerts],
            time=self.local_time(cohort, alerts[0].created_at),
            after_hours=any(a.after_hours for a in alerts),
            coverage_days=list(coverage.days) if coverage else [],
            coverage_start=coverage.start if coverage else "",
            coverage_end=coverage.end if coverage else "",
            **(status or Status()).values(),
        )

    async def _announce(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        alerts: list[Alert],
    ) -> None:
        head = alerts[0]
        for alert in alerts:
            alert.group_message_id = -head.id  # provisional: the group, until sent
        config = self.cohort_config(cohort)
        if config is not None:
            head.next_reraise_at = next_reraise(
                top_tier(alerts), now, 0, config.reraise_minutes, config.coverage_hours
            )
        await queue_send(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            priority=alert_priority(top_tier(alerts)),
            dedup_key=f"alert:{head.id}",
            text=self.group_text(cohort, patient.label, alerts),
            keyboard=alert_keyboard(self._rt, cohort.locale, head.id),
            on_sent=OnSent.ALERT_MESSAGE,
            ref_id=head.id,
        )
