"""Provider commands that change a patient's care: /invite, /pause, /resume, /discharge,
/dosing, /course and /optional (each patient told, each change audited); and /oncall, which
changes who gets the alerts while the bot cannot post in the group."""

from __future__ import annotations

from datetime import datetime

from bot.domain import lifecycle as lc
from bot.domain.schedule import zone_or_error
from bot.services.checkin.dosing import DosingCommands
from bot.services.envelope import in_update
from bot.services.outbox import Priority, queue_send
from bot.services.patient.enrolment import EnrolmentError, EnrolmentService
from bot.services.provider import provider_views as pv
from bot.services.provider.steps import CommandSteps, ProviderCall, Reply
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.statuses import LEFT
from storage.uow import UnitOfWork


class CareCommands(CommandSteps):
    """/invite, /pause, /resume, /discharge, /dosing, /course, /optional and /oncall."""

    def __init__(self, runtime: Runtime, enrolment: EnrolmentService) -> None:
        super().__init__(runtime)
        self._enrolment = enrolment
        self._treatment = DosingCommands(runtime)

    async def invite(self, call: ProviderCall) -> None:
        """/invite LABEL: check, create the invite (its own transaction, audited as
        ``invite_created``), then claim the update and queue the link.

        A replayed update finds its id claimed and queues nothing; the invite it made is
        never shown (its code exists only in memory) and expires unused.
        """
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            cohort = await self._checked_invite(uow, now, call)
            if cohort is None:
                await uow.commit()
                self._rt.wake_delivery()
                return
        try:
            link = await self._enrolment.create_invite(cohort.name, call.args[0], call.actor)
        except EnrolmentError:
            link = None

        async def show(uow: UnitOfWork, now: datetime) -> None:
            if link is None:  # taken in between, or the cohort left the configuration
                await self._refuse(uow, now, call, cohort, "provider_label_taken", "label_taken")
            else:
                expires = link.expires_at.astimezone(zone_or_error(cohort.timezone))
                await self._reply(
                    uow,
                    now,
                    call,
                    cohort,
                    Reply(
                        "provider_invite",
                        {
                            "label": link.label,
                            "url": link.url(call.bot_username),
                            "expires": expires.strftime("%Y-%m-%d %H:%M %Z"),
                        },
                    ),
                )

        await in_update(self._rt, call.update_id, show)

    async def _checked_invite(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall
    ) -> Cohort | None:
        """Return the cohort if /invite may go ahead; otherwise claim the update and queue
        the refusal (the caller commits)."""
        chat_cohort = None
        if call.chat_type in {"group", "supergroup"}:
            chat_cohort = await uow.cohorts.by_chat(call.chat_id)
        problem: tuple[str, str] | None = None
        if chat_cohort is not None and len(call.args) == 1:
            label = call.args[0]
            if not pv.is_label(label):
                problem = ("provider_bad_label", "bad_label")
            elif await uow.patients.label_taken(chat_cohort.id, label):
                problem = ("provider_label_taken", "label_taken")
            else:
                return chat_cohort
        if not await uow.updates.claim(call.update_id, now):
            return None
        cohort = await self._cohort(uow, now, call)
        if cohort is None:
            return None
        if problem is None:
            await self._usage(uow, now, call, cohort)
        else:
            await self._refuse(uow, now, call, cohort, *problem)
        return None

    async def oncall(self, call: ProviderCall) -> None:
        """/oncall: get IMMEDIATE and URGENT alerts privately while the bot cannot post in
        the group (bot.services.provider.provider_channel); /oncall off: stop. Only someone the bot
        can write to privately can be on call, so that is asked first (outside the
        transaction: it is a call to Telegram)."""
        off = bool(call.args) and call.args[0].lower() == "off"
        grouped = call.chat_type in {"group", "supergroup"}
        writable = off or not grouped or await self._rt.private_chat_open(call.user_id)

        async def oncall(uow: UnitOfWork, now: datetime) -> None:
            cohort = await self._cohort(uow, now, call)
            if cohort is not None:
                await self._oncall_change(uow, now, call, cohort, off=off, writable=writable)

        await in_update(self._rt, call.update_id, oncall)

    async def _oncall_change(
        self,
        uow: UnitOfWork,
        now: datetime,
        call: ProviderCall,
        cohort: Cohort,
        *,
        off: bool,
        writable: bool,
    ) -> None:
        values = {"provider": call.first_name or str(call.user_id), "cohort": cohort.name}
        if off:
            removed = await uow.channel.remove_on_call(cohort.id, call.user_id)
            template = "provider_oncall_off" if removed else "provider_oncall_not_on"
            audit = "oncall_unregistered" if removed else None
        elif not writable:
            template, audit = "provider_oncall_start_first", "oncall_refused_no_private_chat"
            values["bot_username"] = call.bot_username
        elif await uow.channel.add_on_call(cohort.id, call.user_id, now):
            template, audit = "provider_oncall_on", "oncall_registered"
            await queue_send(
                uow,
                now=now,
                chat_id=call.user_id,
                priority=Priority.INTERACTIVE,
                text=self._rt.renderer.render(
                    "provider_oncall_confirmed", cohort.locale, cohort=cohort.name
                ),
            )
        else:
            template, audit = "provider_oncall_already", None
        if audit is not None:
            uow.audit.record(
                at=now,
                actor=call.actor,
                action=audit,
                cohort_id=cohort.id,
                details={"chat_id": call.chat_id},
            )
        await self._say(
            uow, now, call.chat_id, self._rt.renderer.render(template, cohort.locale, **values)
        )

    async def pause(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        if len(call.args) != 2 or pv.parse_days(call.args[1]) is None:
            await self._usage(uow, now, call, cohort, "bad_days" if len(call.args) == 2 else None)
            return
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        days = pv.parse_days(call.args[1])
        assert days is not None  # noqa: S101 - checked above
        try:
            patient.move(lc.pause(patient.lifecycle(), now, days), now)
        except lc.Refused:
            await self._wrong_status(uow, now, call, cohort, patient)
            return
        assert patient.paused_until is not None  # noqa: S101 - set by the pause
        until = patient.paused_until.astimezone(zone_or_error(patient.timezone))
        until_text = until.strftime("%Y-%m-%d %H:%M")
        await self._rt.outbound(uow, now).to_patient(
            patient, "provider_patient_paused", until=until_text
        )
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply(
                "provider_paused",
                {"label": patient.label, "until": until_text, "timezone": patient.timezone},
            ),
            audit="provider_paused",
            patient=patient,
            details={"days": days},
        )

    async def resume(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        # The same move as the patient's own /resume: active, prompted at the next usual time.
        try:
            patient.move(lc.resume(patient.lifecycle(), now, patient.usual_time()), now)
        except lc.Refused:
            await self._wrong_status(uow, now, call, cohort, patient)
            return
        await self._rt.outbound(uow, now).to_patient(
            patient,
            "provider_patient_resumed",
            checkin_time=patient.checkin_time,
            timezone=patient.timezone,
        )
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply("provider_resumed", {"label": patient.label}),
            audit="provider_resumed",
            patient=patient,
        )

    async def discharge(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        reachable = patient.status != lc.PatientStatus.UNREACHABLE
        try:
            patient.move(lc.discharge(patient.lifecycle(), now), now)
        except lc.Refused:
            await self._wrong_status(uow, now, call, cohort, patient)
            return
        if reachable:  # a patient who blocked the bot cannot be told (a 403 changes nothing)
            await self._rt.outbound(uow, now).to_patient(patient, "provider_patient_discharged")
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply("provider_discharged", {"label": patient.label, "told": reachable}),
            audit="provider_discharged",
            patient=patient,
        )

    async def treatment(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/dosing, /course, /optional (bot.services.checkin.dosing): a label, then arguments."""
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        if patient.status in LEFT:
            await self._wrong_status(uow, now, call, cohort, patient)
            return
        outcome = self._treatment.run(now, call.name, cohort, patient, call.args[1:])
        if outcome.refused is not None:
            await self._refuse(
                uow, now, call, cohort, outcome.template, outcome.refused, patient=patient
            )
            return
        if outcome.audit is not None:
            patient.updated_at = now
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply(outcome.template, outcome.values),
            audit=outcome.audit,
            patient=patient,
            details=outcome.details,
        )
