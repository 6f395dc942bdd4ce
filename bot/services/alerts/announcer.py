"""Posting alert events to the provider group within its 20 messages a minute.

An event (the alerts one answer, message or check-in raised) waits until the group has room:
its head alert has ``head_id`` set and no ``group_message_id``. A flush takes a cohort's
waiting events, IMMEDIATE first then oldest, and posts them: one message per event when this
minute's budget allows, otherwise several events share a message (one row of buttons per
event) and what still does not fit waits for the next flush. Nothing is dropped. The raising
transaction flushes a lone event at once; during a burst the periodic flush (every few
seconds, ``bot.app``) packs what waits.

The budget is a share of Telegram's 20 (``share``, 16 by default, leaving room for the
edits that acknowledgements cause and for re-raises) minus the group's alert messages that
are waiting or were sent in the last 60 s (inclusive), by the injected clock, and minus the
group's other messages (command replies, notices, digests) up to their part of the minute:
those never take the last ``ALERT_RESERVE`` places (``bot.domain.alert_layout.group_budget``).
Of the alerts' places, ``reserve`` are for messages with an IMMEDIATE event, so a burst of
URGENT ones never makes an IMMEDIATE one wait a minute. The budget is soft (two transactions
may both see room); the delivery worker's rate limiter stays the hard guard.

Which messages show which events is recorded in ``alert_posts`` (step 0 the announcement,
n the n-th re-raise): a press is checked against it, and an edit re-renders every event a
message shows, each with its own status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.cohort_config import CohortConfig, CoverageConfig
from bot.config import ConfigError
from bot.domain.alert_layout import (
    TELEGRAM_TEXT_LIMIT,
    event_order,
    group_budget,
    pack,
    review_by,
)
from bot.domain.alerts import Tier, top_priority_rules
from bot.domain.callback_data import AlertButton, FollowUpButton, encode
from bot.domain.schedule import zone_or_error
from bot.services.alerts.alert_text import AlertText
from bot.services.outbox import Keyboard, OnSent, Priority, alert_priority
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
"""Telegram's window for a group's 20 messages."""
MAX_NAME = 64
"""Telegram's longest first name: what a provider's name can add to a message."""


@dataclass(slots=True)
class Event:
    """One alert event as group messages show it: its alerts (head first) and its patient."""

    alerts: list[Alert]
    label: str
    step: int = 0
    """For a re-raise: which one (1 is the first)."""
    minutes: int | None = field(default=None)
    """For a re-raise: minutes since the event (None: the business day is ending)."""

    @property
    def head(self) -> Alert:
        """The event's head alert (the most urgent; its id is on the buttons)."""
        return self.alerts[0]

    @property
    def tier(self) -> Tier:
        """The event's most urgent tier."""
        return min((Tier(a.tier) for a in self.alerts), key=lambda t: t.rank)

    top: bool = False
    """Holds an alert of a top-priority rule (``ItemRule.top_priority``)."""
    follow_ups: frozenset[str] = frozenset()
    """Follow-up actions recorded on the event (``alert_follow_ups``)."""

    def order(self) -> tuple[int, bool, datetime, int]:
        """Sort key: IMMEDIATE first, then top priority, then oldest."""
        return event_order(self.tier, self.head.created_at, self.head.id, top=self.top)


