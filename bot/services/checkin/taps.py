"""What a tap on a check-in message does: the answer stored, the next question shown in the
same message, Back, Skip, and the alerts an answer raises, all in the tap's transaction.

``bot.services.checkin.checkins`` opens check-ins and takes each tap in (whose check-in, in
which transaction); the rules that judge a tap are the pure state machine in
``bot.domain.checkin``. Messages go out through the transaction's ``Outbound``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.alert_details import answer_details
from bot.domain.alerts import Tier, Trigger, evaluate_answer
from bot.domain.callback_data import (
    AnswerButton,
    BackButton,
    DoneButton,
    ItemRef,
    SkipButton,
    ToggleButton,
)
from bot.domain.checkin import (
    CheckinStatus,
    Tap,
    TapVerdict,
    in_weekly_part,
    item_id_at,
    judge_back,
    judge_done,
    judge_skip,
    judge_tap,
    next_position,
    resume,
    standing,
    toggle,
    weekly_part_start,
)
from bot.domain.questionnaire import ItemKind, Questionnaire
from bot.services import views
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.checkin.history import PatientRules
from bot.services.outbound import Outbound
from bot.services.outbox import Keyboard
from bot.services.runtime import Runtime
from storage.models import Alert, Checkin, Patient
from storage.uow import UnitOfWork

REFUSALS = {
    TapVerdict.ALREADY_ANSWERED: "answer_already_recorded",
    TapVerdict.NEED_SELECTION: "checkin_need_selection",
    TapVerdict.SAFETY_NO_SKIP: "checkin_safety_no_skip",
}
"""The notice for each refused tap (any other refusal: ``button_refused``)."""

CheckinButton = AnswerButton | ToggleButton | DoneButton | BackButton | SkipButton


@dataclass(slots=True)
class Tapped:
    """Everything a tap needs, loaded once."""

    uow: UnitOfWork
    now: datetime
    out: Outbound
    checkin: Checkin
    patient: Patient
    questionnaire: Questionnaire
    answers: dict[str, str]
    message_id: int
    position: int
    """Where the check-in stands in its questionnaire as loaded now (``checkin.item``'s
    position: ``bot.domain.checkin.standing``)."""

    @property
    def locale(self) -> str:
        return self.patient.locale

    @property
    def weekly_part(self) -> bool:
        """Whether the tap is on the part asked in a message of its own."""
        status = CheckinStatus(self.checkin.status)
        return in_weekly_part(self.questionnaire, status, self.position)

    def move_to(self, position: int) -> None:
        """Ask the item at ``position`` next (past the end: nothing more), by its id."""
        self.position = position
        self.checkin.item = item_id_at(self.questionnaire, position)

    def asked(self, selected: frozenset[str] = frozenset()) -> tuple[str, Keyboard]:
        """The text and buttons that ask the current item."""
        return views.question(
            self.out.renderer,
            self.questionnaire,
            self.checkin.id,
            self.position,
            self.locale,
            self.answers,
            selected,
        )


async def position_of(
    uow: UnitOfWork,
    questionnaire: Questionnaire,
    checkin: Checkin,
    answers: Mapping[str, str] | None = None,
) -> int:
    """Where a check-in stands in its questionnaire as loaded now. Its answers (read here
    unless given) only count if its item is no longer there (``bot.domain.checkin.resume``)."""
    position = standing(questionnaire, checkin.item)
    if position is not None:
        return position
    if answers is None:
        answers = await uow.checkins.answers(checkin.id)
    return resume(questionnaire, answers)


def selected(checkin: Checkin, item: str | None) -> frozenset[str]:
    """The options ticked so far on a multi-select ``item`` (the check-in's current one)."""
    draft = checkin.draft or {}
    if item is None or draft.get("item") != item:
        return frozenset()
    return frozenset(str(v) for v in draft.get("selected", []))


class TapHandler:
    """Carries out a tap the state machine allows, escalating at once when an answer calls
    for it."""

    def __init__(self, runtime: Runtime, alerting: Alerting, patient_rules: PatientRules) -> None:
        self._rt = runtime
        self._alerting = alerting
        self._patient_rules = patient_rules

    def _render(self, name: str, locale: str) -> str:
        return self._rt.renderer.render(name, locale)

    async def tapped(
        self, uow: UnitOfWork, now: datetime, checkin: Checkin, patient: Patient, message_id: int
    ) -> Tapped:
        """Load what a tap (or a typed note) on a check-in needs."""
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        answers = await uow.checkins.answers(checkin.id)
        return Tapped(
            uow,
            now,
            self._rt.outbound(uow, now),
            checkin,
            patient,
            questionnaire,
            answers,
            message_id,
            await position_of(uow, questionnaire, checkin, answers),
        )

    async def load(
        self, uow: UnitOfWork, now: datetime, message_id: int, checkin: Checkin, patient: Patient
    ) -> Tapped | str:
        """Gather what a tap on this check-in needs, or return the notice that refuses it."""
        t = await self.tapped(uow, now, checkin, patient, message_id)
        if t.weekly_part:
            if message_id != checkin.message_id:
                # The finished daily message (or an earlier copy of this part): its
                # buttons belong to a message that is over.
                return self._render("checkin_stale", patient.locale)
            if now >= checkin.closes_at:
                await self._close_weekly_part(t)
                return self._render("checkin_closed", patient.locale)
        elif checkin.status != CheckinStatus.OPEN or now >= checkin.closes_at:
            return self._render("checkin_closed", patient.locale)
        return t

    async def _close_weekly_part(self, t: Tapped) -> None:
        """End a weekly part whose window has passed: its answers so far stay, its buttons go.

        The window scan only sees open check-ins, so this happens at the first tap after the
        window: the tap itself is refused, but the closing is committed here.
        """
        t.move_to(len(t.questionnaire.items))
        t.checkin.draft = None
        t.checkin.version += 1
        await t.out.edit_patient(t.patient, t.message_id, "instruments_closed")
        await t.uow.commit()
        self._rt.wake_delivery()

    async def handle(self, t: Tapped, button: CheckinButton) -> str | None:
        """Carry out a tap; return the notice that refuses it (None: done)."""
        match button:
            case AnswerButton(_, item, value):
                return await self._answer(t, item, value)
            case ToggleButton(_, item, value):
                return await self._toggle(t, item, value)
            case DoneButton(_, item):
                return await self._done(t, item)
            case BackButton(_, item):
                return await self._back(t, item)
            case SkipButton():
                return await self._skip(t)

    def _judge(self, t: Tapped, item: ItemRef, value: str) -> str | None:
        verdict = judge_tap(
            t.questionnaire,
            status=CheckinStatus(t.checkin.status),
            window_open=True,
            current_position=t.position,
            tap=Tap(t.checkin.id, item, value),
        )
        return self._refusal(verdict, t.locale)

    def _refusal(self, verdict: TapVerdict, locale: str) -> str | None:
        """The notice that answers a tap the check-in's rules refuse (None: go ahead)."""
        if verdict is TapVerdict.RECORD:
            return None
        return self._render(REFUSALS.get(verdict, "button_refused"), locale)

    async def _answer(self, t: Tapped, item: ItemRef, value: str) -> str | None:
        refusal = self._judge(t, item, value)
        if refusal is not None:
            return refusal
        if t.questionnaire.items[t.position].kind is ItemKind.MULTI:
            return self._render("button_refused", t.locale)
        return await self.record(t, value)

    async def _toggle(self, t: Tapped, item: ItemRef, value: str) -> str | None:
        refusal = self._judge(t, item, value)
        if refusal is not None:
            return refusal
        asked = t.questionnaire.items[t.position]
        if asked.kind is not ItemKind.MULTI:
            return self._render("button_refused", t.locale)
        ticked, answer = toggle(asked, set(selected(t.checkin, asked.id)), value)
        if answer is not None:
            return await self.record(t, answer)
        t.checkin.draft = {"item": asked.id, "selected": sorted(ticked)}
        await t.out.show_question(t.patient, t.message_id, t.asked(frozenset(ticked)))
        return None

    async def _done(self, t: Tapped, item: ItemRef) -> str | None:
        current = item_id_at(t.questionnaire, t.position)
        ticked = selected(t.checkin, current)
        verdict = judge_done(t.questionnaire, t.position, item, ticked)
        if verdict is not TapVerdict.RECORD:
            return self._refusal(verdict, t.locale)
        return await self.record(t, t.questionnaire.items[t.position].join(set(ticked)))

    async def _back(self, t: Tapped, item: ItemRef) -> str | None:
        step = judge_back(t.questionnaire, t.answers, t.position, item)
        if isinstance(step, TapVerdict):
            return self._refusal(step, t.locale)
        await t.uow.checkins.delete_answer(t.checkin.id, step.forget)
        t.answers.pop(step.forget, None)
        t.move_to(step.position)
        t.checkin.draft = None
        await t.out.show_question(t.patient, t.message_id, t.asked())
        return None

    async def _skip(self, t: Tapped) -> str | None:
        step = judge_skip(t.questionnaire, CheckinStatus(t.checkin.status), t.position)
        if isinstance(step, TapVerdict):
            return self._refusal(step, t.locale)
        t.checkin.draft = None
        if step.position is not None:
            t.move_to(step.position)
        if step.status is not None:
            t.checkin.status = step.status.value
            t.checkin.completed_at = t.now
        await t.out.edit_patient(
            t.patient,
            t.message_id,
            "checkin_skipped" if step.offers_weekly_part else "instruments_skipped",
        )
        if step.offers_weekly_part:
            await self._ask_weekly_part(t)
        return None

    async def _ask_weekly_part(self, t: Tapped) -> None:
        """Ask the weekly part, if the questionnaire has one, in a new message."""
        start = weekly_part_start(t.questionnaire, t.answers)
        if start is None:
            return
        t.move_to(start)
        t.checkin.message_id = None  # taps count once the new message is sent
        text, keyboard = t.asked()
        intro = self._render("instruments_intro", t.locale)
        await t.out.question(t.patient, t.checkin.id, (f"{intro}\n\n{text}", keyboard))

    async def record(self, t: Tapped, value: str) -> str | None:
        """Store the answer to the current item, escalate, and move on (or finish)."""
        item = t.questionnaire.items[t.position]
        if not await t.uow.checkins.add_answer(t.checkin.id, item.id, value, t.now):
            return self._render("answer_already_recorded", t.locale)
        t.answers[item.id] = value
        triggers = evaluate_answer(self._rt.config.rules, item.id, value)
        t.checkin.draft = None
        weekly = t.weekly_part
        upcoming = next_position(t.questionnaire, t.answers, t.position)
        stop = any(trigger.stop_checkin for trigger in triggers)
        finishing = upcoming is None or stop
        patient_level: list[Raise] = []
        if finishing:
            if not weekly:
                status = CheckinStatus.STOPPED if stop else CheckinStatus.COMPLETED
                t.checkin.status = status.value
                t.checkin.completed_at = t.now
            # The day's check-in (or its weekly part, with the instruments' rules) is over:
            # the patient-level rules see it now, and what they raise goes out with this
            # answer's alerts as one group message.
            patient_level = await self._patient_rules.due(t.uow, t.now, t.patient)
        created = await self._escalate(t, item.id, triggers, patient_level)
        if not finishing:
            assert upcoming is not None  # noqa: S101 - not finishing
            t.move_to(upcoming)
            await t.out.show_question(t.patient, t.message_id, t.asked())
            return None
        t.move_to(len(t.questionnaire.items))
        # Only what reaches the group counts: ROUTINE rows wait for the digest, and telling
        # the patient "your team has been notified" would not be true (docs/clinical.md §3.3).
        cohort = await t.uow.cohorts.get(t.patient.cohort_id)  # in the session already
        notified = (
            cohort is not None
            and self._alerting.team_can_be_told(cohort)
            and (
                any(trigger.tier is not Tier.ROUTINE for trigger in triggers)
                or any(alert.head_id is not None for alert in created)
                or await t.uow.alerts.announced_for_checkin(t.checkin.id)
            )
        )
        done = "instruments_done" if weekly else "checkin_done"
        await t.out.edit_patient(
            t.patient, t.message_id, f"{done}_team_notified" if notified else done
        )
        if not weekly and not stop:
            await self._ask_weekly_part(t)
        return None

    async def _escalate(
        self, t: Tapped, item: str, triggers: list[Trigger], patient_level: list[Raise]
    ) -> list[Alert]:
        """Write alerts and queue the patient's card and the provider-group message.

        The card is queued first and at the top priority, so it reaches the patient before
        anything else this answer causes. Outside the cohort's coverage hours the card says
        that nobody is watching now. Patient-level alerts (``patient_level``) show no card.
        """
        if not triggers and not patient_level:
            return []
        cohort = await t.uow.cohorts.get(t.patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        await self._alerting.queue_card(
            t.uow, t.now, cohort, t.patient, triggers, answer_key=f"{t.checkin.id}:{item}"
        )
        return await self._alerting.raise_(
            t.uow,
            t.now,
            cohort,
            t.patient,
            [
                # A ROUTINE answer ("prefer not to answer") is stored for the digest, /alerts
                # and /patient, not posted (docs/clinical.md §3.2, ROUTINE row).
                Raise(
                    tr.rule_id,
                    tr.tier,
                    f"checkin:{t.checkin.id}",
                    details=answer_details(tr.item, tr.value),
                    announce=tr.tier is not Tier.ROUTINE,
                )
                for tr in triggers
            ]
            + patient_level,
            checkin_id=t.checkin.id,
        )
