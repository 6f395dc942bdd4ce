"""The daily check-in: opening it (on demand or when due), and recording taps."""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.alerts import Trigger, evaluate_answer
from bot.domain.callback_data import AnswerButton
from bot.domain.checkin import CheckinStatus, Tap, TapVerdict, item_at, judge_tap
from bot.domain.schedule import local_date, parse_hhmm, window_close, zone_or_error
from bot.services import views
from bot.services.outbox import OnSent, Priority, alert_priority, queue_edit, queue_send
from bot.services.runtime import Runtime
from storage.models import Checkin, Cohort, Patient
from storage.uow import UnitOfWork


class CheckinService:
    """Opens check-ins and records answers, escalating at once when an answer calls for it."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def open_today(self, update_id: int, user_id: int, chat_id: int) -> None:
        """Handle /checkin: start today's check-in, or show where it stands."""
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status != "active":
                reply = "not_enrolled" if patient is None else "not_active"
                locale = patient.locale if patient is not None else "en"
                await queue_send(
                    uow,
                    now=now,
                    chat_id=chat_id,
                    priority=Priority.INTERACTIVE,
                    text=self._rt.renderer.render(reply, locale),
                )
            else:
                day = local_date(now, zone_or_error(patient.timezone))
                checkin, _ = await self.open_for(uow, patient, day, now)
                if checkin.status == CheckinStatus.OPEN:
                    await self._ask(uow, now, patient, checkin, Priority.INTERACTIVE, None)
                else:
                    await queue_send(
                        uow,
                        now=now,
                        chat_id=patient.chat_id,
                        priority=Priority.INTERACTIVE,
                        text=self._rt.renderer.render("checkin_already_done", patient.locale),
                    )
            await uow.commit()
        self._rt.wake_delivery()

    async def open_for(
        self, uow: UnitOfWork, patient: Patient, day: date, now: datetime
    ) -> tuple[Checkin, bool]:
        """Return the patient's check-in for a local date, creating it if needed."""
        zone = zone_or_error(patient.timezone)
        cohort = await uow.cohorts.get(patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        return await uow.checkins.open_for_day(
            {
                "patient_id": patient.id,
                "local_date": day,
                "timezone": patient.timezone,
                "questionnaire": cohort.questionnaire,
                "status": CheckinStatus.OPEN.value,
                "position": 0,
                "opened_at": now,
                "closes_at": window_close(
                    day, parse_hhmm(patient.checkin_time), zone, cohort.checkin_window_hours
                ),
                "version": 0,
            }
        )

    async def _ask(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        priority: Priority,
        dedup_key: str | None,
    ) -> bool:
        """Queue a new message asking the check-in's current item."""
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        text, keyboard = views.question(
            self._rt.renderer, questionnaire, checkin.id, checkin.position, patient.locale
        )
        return await queue_send(
            uow,
            now=now,
            chat_id=patient.chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            dedup_key=dedup_key,
            on_sent=OnSent.CHECKIN_MESSAGE,
            ref_id=checkin.id,
            patient_id=patient.id,
        )

    async def answer(
        self, update_id: int, user_id: int, message_id: int, button: AnswerButton
    ) -> str | None:
        """Record a tap on an answer button; return a short notice for the tapper, if any."""
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return None
            checkin = await uow.checkins.get(button.checkin_id)
            patient = None if checkin is None else await uow.patients.get(checkin.patient_id)
            if checkin is None or patient is None or patient.telegram_user_id != user_id:
                # Someone else's check-in, or an id we never issued: store nothing at all.
                return self._rt.renderer.render("button_refused", "en")
            locale = patient.locale
            questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
            verdict = judge_tap(
                questionnaire,
                status=CheckinStatus(checkin.status),
                window_open=now < checkin.closes_at,
                current_position=checkin.position,
                tap=Tap(button.checkin_id, button.position, button.value),
            )
            if verdict is TapVerdict.CLOSED:
                return self._rt.renderer.render("checkin_closed", locale)
            if verdict is TapVerdict.ALREADY_ANSWERED:
                return self._rt.renderer.render("answer_already_recorded", locale)
            if verdict is TapVerdict.INVALID:
                return self._rt.renderer.render("button_refused", locale)
            item = questionnaire.items[button.position]
            if not await uow.checkins.add_answer(checkin.id, item.id, button.value, now):
                return self._rt.renderer.render("answer_already_recorded", locale)
            triggers = evaluate_answer(self._rt.config.rules, item.id, button.value)
            await self._escalate(uow, now, patient, checkin, triggers)
            await self._advance(uow, now, patient, checkin, message_id, triggers)
            await uow.commit()
        self._rt.wake_delivery()
        return None

    async def _escalate(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        triggers: list[Trigger],
    ) -> None:
        """Write alerts and queue the crisis card and the provider-group messages.

        The crisis card is queued first and at the top priority, so it reaches the patient
        before anything else this answer causes.
        """
        if not triggers:
            return
        cohort = await uow.cohorts.get(patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        if any(trigger.crisis_card for trigger in triggers):
            await queue_send(
                uow,
                now=now,
                chat_id=patient.chat_id,
                priority=Priority.CRISIS,
                dedup_key=f"crisis:{checkin.id}",
                patient_id=patient.id,
                text=self._rt.renderer.render(
                    "crisis_card", patient.locale, region=cohort.region, team_notified=True
                ),
            )
        for trigger in triggers:
            await self._alert(uow, now, cohort, patient, checkin, trigger)

    async def _alert(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        checkin: Checkin,
        trigger: Trigger,
    ) -> None:
        alert = await uow.alerts.add_if_absent(
            {
                "cohort_id": cohort.id,
                "patient_id": patient.id,
                "checkin_id": checkin.id,
                "rule": trigger.rule_id,
                "tier": trigger.tier.value,
                "status": "open",
                "dedup_key": f"{trigger.rule_id}:checkin:{checkin.id}",
                "created_at": now,
            }
        )
        if alert is None:
            return
        uow.audit.record(
            at=now,
            actor="system",
            action="alert_raised",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"alert_id": alert.id, "rule": alert.rule, "tier": alert.tier},
        )
        local_time = now.astimezone(zone_or_error(cohort.timezone))
        await queue_send(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            priority=alert_priority(trigger.tier),
            dedup_key=f"alert:{alert.id}",
            text=self._rt.renderer.render(
                "alert_group",
                cohort.locale,
                tier=alert.tier,
                label=patient.label,
                rule=alert.rule,
                time=local_time.strftime("%Y-%m-%d %H:%M %Z"),
            ),
        )

    async def _advance(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        message_id: int,
        triggers: list[Trigger],
    ) -> None:
        """Move to the next item (editing the same message), or finish the check-in."""
        questionnaire = self._rt.config.questionnaires[checkin.questionnaire]
        checkin.position += 1
        checkin.version += 1
        stop = any(trigger.stop_checkin for trigger in triggers)
        if not stop and item_at(questionnaire, checkin.position) is not None:
            text, keyboard = views.question(
                self._rt.renderer, questionnaire, checkin.id, checkin.position, patient.locale
            )
            await queue_edit(
                uow,
                now=now,
                chat_id=patient.chat_id,
                message_id=message_id,
                text=text,
                keyboard=keyboard,
                patient_id=patient.id,
            )
            return
        checkin.status = (CheckinStatus.STOPPED if stop else CheckinStatus.COMPLETED).value
        checkin.completed_at = now
        done = "checkin_done_team_notified" if triggers else "checkin_done"
        await queue_edit(
            uow,
            now=now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=self._rt.renderer.render(done, patient.locale),
            patient_id=patient.id,
        )