class Announcer:
    """Queues the group messages of alert events, coalesced within the group's budget."""

    def __init__(
        self, runtime: Runtime, *, share: int = 16, reserve: int = 4, max_events: int = 10
    ) -> None:
        if not 0 <= reserve <= share:
            raise ValueError("reserve must be between 0 and share")
        self._rt = runtime
        self._text = AlertText(runtime)
        self.share = share
        self.reserve = reserve
        self.max_events = max_events
        """Events in one message: one row of two buttons each keeps the keyboard usable."""
        self._top_rules = top_priority_rules(runtime.config.rules)

    # --- the cohort's settings, as group messages show them ---------------------------------

    def cohort_config(self, cohort: Cohort) -> CohortConfig | None:
        """Return a cohort's configuration (None if it left the file since it was synced)."""
        try:
            return self._rt.config.cohort(cohort.name)
        except ConfigError:
            return None

    def local_time(self, cohort: Cohort, instant: datetime) -> str:
        """Format an instant in the cohort's time zone, as group messages show it."""
        return instant.astimezone(zone_or_error(cohort.timezone)).strftime("%Y-%m-%d %H:%M %Z")

    def review_time(self, cohort: Cohort, raised_at: datetime) -> datetime:
        """Return when an URGENT event raised at ``raised_at`` should have been reviewed."""
        config = self.cohort_config(cohort)
        return review_by(raised_at, None if config is None else config.coverage_hours)

    # --- flushing waiting events ----------------------------------------------------------

    async def flush(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, *, lone: bool = False
    ) -> int:
        """Post what the group's budget allows of a cohort's waiting events, in the caller's
        transaction; return how many events were posted.

        ``lone`` (the raising transaction): post only if no other event is waiting. A lone
        alert then goes out at once, as if nothing were coalesced; during a burst, posting
        each new event alone would spend the minute's budget one event a message, so they
        are left to the periodic flush, which packs them (IMMEDIATE first) a few seconds on.
        """
        alerts_used, routine_used = await uow.outbox.group_usage(
            cohort.provider_chat_id, now - WINDOW, alert_priority=int(Priority.INTERACTIVE)
        )
        if cohort.group_unreachable_since is not None:
            # Its held messages are not using the minute; the events must be queued to
            # reach the on-call providers (bot.services.provider.provider_channel).
            alerts_used = routine_used = 0
        budget = group_budget(
            share=self.share,
            reserve=self.reserve,
            alerts_used=alerts_used,
            routine_used=routine_used,
        )
        if budget.total <= 0:
            return 0
        heads = await uow.alerts.waiting(cohort.id, budget.total * self.max_events)
        if not heads or (lone and len(heads) > 1):
            return 0
        events = await self.events(uow, [h.id for h in heads])
        messages = pack(
            events,
            budget=budget,
            immediate=lambda e: e.tier is Tier.IMMEDIATE or e.top,
            fits=lambda group: self._fits(cohort, group),
        )
        for message in messages:
            await self._announce(uow, now, cohort, message)
        return sum(len(m) for m in messages)

    async def flush_all(self, now: datetime | None = None) -> int:
        """Flush every cohort that has waiting events (the periodic job); return how many
        events were posted."""
        now = now or self._rt.clock.now()
        posted = 0
        async with self._rt.uow() as uow:
            cohort_ids = await uow.alerts.cohorts_waiting()
        for cohort_id in cohort_ids:
            async with self._rt.uow() as uow:
                cohort = await uow.cohorts.get(cohort_id)
                if cohort is None:
                    continue
                count = await self.flush(uow, now, cohort)
                await uow.commit()
            posted += count
        if posted:
            logger.info("announced %d waiting alert events", posted)
            self._rt.wake_delivery()
        return posted

    def _fits(self, cohort: Cohort, events: Sequence[Event]) -> bool:
        if len(events) > self.max_events:
            return False
        text = self.announcement_text(cohort, events, worst_case=True)
        return len(text) <= TELEGRAM_TEXT_LIMIT

    async def _announce(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, events: Sequence[Event]
    ) -> None:
        first = events[0].head
        for event in events:
            for alert in event.alerts:
                # Provisional until sent: the delivery worker swaps in the Telegram id.
                alert.group_message_id = -first.id
        dedup_key = f"alert:{first.id}"
        await self._rt.outbound(uow, now).text_to_group(
            cohort,
            self.announcement_text(cohort, events),
            # A top-priority URGENT event goes out with the IMMEDIATE ones.
            priority=(
                Priority.CRISIS
                if any(e.top for e in events)
                else alert_priority(min((e.tier for e in events), key=lambda t: t.rank))
            ),
            keyboard=self.keyboard(cohort, events),
            dedup_key=dedup_key,
            on_sent=OnSent.ALERT_MESSAGE,
            ref_id=first.id,
        )
        outbox_id = await uow.outbox.queued_id(dedup_key)
        assert outbox_id is not None  # noqa: S101 - just queued, or queued before
        await uow.alerts.add_posts([(e.head.id, 0, outbox_id) for e in events])

    # --- loading and rendering ------------------------------------------------------------

    async def events(self, uow: UnitOfWork, head_ids: Sequence[int]) -> list[Event]:
        """Return events by head id, in message order (IMMEDIATE first, then oldest).

        An event whose alerts are gone (the patient's data was deleted) is left out.
        """
        by_head: dict[int, list[Alert]] = {}
        for alert in await uow.alerts.of_events(head_ids):
            assert alert.head_id is not None  # noqa: S101 - selected by head_id
            by_head.setdefault(alert.head_id, []).append(alert)
        labels: dict[int, str] = {}
        events: list[Event] = []
        done = await uow.team.follow_ups(list(by_head))
        for head_id, alerts in by_head.items():
            alerts.sort(key=lambda a: a.id != head_id)  # the head first, the rest by id
            # An erased patient's alerts have no patient (storage.erasure): "?" as for a
            # patient row that is gone.
            patient_id = alerts[0].patient_id or 0
            if patient_id not in labels:
                patient = await uow.patients.get(patient_id) if patient_id else None
                labels[patient_id] = patient.label if patient is not None else "?"
            top = any(a.rule in self._top_rules for a in alerts)
            follow_ups = frozenset(done.get(head_id, ()))
            events.append(Event(alerts, labels[patient_id], top=top, follow_ups=follow_ups))
        return sorted(events, key=Event.order)

    def _values(self, cohort: Cohort, event: Event, *, worst_case: bool) -> dict[str, object]:
        """Template values of one event: what it is, and who acted on it.

        ``worst_case``: as if resolved by someone with the longest first name Telegram allows,
        so a message packed to fit still fits when its edits add who acted.
        """
        head = event.head
        if worst_case:
            at = self.local_time(cohort, head.created_at)
            return {
                **self._values(cohort, event, worst_case=False),
                "resolved_by": "W" * MAX_NAME,
                "resolved_at": at,
                "acknowledged_by": "W" * MAX_NAME,
                "acknowledged_at": at,
            }
        tier = event.tier
        review = None
        if tier is Tier.URGENT:
            review = self.local_time(cohort, self.review_time(cohort, head.created_at))
        return {
            "tier": tier.value,
            "top_priority": event.top,
            "label": event.label,
            "rules": [self._text.view(a.rule, a.details, cohort.locale) for a in event.alerts],
            "time": self.local_time(cohort, head.created_at),
            "review_by": review,
            "after_hours": any(a.after_hours for a in event.alerts),
            "minutes": event.minutes,
            "acknowledged_by": head.acknowledged_by_name if head.acknowledged_at else None,
            "acknowledged_at": (
                self.local_time(cohort, head.acknowledged_at) if head.acknowledged_at else None
            ),
            "resolved_by": head.resolved_by_name if head.resolved_at else None,
            "resolved_at": (
                self.local_time(cohort, head.resolved_at) if head.resolved_at else None
            ),
        }

    def announcement_text(
        self, cohort: Cohort, events: Sequence[Event], *, worst_case: bool = False
    ) -> str:
        """Render an announcement: one event as it always looked, several as one list."""
        render = self._rt.renderer.render
        if len(events) > 1:
            listed = [self._values(cohort, e, worst_case=worst_case) for e in events]
            return render("alert_group", cohort.locale, events=listed)
        values = self._values(cohort, events[0], worst_case=worst_case)
        config = self.cohort_config(cohort)
        coverage = None if config is None else config.coverage
        if not isinstance(coverage, CoverageConfig):  # "24/7": the team is never away
            coverage = None
        return render(
            "alert_group",
            cohort.locale,
            coverage_days=list(coverage.days) if coverage else [],
            coverage_start=coverage.start if coverage else "",
            coverage_end=coverage.end if coverage else "",
            **values,
        )

    def reraise_text(
        self,
        cohort: Cohort,
        events: Sequence[Event],
        on_call: list[str],
        *,
        worst_case: bool = False,
    ) -> str:
        """Render a re-raise: one event as it always looked, several as one list."""
        render = self._rt.renderer.render
        if len(events) > 1:
            listed = [self._values(cohort, e, worst_case=worst_case) for e in events]
            return render("alert_reraise", cohort.locale, events=listed, on_call=on_call)
        values = self._values(cohort, events[0], worst_case=worst_case)
        return render("alert_reraise", cohort.locale, on_call=on_call, **values)

    def keyboard(self, cohort: Cohort, events: Sequence[Event]) -> Keyboard | None:
        """Return a message's buttons: for one event Acknowledge and Resolve (only Resolve
        once acknowledged); for several, one row per event with its label; none for events
        resolved, and no keyboard once all are. An acknowledged IMMEDIATE or URGENT event
        also offers the cohort's follow-up actions (ticked once recorded): they ride on the
        redraw that acknowledging makes, never on a message of their own."""
        render = self._rt.renderer.render
        shared = len(events) > 1
        config = self.cohort_config(cohort)
        actions = config.follow_up_actions if config is not None else ()
        rows: Keyboard = []
        for event in events:
            head = event.head
            if head.resolved_at is not None:
                continue
            named = {"label": event.label} if shared else {}
            row = []
            if head.acknowledged_at is None:
                row.append(
                    {
                        "text": render("button_alert_ack", cohort.locale, **named),
                        "callback_data": encode(AlertButton(head.id, "ack")),
                    }
                )
            row.append(
                {
                    "text": render("button_alert_res", cohort.locale, **named),
                    "callback_data": encode(AlertButton(head.id, "res")),
                }
            )
            rows.append(row)
            if head.acknowledged_at is not None and event.tier is not Tier.ROUTINE:
                rows.extend(self._follow_up_rows(cohort, event, actions, named))
        return rows or None

    def _follow_up_rows(
        self, cohort: Cohort, event: Event, actions: Sequence[str], named: dict[str, str]
    ) -> Keyboard:
        """The follow-up buttons of one event, two to a row."""
        names = self._rt.config.follow_ups
        buttons = [
            {
                "text": self._rt.renderer.render(
                    "button_follow_up",
                    cohort.locale,
                    action=names[action].get(cohort.locale) or names[action]["en"],
                    done=action in event.follow_ups,
                    **named,
                ),
                "callback_data": encode(FollowUpButton(event.head.id, action)),
            }
            for action in actions
            if action in names
        ]
        return [buttons[n : n + 2] for n in range(0, len(buttons), 2)]
