"""Raising alerts: one place for every path that escalates (answers, crisis words, a patient
who cannot be reached, patient-level rules).

Alerts raised by one event (one answer, one message, one completed check-in) form one *event*
for the care team: each alert is a row (audited), the first (most urgent) is the event's
*head* (``head_id`` on every alert of the event), holds the re-raise schedule and is the id
its buttons carry (a provider handles the event, not its rule rows one by one).

The event is then handed to the announcer (``bot.services.alerts.announcer``), which posts it at
once when the group has room this minute, or coalesced with others in a burst. An URGENT
event from a check-in also tells the patient when the care team will review it (docs/clinical.md
§3.2) with the short crisis card, unless the answer shows the full one (which then says when).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.cohort_config import CohortConfig
from bot.domain.alerts import Tier, Trigger
from bot.domain.coverage import next_reraise
from bot.domain.lifecycle import AlertStatus
from bot.domain.schedule import zone_or_error
from bot.services.alerts.announcer import Announcer
from bot.services.alerts.crisis_card import CardKind, card_of, crisis_card, patient_region
from bot.services.outbox import Priority
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
    /alerts) but not posted (docs/clinical.md §3.2: weekly digest)."""
    details: Mapping[str, Any] | None = None
    """What fired it, locale-free (``bot.domain.alert_details``): the care team sees the
    values, never only the rule."""


def top_tier(alerts: Sequence[Alert]) -> Tier:
    """Return the most urgent tier among alerts."""
    return min((Tier(a.tier) for a in alerts), key=lambda t: t.rank)


class Alerting:
    """Writes alert rows and hands their events to the announcer."""

    def __init__(self, runtime: Runtime, announcer: Announcer) -> None:
        self._rt = runtime
        self.announcer = announcer

    def cohort_config(self, cohort: Cohort) -> CohortConfig | None:
        """Return a cohort's configuration (None if it left the file since it was synced)."""
        return self.announcer.cohort_config(cohort)

    def after_hours(self, cohort: Cohort, now: datetime) -> bool:
        """Tell whether nobody watches the cohort's group now (coverage hours configured and
        not covering ``now``); patients' cards and group messages say so."""
        config = self.cohort_config(cohort)
        coverage = None if config is None else config.coverage_hours
        return coverage is not None and not coverage.covers(now)

    def local_time(self, cohort: Cohort, instant: datetime) -> str:
        """Format an instant in the cohort's time zone, as group messages show it."""
        return self.announcer.local_time(cohort, instant)

    @staticmethod
    def team_can_be_told(cohort: Cohort) -> bool:
        """Whether an alert raised now reaches the care team's group. While the bot cannot
        post there (bot.services.provider.provider_channel) alerts are kept and relayed only to
        on-call providers, if any registered: the patient is then not told the team knows."""
        return cohort.group_unreachable_since is None

    def card(
        self,
        kind: CardKind,
        cohort: Cohort,
        patient: Patient,
        now: datetime,
        *,
        team_notified: bool = True,
        urgent: bool = False,
    ) -> str:
        """Render a crisis card for a patient: their region's lines, their language, the
        cohort's hours (``bot.services.alerts.crisis_card``)."""
        config = self.cohort_config(cohort)
        regions = self._rt.config.regions
        return crisis_card(
            self._rt.renderer,
            regions,
            kind=kind,
            locale=patient.locale,
            region=patient_region(regions, patient.region, patient.timezone, cohort.region),
            coverage=None if config is None else config.card_coverage,
            now=now,
            zone=zone_or_error(patient.timezone),
            team_notified=team_notified and self.team_can_be_told(cohort),
            urgent=urgent,
        )

    async def queue_card(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        triggers: Sequence[Trigger],
        *,
        answer_key: str,
    ) -> None:
        """Queue the card an answer's triggers call for (the crisis card before the emergency
        card; none if no trigger asks), first and at the top priority, so it reaches the
        patient before anything else the answer causes. An URGENT-only card (passive
        thoughts) says when the team will review. ``answer_key``: the answer, for the dedup
        key (a replay queues nothing twice)."""
        kind = card_of(triggers)
        if kind is None:
            return
        top = min((trigger.tier for trigger in triggers), key=lambda tier: tier.rank)
        await self._rt.outbound(uow, now).text_to_patient(
            patient,
            self.card(
                self._rt.card_or_followup(patient.chat_id, kind),
                cohort,
                patient,
                now,
                urgent=top is Tier.URGENT,
            ),
            priority=Priority.CRISIS,
            dedup_key=f"{kind}:{answer_key}",
        )

    async def raise_(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        raises: Sequence[Raise],
        *,
        checkin_id: int | None = None,
        tell_patient: bool = False,
    ) -> list[Alert]:
        """Raise alerts for one event; return the ones that are new (others existed).

        ``checkin_id``: the event is an answer the patient just gave (they are told when an
        URGENT one will be reviewed); ``tell_patient``: so is it, outside the daily check-in
        (a post-dose check or an optional item: bot.services.checkin.side_checks).
        """
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
                    "status": AlertStatus.OPEN,
                    "dedup_key": f"{item.rule}:{scope}{item.event_key}",
                    "event_key": item.event_key,
                    "created_at": now,
                    "after_hours": after_hours,
                    "details": dict(item.details) if item.details else None,
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
            head = announced[0]
            for alert in announced:
                alert.head_id = head.id
            tier = top_tier(announced)
            config = self.cohort_config(cohort)
            if config is not None:
                head.next_reraise_at = next_reraise(
                    tier, now, 0, config.reraise_minutes, config.coverage_hours
                )
            if tier is not Tier.ROUTINE and (checkin_id is not None or tell_patient):
                await self._tell_patient(
                    uow, now, cohort, patient, head=head, raises=raises, tier=tier
                )
            # In this transaction: a lone alert goes out as fast as before coalescing.
            await self.announcer.flush(uow, now, cohort, lone=True)
        return created

    async def _tell_patient(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        *,
        head: Alert,
        raises: Sequence[Raise],
        tier: Tier,
    ) -> None:
        """docs/clinical.md §3.2: URGENT, "your care team will review this by <time>" with the
        short crisis card; IMMEDIATE, the full crisis card at once. An answer whose rule shows
        a card (a safety answer, a medical red flag) has it already, and says when
        (``bot.services.alerts.crisis_card``). Every shipped IMMEDIATE rule has its card; the
        full card here is for one that does not (a clinic's own rule, a patient-level rule),
        so that no IMMEDIATE alert leaves the patient without the numbers."""
        carded = {r.id for r in self._rt.config.rules if r.crisis_card or r.emergency_card}
        if any(r.rule in carded for r in raises):
            return
        urgent = tier is Tier.URGENT
        await self._rt.outbound(uow, now).text_to_patient(
            patient,
            self.card(
                "crisis_card_short" if urgent else "crisis_card",
                cohort,
                patient,
                now,
                urgent=urgent,
            ),
            dedup_key=f"review:{head.id}",
        )
