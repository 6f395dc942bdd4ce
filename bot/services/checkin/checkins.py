"""The daily check-in: opening it (on demand or when due), asking it again, typed notes, and
taking in every tap on it (what a tap does: ``bot.services.checkin.taps``).

One message per check-in is edited in place as the patient taps. A tap is judged by the pure
state machine in ``bot.domain.checkin``; the services load the state, store the outcome and
queue what the patient and the care team should see, all in one transaction.

A cohort may ask its weekly instruments in a message of their own (``instrument_delivery =
"own_message"``): the check-in row then carries both parts. The daily part ends as any day does
(completed, rules run, thank-you); the row's status says so, while ``item`` moves on into the
weekly part, which a new message asks. ``message_id`` follows it there, so the finished daily
message's buttons are stale.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.checkin import (
    CheckinStatus,
    accepts_taps,
    first_position,
    in_weekly_part,
    item_at,
    item_id_at,
)
from bot.domain.lifecycle import PatientStatus
from bot.domain.questionnaire import NOTE_PREFIX, ItemKind
from bot.domain.schedule import local_date, parse_hhmm, window_close, zone_or_error
from bot.services import views
from bot.services.alerts.alerting import Alerting
from bot.services.checkin.day_questionnaire import questionnaire_for_day
from bot.services.checkin.history import PatientRules
from bot.services.checkin.taps import CheckinButton, TapHandler, position_of, selected
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import Priority
from bot.services.patient.reachability import Reachability
from bot.services.runtime import Runtime
from storage.models import Checkin, Patient
from storage.uow import UnitOfWork


class CheckinService:
    """Opens check-ins and takes in taps, escalating at once when an answer calls for it."""

    def __init__(
        self,
        runtime: Runtime,
        alerting: Alerting,
        patient_rules: PatientRules,
        reachability: Reachability,
    ) -> None:
        self._rt = runtime
        self._taps = TapHandler(runtime, alerting, patient_rules)
        self._reachability = reachability

    def _render(self, name: str, locale: str) -> str:
        return self._rt.renderer.render(name, locale)

    # --- opening -----------------------------------------------------------------------

    async def open_today(self, update_id: int, user_id: int, chat_id: int) -> None:
        """Handle /checkin: start today's check-in, or show where it stands."""

        async def open_today(uow: UnitOfWork, now: datetime) -> None:
            out = self._rt.outbound(uow, now)
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status != PatientStatus.ACTIVE:
                reply, values = _inactive_reply(patient)
                locale = patient.locale if patient is not None else "en"
                await out.reply(chat_id, reply, locale, enrolled=patient is not None, **values)
            else:
                day = local_date(now, zone_or_error(patient.timezone))
                checkin, _ = await self.open_for(uow, patient, day, now)
                if await self._answering(uow, checkin, now):
                    await self.ask_anew(uow, now, patient, checkin, priority=Priority.INTERACTIVE)
                else:
                    await out.to_patient(patient, "checkin_already_done")

        await in_update(self._rt, update_id, open_today)

    async def _answering(self, uow: UnitOfWork, checkin: Checkin, now: datetime) -> bool:
        """Whether a check-in still takes answers: its daily part, or the weekly part."""
        if checkin.status == CheckinStatus.OPEN:
            return True  # the window scan closes it; until then /checkin asks again
        if now >= checkin.closes_at:
            return False
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        status = CheckinStatus(checkin.status)
        position = await position_of(uow, questionnaire, checkin)
        return accepts_taps(questionnaire, status, position)

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
                "item": item_id_at(questionnaire, first_position(questionnaire)),
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
        out = self._rt.outbound(uow, now)
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        answers = await uow.checkins.answers(checkin.id)
        position = await position_of(uow, questionnaire, checkin, answers)
        weekly = in_weekly_part(questionnaire, CheckinStatus(checkin.status), position)
        if checkin.message_id is not None:
            moved = "instruments_moved" if weekly else "checkin_moved"
            await out.edit_patient(patient, checkin.message_id, moved, priority=priority)
        if weekly:
            # The weekly part takes taps from its current message only; the new one's id
            # comes when it is sent.
            checkin.message_id = None
        text, keyboard = views.question(
            self._rt.renderer,
            questionnaire,
            checkin.id,
            position,
            patient.locale,
            answers,
            selected(checkin, item_id_at(questionnaire, position)),
        )
        if intro is not None:
            text = f"{intro}\n\n{text}"
        await out.question(patient, checkin.id, (text, keyboard), priority=priority)

    # --- typed notes ---------------------------------------------------------------------

    async def note_target(
        self, uow: UnitOfWork, now: datetime, patient: Patient
    ) -> Checkin | None:
        """Return today's open check-in if it is waiting for a typed note, else None."""
        day = local_date(now, zone_or_error(patient.timezone))
        checkin = await uow.checkins.for_day(patient.id, day)
        if checkin is None or checkin.status != CheckinStatus.OPEN or now >= checkin.closes_at:
            return None
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        item = item_at(questionnaire, await position_of(uow, questionnaire, checkin))
        if item is None or item.kind is not ItemKind.NOTE or checkin.message_id is None:
            return None
        return checkin

    async def record_note(
        self, uow: UnitOfWork, now: datetime, patient: Patient, checkin: Checkin, message_id: int
    ) -> None:
        """Answer the note item with a stored patient message, and move on in the check-in."""
        assert checkin.message_id is not None  # noqa: S101 - note_target checked it
        tapped = await self._taps.tapped(uow, now, checkin, patient, checkin.message_id)
        await self._taps.record(tapped, f"{NOTE_PREFIX}{message_id}")
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
            loaded = await self._taps.load(uow, now, message_id, *found)
            if isinstance(loaded, str):
                raise Refuse(loaded)
            # Bumped before anything is queued, so that the check-in's row is written once (a
            # refused tap rolls it back with everything else).
            loaded.checkin.version += 1
            notice = await self._taps.handle(loaded, button)
            if notice is not None:
                raise Refuse(notice)
            await uow.checkins.write_tapped(loaded.checkin)

        notice = await in_update(self._rt, update_id, tap)
        return notice, look


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
