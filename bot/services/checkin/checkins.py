"""The daily check-in: opening it (on demand or when due), and handling every tap on it.

One message per check-in is edited in place as the patient taps. A tap is judged by the pure
state machine in ``bot.domain.checkin``; this service loads the state, stores the outcome and
queues what the patient and the care team should see, all in one transaction.

A cohort may ask its weekly instruments in a message of their own (``instrument_delivery =
"own_message"``): the check-in row then carries both parts. The daily part ends as any day does
(completed, rules run, thank-you); the row's status says so, while ``position`` moves on into
the weekly part, which a new message asks. ``message_id`` follows it there, so the finished
daily message's buttons are stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.alert_details import answer_details
from bot.domain.alerts import Tier, Trigger, evaluate_answer
from bot.domain.callback_data import (
    AnswerButton,
    BackButton,
    DoneButton,
    SkipButton,
    ToggleButton,
)
from bot.domain.checkin import (
    CheckinStatus,
    Tap,
    TapVerdict,
    accepts_taps,
    first_position,
    in_weekly_part,
    item_at,
    judge_back,
    judge_done,
    judge_skip,
    judge_tap,
    next_position,
    toggle,
    weekly_part_start,
)
from bot.domain.lifecycle import PatientStatus
from bot.domain.questionnaire import NOTE_PREFIX, ItemKind, Questionnaire
from bot.domain.schedule import local_date, parse_hhmm, window_close, zone_or_error
from bot.services import views
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.checkin.day_questionnaire import questionnaire_for_day
from bot.services.checkin.history import PatientRules
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import OnSent, Priority, queue_edit, queue_send, reply_priority
from bot.services.patient.reachability import Reachability
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
class _Tapped:
    """Everything a tap needs, loaded once."""

    uow: UnitOfWork
    now: datetime
    checkin: Checkin
    patient: Patient
    questionnaire: Questionnaire
    answers: dict[str, str]
    message_id: int

    @property
    def locale(self) -> str:
        return self.patient.locale

    @property
    def weekly_part(self) -> bool:
        """Whether the tap is on the part asked in a message of its own."""
        return in_weekly_part(
            self.questionnaire, CheckinStatus(self.checkin.status), self.checkin.position
        )


class CheckinService:
    """Opens check-ins and handles taps, escalating at once when an answer calls for it."""

    def __init__(
        self,
        runtime: Runtime,
        alerting: Alerting,
        patient_rules: PatientRules,
        reachability: Reachability,
    ) -> None:
        self._rt = runtime
        self._alerting = alerting
        self._patient_rules = patient_rules
        self._reachability = reachability

    def _render(self, name: str, locale: str, **values: object) -> str:
        return self._rt.renderer.render(name, locale, **values)

    # --- opening -----------------------------------------------------------------------

    async def open_today(self, update_id: int, user_id: int, chat_id: int) -> None:
        """Handle /checkin: start today's check-in, or show where it stands."""

        async def open_today(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status != PatientStatus.ACTIVE:
                reply, values = _inactive_reply(patient)
                locale = patient.locale if patient is not None else "en"
                await queue_send(
                    uow,
                    now=now,
                    chat_id=chat_id,
                    priority=reply_priority(chat_id, enrolled=patient is not None),
                    text=self._render(reply, locale, **values),
                )
            else:
                day = local_date(now, zone_or_error(patient.timezone))
                checkin, _ = await self.open_for(uow, patient, day, now)
                if self._answering(checkin, now):
                    await self.ask_anew(uow, now, patient, checkin, priority=Priority.INTERACTIVE)
                else:
                    await queue_send(
                        uow,
                        now=now,
                        chat_id=patient.chat_id,
                        priority=Priority.INTERACTIVE,
                        text=self._render("checkin_already_done", patient.locale),
                    )

        await in_update(self._rt, update_id, open_today)

    def _answering(self, checkin: Checkin, now: datetime) -> bool:
        """Whether a check-in still takes answers: its daily part, or the weekly part."""
        if checkin.status == CheckinStatus.OPEN:
            return True  # the window scan closes it; until then /checkin asks again
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        status = CheckinStatus(checkin.status)
        return now < checkin.closes_at and accepts_taps(questionnaire, status, checkin.position)

    async def open_for(
        self, uow: UnitOfWork, patient: Patient, day: date, now: datetime
    ) -> tuple[Checkin, bool]:
        """Return the patient's check-in for a local date, creating it if needed."""
        zone = zone_or_error(patient.timezone)
        cohort = await uow.cohorts.get(patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        questionnaire_key = questionnaire_for_day(self._rt.config, cohort, patient, day)
        questionnaire = self._rt.config.questionnaires[questionnaire_key]
        return await uow.checkins.open_for_day(
            {
                "patient_id": patient.id,
                "local_date": day,
                "timezone": patient.timezone,
                "questionnaire": questionnaire_key,
                "status": CheckinStatus.OPEN.value,
                "position": first_position(questionnaire),
                "opened_at": now,
                "closes_at": window_close(
                    day, parse_hhmm(patient.checkin_time), zone, cohort.checkin_window_hours
                ),
                "version": 0,
            }
        )

    async def ask_anew(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        *,
        priority: Priority,
        intro: str | None = None,
    ) -> None:
        """Ask the current item in a new message at the bottom of the chat (/checkin again,
        or a reminder); the old message's buttons are retired so only one stays live."""
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        weekly = in_weekly_part(questionnaire, CheckinStatus(checkin.status), checkin.position)
        if checkin.message_id is not None:
            await queue_edit(
                uow,
                now=now,
                chat_id=patient.chat_id,
                message_id=checkin.message_id,
                text=self._render(
                    "instruments_moved" if weekly else "checkin_moved", patient.locale
                ),
                priority=priority,
                patient_id=patient.id,
            )
        if weekly:
            # The weekly part takes taps from its current message only; the new one's id
            # comes when it is sent.
            checkin.message_id = None
        answers = await uow.checkins.answers(checkin.id)
        selected = _selected(checkin)
        text, keyboard = views.question(
            self._rt.renderer,
            questionnaire,
            checkin.id,
            checkin.position,
            patient.locale,
            answers,
            selected,
        )
        if intro is not None:
            text = f"{intro}\n\n{text}"
        await queue_send(
            uow,
            now=now,
            chat_id=patient.chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            on_sent=OnSent.CHECKIN_MESSAGE,
            ref_id=checkin.id,
            patient_id=patient.id,
        )

    # --- typed notes ---------------------------------------------------------------------

    async def note_target(
        self, uow: UnitOfWork, now: datetime, patient: Patient
    ) -> Checkin | None:
        """Return today's open check-in if it is waiting for a typed note, else None."""
        day = local_date(now, zone_or_error(patient.timezone))
        checkin = await uow.checkins.for_day(patient.id, day)
        if checkin is None or checkin.status != CheckinStatus.OPEN or now >= checkin.closes_at:
            return None
        item = item_at(self._rt.config.questionnaires[checkin.questionnaire], checkin.position)
        if item is None or item.kind is not ItemKind.NOTE or checkin.message_id is None:
            return None
        return checkin

    async def record_note(
        self, uow: UnitOfWork, now: datetime, patient: Patient, checkin: Checkin, message_id: int
    ) -> None:
        """Answer the note item with a stored patient message, and move on in the check-in."""
        assert checkin.message_id is not None  # noqa: S101 - note_target checked it
        tapped = _Tapped(
            uow,
            now,
            checkin,
            patient,
            self._rt.config.questionnaires[checkin.questionnaire],
            await uow.checkins.answers(checkin.id),
            checkin.message_id,
        )
        await self._record(tapped, f"{NOTE_PREFIX}{message_id}")
        checkin.version += 1

    # --- taps ----------------------------------------------------------------------------

    async def tap(
        self, update_id: int, user_id: int, message_id: int, button: CheckinButton
    ) -> str | None:
        """Handle a tap on a check-in button; return a short notice for the tapper, if any.

        The tap also tells that the patient is there (``Reachability.seen``, which the
        handlers run for every other private update): the tapped check-in's patient is
        loaded anyway, so only a tapper who is not that patient, or who was unreachable,
        costs a separate check (after this transaction, as for any other update).
        """
        notice, look = await self._tap(update_id, user_id, message_id, button)
        if look:
            await self._reachability.seen(user_id)
        return notice

    async def _tap(
        self, update_id: int, user_id: int, message_id: int, button: CheckinButton
    ) -> tuple[str | None, bool]:
        """The tap's transaction: (notice, whether reachability needs a separate check)."""
        look = False

        async def tap(uow: UnitOfWork, now: datetime) -> None:
            nonlocal look
            found = await uow.checkins.with_patient(button.checkin_id)
            if found is None or found[1].telegram_user_id != user_id:
                # Someone else's check-in, or an id we never issued: store nothing at all.
                look = True
                raise Refuse(self._render("button_refused", "en"))
            look = found[1].status == PatientStatus.UNREACHABLE
            loaded = await self._load(uow, now, message_id, *found)
            if isinstance(loaded, str):
                raise Refuse(loaded)
            # Bumped before anything is queued, so that the check-in's row is written once (a
            # refused tap rolls it back with everything else).
            loaded.checkin.version += 1
            match button:
                case AnswerButton(_, position, value):
                    notice = await self._answer(loaded, position, value)
                case ToggleButton(_, position, value):
                    notice = await self._toggle(loaded, position, value)
                case DoneButton(_, position):
                    notice = await self._done(loaded, position)
                case BackButton(_, position):
                    notice = await self._back(loaded, position)
                case SkipButton():
                    notice = await self._skip(loaded)
            if notice is not None:
                raise Refuse(notice)
            await uow.checkins.write_tapped(loaded.checkin)

        notice = await in_update(self._rt, update_id, tap)
        return notice, look

    async def _load(
        self, uow: UnitOfWork, now: datetime, message_id: int, checkin: Checkin, patient: Patient
    ) -> _Tapped | str:
        """Gather what a tap on this check-in needs, or return the notice that refuses it."""
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        status = CheckinStatus(checkin.status)
        if in_weekly_part(questionnaire, status, checkin.position):
            if message_id != checkin.message_id:
                # The finished daily message (or an earlier copy of this part): its
                # buttons belong to a message that is over.
                return self._render("checkin_stale", patient.locale)
            if now >= checkin.closes_at:
                await self._close_weekly_part(uow, now, patient, checkin, message_id)
                return self._render("checkin_closed", patient.locale)
        elif checkin.status != CheckinStatus.OPEN or now >= checkin.closes_at:
            return self._render("checkin_closed", patient.locale)
        return _Tapped(
            uow,
            now,
            checkin,
            patient,
            questionnaire,
            await uow.checkins.answers(checkin.id),
            message_id,
        )

    async def _close_weekly_part(
        self, uow: UnitOfWork, now: datetime, patient: Patient, checkin: Checkin, message_id: int
    ) -> None:
        """End a weekly part whose window has passed: its answers so far stay, its buttons go.

        The window scan only sees open check-ins, so this happens at the first tap after the
        window: the tap itself is refused, but the closing is committed here.
        """
        checkin.position = len(self._rt.config.questionnaires[checkin.questionnaire].items)
        checkin.draft = None
        checkin.version += 1
        await queue_edit(
            uow,
            now=now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=self._render("instruments_closed", patient.locale),
            patient_id=patient.id,
        )
        await uow.commit()
        self._rt.wake_delivery()

    def _judge(self, t: _Tapped, position: int, value: str) -> str | None:
        verdict = judge_tap(
            t.questionnaire,
            status=CheckinStatus(t.checkin.status),
            window_open=True,
            current_position=t.checkin.position,
            tap=Tap(t.checkin.id, position, value),
        )
        return self._refusal(verdict, t.locale)

    def _refusal(self, verdict: TapVerdict, locale: str) -> str | None:
        """The notice that answers a tap the check-in's rules refuse (None: go ahead)."""
        if verdict is TapVerdict.RECORD:
            return None
        return self._render(REFUSALS.get(verdict, "button_refused"), locale)

    async def _answer(self, t: _Tapped, position: int, value: str) -> str | None:
        refusal = self._judge(t, position, value)
        if refusal is not None:
            return refusal
        if t.questionnaire.items[position].kind is ItemKind.MULTI:
            return self._render("button_refused", t.locale)
        return await self._record(t, value)

    async def _toggle(self, t: _Tapped, position: int, value: str) -> str | None:
        refusal = self._judge(t, position, value)
        if refusal is not None:
            return refusal
        item = t.questionnaire.items[position]
        if item.kind is not ItemKind.MULTI:
            return self._render("button_refused", t.locale)
        selected, answer = toggle(item, set(_selected(t.checkin)), value)
        if answer is not None:
            return await self._record(t, answer)
        t.checkin.draft = {"position": position, "selected": sorted(selected)}
        await self._show(t, frozenset(selected))
        return None

    async def _done(self, t: _Tapped, position: int) -> str | None:
        selected = _selected(t.checkin)
        verdict = judge_done(t.questionnaire, t.checkin.position, position, selected)
        if verdict is not TapVerdict.RECORD:
            return self._refusal(verdict, t.locale)
        return await self._record(t, t.questionnaire.items[position].join(set(selected)))

    async def _back(self, t: _Tapped, position: int) -> str | None:
        step = judge_back(t.questionnaire, t.answers, t.checkin.position, position)
        if isinstance(step, TapVerdict):
            return self._refusal(step, t.locale)
        await t.uow.checkins.delete_answer(t.checkin.id, step.forget)
        t.answers.pop(step.forget, None)
        t.checkin.position = step.position
        t.checkin.draft = None
        await self._show(t)
        return None

    async def _skip(self, t: _Tapped) -> str | None:
        step = judge_skip(t.questionnaire, CheckinStatus(t.checkin.status), t.checkin.position)
        if isinstance(step, TapVerdict):
            return self._refusal(step, t.locale)
        t.checkin.draft = None
        if step.position is not None:
            t.checkin.position = step.position
        if step.status is not None:
            t.checkin.status = step.status.value
            t.checkin.completed_at = t.now
        await self._finish_message(
            t, "checkin_skipped" if step.offers_weekly_part else "instruments_skipped"
        )
        if step.offers_weekly_part:
            await self._ask_weekly_part(t)
        return None

    async def _finish_message(self, t: _Tapped, template: str) -> None:
        """Edit the tapped message to its last words; its buttons go."""
        await queue_edit(
            t.uow,
            now=t.now,
            chat_id=t.patient.chat_id,
            message_id=t.message_id,
            text=self._render(template, t.locale),
            patient_id=t.patient.id,
        )

    async def _ask_weekly_part(self, t: _Tapped) -> None:
        """Ask the weekly part, if the questionnaire has one, in a new message."""
        start = weekly_part_start(t.questionnaire, t.answers)
        if start is None:
            return
        t.checkin.position = start
        t.checkin.message_id = None  # taps count once the new message is sent
        text, keyboard = views.question(
            self._rt.renderer, t.questionnaire, t.checkin.id, start, t.locale, t.answers
        )
        await queue_send(
            t.uow,
            now=t.now,
            chat_id=t.patient.chat_id,
            priority=Priority.INTERACTIVE,
            text=f"{self._render('instruments_intro', t.locale)}\n\n{text}",
            keyboard=keyboard,
            on_sent=OnSent.CHECKIN_MESSAGE,
            ref_id=t.checkin.id,
            patient_id=t.patient.id,
        )

    async def _show(self, t: _Tapped, selected: frozenset[str] = frozenset()) -> None:
        """Edit the check-in message to show the current item."""
        text, keyboard = views.question(
            self._rt.renderer,
            t.questionnaire,
            t.checkin.id,
            t.checkin.position,
            t.locale,
            t.answers,
            selected,
        )
        await queue_edit(
            t.uow,
            now=t.now,
            chat_id=t.patient.chat_id,
            message_id=t.message_id,
            text=text,
            keyboard=keyboard,
            patient_id=t.patient.id,
        )

    async def _record(self, t: _Tapped, value: str) -> str | None:
        """Store the answer to the current item, escalate, and move on (or finish)."""
        item = t.questionnaire.items[t.checkin.position]
        if not await t.uow.checkins.add_answer(t.checkin.id, item.id, value, t.now):
            return self._render("answer_already_recorded", t.locale)
        t.answers[item.id] = value
        triggers = evaluate_answer(self._rt.config.rules, item.id, value)
        t.checkin.draft = None
        weekly = t.weekly_part
        upcoming = next_position(t.questionnaire, t.answers, t.checkin.position)
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
        created = await self._escalate(t, triggers, patient_level)
        if not finishing:
            assert upcoming is not None  # noqa: S101 - not finishing
            t.checkin.position = upcoming
            await self._show(t)
            return None
        t.checkin.position = len(t.questionnaire.items)
        # Only what reaches the group counts: ROUTINE rows wait for the digest, and telling
        # the patient "your team has been notified" would not be true (docs/clinical.md §3.3).
        cohort = await t.uow.cohorts.get(t.patient.cohort_id)  # in the session already
        notified = (
            cohort is not None
            and self._alerting.team_can_be_told(cohort)
            and (
                any(trigger.tier is not Tier.ROUTINE for trigger in triggers)
                or any(alert.head_id is not None for alert in created)
                or await self._alerted_today(t)
            )
        )
        done = "instruments_done" if weekly else "checkin_done"
        await self._finish_message(t, f"{done}_team_notified" if notified else done)
        if not weekly and not stop:
            await self._ask_weekly_part(t)
        return None

    async def _alerted_today(self, t: _Tapped) -> bool:
        """Whether an earlier answer of this check-in already alerted the group."""
        return await t.uow.alerts.announced_for_checkin(t.checkin.id)

    # --- escalation ----------------------------------------------------------------------

    async def _escalate(
        self, t: _Tapped, triggers: list[Trigger], patient_level: list[Raise]
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
            t.uow,
            t.now,
            cohort,
            t.patient,
            triggers,
            answer_key=f"{t.checkin.id}:{t.checkin.position}",
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


def _inactive_reply(patient: Patient | None) -> tuple[str, dict[str, str]]:
    """What /checkin says to someone without an active check-in: not enrolled, paused (until
    when, and how to /resume), stopped (as every reply to a patient who left), or otherwise
    not active (discharged, unreachable)."""
    if patient is None:
        return "not_enrolled", {}
    if patient.status == PatientStatus.PAUSED:
        until = ""
        if patient.paused_until is not None:
            local = patient.paused_until.astimezone(zone_or_error(patient.timezone))
            until = local.strftime("%Y-%m-%d %H:%M")
        return "checkin_paused", {"until": until}
    if patient.status == PatientStatus.WITHDRAWN:
        return "withdrawn_reply", {}
    return "not_active", {}


def _selected(checkin: Checkin) -> frozenset[str]:
    """The options ticked so far on the current multi-select item."""
    draft = checkin.draft or {}
    if draft.get("position") != checkin.position:
        return frozenset()
    return frozenset(str(v) for v in draft.get("selected", []))
