"""Side checks: the post-dose check and the optional items, asked apart from the daily
check-in (opened by ``bot.services.checkin.side_check_scan``; docs/clinical.md §1.2, §1.3).

One message per check, edited in place as the patient taps (a multi-select shows its ticks
and Done). The home blood-pressure item is typed ("145/92", "145 92"); a text that is not a
plausible reading gets a clear answer and the question stays open. Every answer runs through
the same item-level rules as the daily check-in (``prompts/rules.yaml``): a red flag shows the
medical emergency card at once and raises an IMMEDIATE alert under the patient's label.

The bot never tells the patient to take, delay or skip a dose: it asks and records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.alert_details import answer_details
from bot.domain.alerts import Tier, Trigger, evaluate_answer
from bot.domain.blood_pressure import parse_reading
from bot.domain.callback_data import SideButton, encode
from bot.domain.questionnaire import Item, ItemKind, Questionnaire
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import Keyboard
from bot.services.runtime import Runtime
from bot.services.views import TICK
from storage.models import Patient, SideCheck
from storage.statuses import LEFT
from storage.uow import UnitOfWork

QUESTIONNAIRES = {"post_dose": "post_dose", "optional": "optional_items"}
"""Which questionnaire file holds the items of each kind of side check. A post-dose check
may also ask the home blood pressure, which lives with the optional items."""


@dataclass(slots=True)
class _Answering:
    """One answer being recorded: where it goes and who gave it."""

    uow: UnitOfWork
    now: datetime
    check: SideCheck
    patient: Patient
    message_id: int | None
    """The tapped message (edited in place); None for a typed answer (a new message)."""


class SideCheckService:
    """Taps and typed readings on side checks."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._alerting = alerting

    # --- what a check asks ---------------------------------------------------------------

    def item(self, check: SideCheck, position: int) -> Item:
        """Return the item a check asks at a position."""
        item_id = check.items["ids"][position]
        for name in (QUESTIONNAIRES[check.kind], "optional_items"):
            questionnaire: Questionnaire = self._rt.config.questionnaires[name]
            if any(i.id == item_id for i in questionnaire.items):
                return questionnaire.items[questionnaire.position(item_id)]
        raise KeyError(item_id)

    def next_position(self, check: SideCheck, answers: dict[str, str], after: int) -> int | None:
        """Return the next position to ask after ``after`` (-1: the first), skipping items
        whose condition does not hold; None when the check is done."""
        ids = check.items["ids"]
        for position in range(after + 1, len(ids)):
            condition = self.item(check, position).show_if
            if condition is None or condition.holds(answers):
                return position
        return None

    def question(
        self, check: SideCheck, locale: str, selected: frozenset[str] = frozenset()
    ) -> tuple[str, Keyboard]:
        """Return the text and buttons that ask a check's current item."""
        item = self.item(check, check.position)
        text = self._rt.renderer.render(
            "side_check_question", locale, kind=check.kind, question=item.text(locale)
        )
        multi = item.kind is ItemKind.MULTI
        rows: Keyboard = []
        for row in item.keyboard_rows():
            buttons = []
            for option in row:
                label = option.label(locale)
                action = "t" if multi else "a"
                if multi and option.value in selected:
                    label = TICK + label
                button = SideButton(check.id, check.position, action, option.value)
                buttons.append({"text": label, "callback_data": encode(button)})
            rows.append(buttons)
        if multi:
            done = SideButton(check.id, check.position, "d", "")
            rows.append(
                [
                    {
                        "text": self._rt.renderer.render("button_done", locale),
                        "callback_data": encode(done),
                    }
                ]
            )
        return text, rows

    # --- taps ----------------------------------------------------------------------------

    async def tap(
        self, update_id: int, user_id: int, message_id: int, button: SideButton
    ) -> str | None:
        """Handle a tap on a side check's button; return a short notice, if any (a refused
        tap writes nothing: ``bot.services.envelope``)."""

        async def tap(uow: UnitOfWork, now: datetime) -> None:
            check = await uow.side_checks.get(button.check_id)
            patient = None if check is None else await uow.patients.get(check.patient_id)
            if check is None or patient is None or patient.telegram_user_id != user_id:
                raise Refuse(self._rt.renderer.render("button_refused", "en"))
            if check.status != "open" or now >= check.closes_at or patient.status in LEFT:
                raise Refuse(self._rt.renderer.render("side_check_closed", patient.locale))
            if button.position != check.position:
                raise Refuse(self._rt.renderer.render("answer_already_recorded", patient.locale))
            notice = await self._tapped(_Answering(uow, now, check, patient, message_id), button)
            if notice is not None:
                raise Refuse(notice)

        return await in_update(self._rt, update_id, tap)

    async def _tapped(self, a: _Answering, button: SideButton) -> str | None:
        item = self.item(a.check, a.check.position)
        locale = a.patient.locale
        if item.kind is ItemKind.MULTI and button.action in {"t", "d"}:
            selected = set((a.check.draft or {}).get("selected", []))
            if button.action == "d":
                if not selected:
                    return self._rt.renderer.render("checkin_need_selection", locale)
                await self._record(a, item, item.join(selected))
                return None
            if not item.accepts(button.value):
                return self._rt.renderer.render("button_refused", locale)
            if button.value == item.none_value:
                await self._record(a, item, button.value)
                return None
            selected ^= {button.value}
            a.check.draft = {"selected": sorted(selected)}
            await self._show(a, frozenset(selected))
            return None
        if button.action != "a" or not item.accepts(button.value):
            return self._rt.renderer.render("button_refused", locale)
        await self._record(a, item, button.value)
        return None

    # --- typed readings ------------------------------------------------------------------

    async def reading_target(
        self, uow: UnitOfWork, now: datetime, patient: Patient
    ) -> SideCheck | None:
        """Return the patient's open side check that waits for a typed reading, if any."""
        for check in await uow.side_checks.open_of(patient.id, now):
            if self.item(check, check.position).kind is ItemKind.READING:
                return check
        return None

    async def typed_reading(
        self, uow: UnitOfWork, now: datetime, patient: Patient, check: SideCheck, text: str
    ) -> None:
        """Record a typed blood-pressure reading, or say clearly how to type one (the
        question stays open: nothing is lost)."""
        reading = parse_reading(text)
        if reading is None:
            await self._rt.outbound(uow, now).to_patient(patient, "reading_not_understood")
            return
        item = self.item(check, check.position)
        await self._record(_Answering(uow, now, check, patient, None), item, reading.stored)

    # --- recording and escalating --------------------------------------------------------

    async def _record(self, a: _Answering, item: Item, value: str) -> None:
        """Store an answer, run the rules on it, and ask the next item (or finish)."""
        answers = dict(a.check.answers)
        answers[item.id] = value
        a.check.answers = answers  # a new dict: the JSON column sees the change
        a.check.draft = None
        triggers = evaluate_answer(self._rt.config.rules, item.id, value)
        await self._escalate(a, triggers)
        stop = any(trigger.stop_checkin for trigger in triggers)
        upcoming = None if stop else self.next_position(a.check, answers, a.check.position)
        if upcoming is not None:
            a.check.position = upcoming
            await self._show(a)
            return
        a.check.status = "stopped" if stop else "answered"
        a.check.completed_at = a.now
        a.check.position = len(a.check.items["ids"])
        cohort = await a.uow.cohorts.get(a.patient.cohort_id)
        notified = (
            cohort is not None
            and self._alerting.team_can_be_told(cohort)
            and await a.uow.alerts.announced_for_event(_event_key(a.check))
        )
        text = self._rt.renderer.render(
            "side_check_done", a.patient.locale, kind=a.check.kind, team_notified=notified
        )
        await self._say(a, text, None)

    async def _show(self, a: _Answering, selected: frozenset[str] = frozenset()) -> None:
        text, keyboard = self.question(a.check, a.patient.locale, selected)
        await self._say(a, text, keyboard)

    async def _say(self, a: _Answering, text: str, keyboard: Keyboard | None) -> None:
        """Edit the tapped message, or (after a typed answer) send a new one."""
        out = self._rt.outbound(a.uow, a.now)
        if a.message_id is not None:
            await out.edit_patient_text(a.patient, a.message_id, text, keyboard=keyboard)
        else:
            await out.text_to_patient(a.patient, text, keyboard=keyboard)

    async def _escalate(self, a: _Answering, triggers: list[Trigger]) -> None:
        """Queue the card first (top priority), then raise the alerts as one event."""
        if not triggers:
            return
        cohort = await a.uow.cohorts.get(a.patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        await self._alerting.queue_card(
            a.uow,
            a.now,
            cohort,
            a.patient,
            triggers,
            answer_key=f"side:{a.check.id}:{a.check.position}",
        )
        await self._alerting.raise_(
            a.uow,
            a.now,
            cohort,
            a.patient,
            [
                Raise(
                    trigger.rule_id,
                    trigger.tier,
                    _event_key(a.check),
                    details=answer_details(trigger.item, trigger.value),
                    announce=trigger.tier is not Tier.ROUTINE,
                )
                for trigger in triggers
            ],
            tell_patient=True,
        )


def _event_key(check: SideCheck) -> str:
    """The event an answer of a side check raises its alerts about (one per check)."""
    return f"side:{check.id}"
