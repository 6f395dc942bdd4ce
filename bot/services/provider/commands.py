"""Provider commands, typed in a cohort's provider group: invites, the patient list, one
patient's last 14 days, open alerts, pause, resume, discharge and the cohort's export.

Membership of the group is what makes someone a provider (docs/architecture.md, Principles): a
command counts only in the group whose chat id is a cohort's ``provider_chat_id``, and acts on that
cohort only. Anywhere else it is refused and audited. The group sees labels, never names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.config import ConfigError
from bot.domain import lifecycle as lc
from bot.domain.roles import GROUP_ADMINS, needs_clinician
from bot.domain.schedule import local_date, zone_or_error
from bot.services.alerts.alert_text import AlertText
from bot.services.checkin.dosing import COMMANDS as TREATMENT_COMMANDS
from bot.services.checkin.dosing import DosingCommands, treatment_view
from bot.services.digest.fhir_export import FhirExport
from bot.services.digest.outcomes import DEFAULT_DAYS, OutcomesService
from bot.services.digest.weekly import DigestService
from bot.services.envelope import in_update
from bot.services.outbox import Priority, queue_document, queue_send, reply_priority
from bot.services.patient.enrolment import EnrolmentError, EnrolmentService
from bot.services.provider import provider_views as pv
from bot.services.provider.roles import Roles
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort, Patient
from storage.statuses import LEFT
from storage.uow import UnitOfWork

COMMANDS = (
    "invite",
    "patients",
    "patient",
    "messages",
    "alerts",
    "pause",
    "resume",
    "discharge",
    "export",
    "digest",
    "outcomes",
    "oncall",
    "dosing",
    "course",
    "optional",
    "help",
)
"""Every provider command, in the order /help and the command menu show them."""
LABEL_COMMANDS = frozenset(
    {"invite", "patient", "messages", "pause", "resume", "discharge", *TREATMENT_COMMANDS}
)
MAX_GROUP_FILE_BYTES = 45 * 1024 * 1024
"""Largest export sent to the group: Telegram takes files up to 50 MB from bots; the rest is
room for the request's own overhead. Larger cohorts use ``moodcheck export``."""
_ARGUMENTS_AFTER_LABEL = frozenset({"pause", *TREATMENT_COMMANDS})
"""Commands that take more than the label (their own checks follow)."""
UNDELIVERED_WINDOW = timedelta(days=7)
"""How far back /alerts reports messages that could not be delivered."""


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """A command typed somewhere: who, where, what."""

    update_id: int
    chat_id: int
    chat_type: str
    """``private``, ``group`` or ``supergroup``."""
    user_id: int
    language_code: str | None
    name: str
    args: tuple[str, ...]
    bot_username: str
    first_name: str = ""
    """The provider's first name (shown in their own group, e.g. who is on call)."""

    @property
    def actor(self) -> str:
        """Return the audit actor of a provider."""
        return f"provider:{self.user_id}"


@dataclass(slots=True)
class _Reply:
    """What a command answers in the group: a template, its values, and audit facts."""

    template: str
    values: dict[str, Any]


class ProviderService:
    """Runs provider commands, each in one unit of work that first claims the update."""

    def __init__(
        self, runtime: Runtime, enrolment: EnrolmentService, digest: DigestService
    ) -> None:
        self._rt = runtime
        self._text = AlertText(runtime)
        self._enrolment = enrolment
        self._digest = digest
        self._fhir = FhirExport(runtime)
        self._reports = OutcomesService(runtime)
        self._roles = Roles(runtime)
        self._treatment = DosingCommands(runtime)

    async def command(self, call: ProviderCall) -> None:
        """Handle a provider command typed in any chat."""
        if not await self._permitted(call):
            return
        if call.name == "invite":
            await self._invite(call)
            return
        if call.name == "digest":
            await self._send_digest(call)
            return
        if call.name == "oncall":
            await self._oncall(call)
            return

        async def command(uow: UnitOfWork, now: datetime) -> None:
            cohort = await self._cohort(uow, now, call)
            if cohort is not None and call.name in TREATMENT_COMMANDS:
                await self._treatment_command(uow, now, call, cohort)
            elif cohort is not None:
                handler = getattr(self, f"_{call.name}")
                await handler(uow, now, call, cohort)

        await in_update(self._rt, call.update_id, command)

    async def _send_digest(self, call: ProviderCall) -> None:
        """/digest: this week's digest now. The digest service opens its own transaction (and
        is replay-safe through the request key), so only the checks happen here."""
        asked: list[Cohort] = []

        async def request(uow: UnitOfWork, now: datetime) -> None:
            cohort = await self._cohort(uow, now, call)
            if cohort is not None:
                uow.audit.record(
                    at=now,
                    actor=call.actor,
                    action="digest_requested",
                    cohort_id=cohort.id,
                    details={},
                )
                asked.append(cohort)

        await in_update(self._rt, call.update_id, request)
        for cohort in asked:
            await self._digest.send_now(
                cohort.name, request_key=str(call.update_id), actor=call.actor
            )

    async def _oncall(self, call: ProviderCall) -> None:
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

    # --- who may run them (bot.domain.roles) ---

    async def _permitted(self, call: ProviderCall) -> bool:
        """The one role check: a clinician command in a cohort's group goes ahead only for
        the cohort's clinicians; otherwise the refusal says why and is audited. Asking
        Telegram happens outside any transaction. Other chats are refused further on."""
        if not needs_clinician(call.name) or call.chat_type not in {"group", "supergroup"}:
            return True
        async with self._rt.uow.reading() as uow:
            found = await uow.cohorts.by_chat(call.chat_id)
            name = found.name if found is not None else None
        if name is None:
            return True
        try:
            clinicians = self._rt.config.cohort(name).clinicians
        except ConfigError:
            clinicians = ()  # left out of the configuration: nobody
        decision = await self._roles.decide(call.name, clinicians, call.chat_id, call.user_id)
        if decision.refusal is None:
            return True
        refusal = decision.refusal

        async def refuse(uow: UnitOfWork, now: datetime) -> None:
            cohort = await uow.cohorts.by_chat(call.chat_id)
            if cohort is not None:
                # Linked to the patient it names, so that erasing them finds the record.
                label = call.args[0] if call.args and pv.is_label(call.args[0]) else None
                patient = label and await uow.patients.by_label(cohort.id, label)
                await self._refuse(
                    uow, now, call, cohort, "provider_not_clinician", refusal,
                    patient=patient or None,
                )  # fmt: skip

        await in_update(self._rt, call.update_id, refuse)
        return False

    # --- where commands count ---

    async def _cohort(self, uow: UnitOfWork, now: datetime, call: ProviderCall) -> Cohort | None:
        """Return the cohort whose group this is; otherwise refuse, audit, and return None."""
        cohort = None
        if call.chat_type in {"group", "supergroup"}:
            cohort = await uow.cohorts.by_chat(call.chat_id)
        if cohort is not None and call.name in COMMANDS:
            return cohort
        private = call.chat_type == "private"
        # A private chat's id is the person's Telegram id (maybe a patient's): the audit
        # trail keeps it only for groups, so erasure leaves nothing that points to a person.
        uow.audit.record(
            at=now,
            actor="user:private" if private else call.actor,
            action="provider_command_refused",
            details={
                "chat_id": None if private else call.chat_id,
                "chat_type": call.chat_type,
                "command": call.name,
                "reason": "not_a_provider_group",
            },
        )
        await self._say(
            uow,
            now,
            call.chat_id,
            self._rt.renderer.render(
                "provider_refused", self._rt.locale_for(call.language_code, "en")
            ),
        )
        return None

    # --- commands ---

    async def _help(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        try:
            listed = self._rt.config.cohort(cohort.name).clinicians != GROUP_ADMINS
        except ConfigError:
            listed = True
        await self._reply(uow, now, call, cohort, _Reply("provider_help", {"listed": listed}))

    async def _patients(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patients = await uow.provider.patients_of(cohort.id)
        ids = [p.id for p in patients]
        earliest = _today(now, cohort.timezone) - timedelta(days=pv.ADHERENCE_DAYS + 1)
        checkins = await uow.provider.checkins_since(ids, earliest)
        by_patient: dict[int, list[tuple[date, str]]] = {}
        for checkin in checkins:
            by_patient.setdefault(checkin.patient_id, []).append(
                (checkin.local_date, checkin.status)
            )
        last = await uow.provider.last_done_dates(ids, sorted(pv.DONE))
        open_alerts: dict[int, int] = {}
        for alert, _ in await uow.provider.unresolved_alerts(cohort.id):
            if alert.patient_id is not None:  # joined to its patient: always
                open_alerts[alert.patient_id] = open_alerts.get(alert.patient_id, 0) + 1
        rows = []
        for patient in patients:
            score = pv.adherence(by_patient.get(patient.id, []), _today(now, patient.timezone))
            rows.append(
                {
                    "label": patient.label,
                    "status": patient.status,
                    "paused_until": _local_day(patient.paused_until, patient.timezone),
                    "done": score.done,
                    "due": score.due,
                    "percent": score.percent,
                    "last": last[patient.id].isoformat() if patient.id in last else None,
                    "alerts": open_alerts.get(patient.id, 0),
                }
            )
        await self._reply(
            uow,
            now,
            call,
            cohort,
            _Reply("provider_patients", {"cohort": cohort.name, "patients": rows}),
            audit="provider_listed_patients",
        )

    async def _patient(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        today = _today(now, patient.timezone)
        checkins = await uow.provider.checkins_since(
            [patient.id], today - timedelta(days=pv.TABLE_DAYS - 1)
        )
        answers = await uow.answers.of_checkins([c.id for c in checkins])
        enrolled_on = _today(patient.consented_at, patient.timezone)
        rows = pv.day_rows(
            ((c.local_date, c.status, answers.get(c.id, {})) for c in checkins),
            today,
            enrolled_on,
        )
        alerts = await uow.provider.unresolved_alerts(cohort.id, patient.id)
        await self._reply(
            uow,
            now,
            call,
            cohort,
            _Reply(
                "provider_patient",
                {
                    "label": patient.label,
                    "status": patient.status,
                    "paused_until": _local_day(patient.paused_until, patient.timezone),
                    "timezone": patient.timezone,
                    "checkin_time": patient.checkin_time,
                    **treatment_view(self._rt, cohort, patient),
                    "days": [
                        {"date": r.day.strftime("%m-%d"), "status": r.status, "a": r.answers}
                        for r in rows
                    ],
                    "alerts": [
                        self._alert_view(a, label, now, cohort.locale) for a, label in alerts
                    ],
                },
            ),
            audit="provider_viewed_patient",
            patient=patient,
        )

    async def _treatment_command(
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
            _Reply(outcome.template, outcome.values),
            audit=outcome.audit,
            patient=patient,
            details=outcome.details,
        )

    async def _messages(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/messages LABEL: what the patient wrote (free text, daily notes, what they sent
        that is not read), newest first, in one message. Reading a patient's words is
        audited like every view of their data."""
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        found = await uow.history.recent_messages(
            patient.id, now - timedelta(days=pv.MESSAGES_DAYS), pv.MESSAGES_LIMIT
        )
        zone = zone_or_error(cohort.timezone)
        items = [
            {
                "time": m.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "kind": m.kind,
                "body": pv.shorten(m.body) if m.body is not None else None,
                "crisis": m.crisis,
            }
            for m in found
        ]
        values: dict[str, Any] = {
            "label": patient.label,
            "days": pv.MESSAGES_DAYS,
            "timezone": cohort.timezone,
        }
        shown = pv.fit_newest(
            items,
            lambda listed: self._rt.renderer.render(
                "provider_messages",
                cohort.locale,
                items=listed,
                older=len(items) - len(listed),
                **values,
            ),
        )
        text = self._rt.renderer.render(
            "provider_messages",
            cohort.locale,
            items=shown,
            older=len(items) - len(shown),
            **values,
        )
        await self._say(uow, now, cohort.provider_chat_id, text, about=patient)
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_read_messages",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"chat_id": call.chat_id, "shown": len(shown), "found": len(items)},
        )

    async def _alerts(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        alerts = await uow.provider.unresolved_alerts(cohort.id)
        # Messages given up on after every retry: the team must know what never arrived.
        group, patients = await uow.provider.undelivered(cohort, now - UNDELIVERED_WINDOW)
        await self._reply(
            uow,
            now,
            call,
            cohort,
            _Reply(
                "provider_alerts",
                {
                    "alerts": [
                        self._alert_view(a, label, now, cohort.locale) for a, label in alerts
                    ],
                    "undelivered_group": group,
                    "undelivered_patients": patients,
                },
            ),
            audit="provider_listed_alerts",
        )

    async def _pause(
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
            _Reply(
                "provider_paused",
                {"label": patient.label, "until": until_text, "timezone": patient.timezone},
            ),
            audit="provider_paused",
            patient=patient,
            details={"days": days},
        )

    async def _resume(
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
            _Reply("provider_resumed", {"label": patient.label}),
            audit="provider_resumed",
            patient=patient,
        )

    async def _discharge(
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
            _Reply("provider_discharged", {"label": patient.label, "told": reachable}),
            audit="provider_discharged",
            patient=patient,
        )

    async def _export(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/export: every answer as CSV; /export fhir: the cohort as a FHIR R4 Bundle."""
        if call.args and call.args != ("fhir",):
            await self._reply(uow, now, call, cohort, _Reply("provider_export_usage", {}))
            return
        if call.args == ("fhir",):
            await self._export_fhir(uow, now, call, cohort)
            return
        questionnaires = list(self._rt.config.questionnaires.values())
        items = {item.id: item for q in questionnaires for item in q.items}
        csv_rows = await uow.export.csv_rows(cohort.id)
        content = pv.export_csv(csv_rows, items)
        rows = content.count("\n") - 1
        today = _today(now, cohort.timezone)
        name = f"moodcheck-{cohort.name}-{today.isoformat()}"
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=content.encode(),
            filename=f"{name}.csv",
            caption=self._rt.renderer.render(
                "provider_export_caption", cohort.locale, cohort=cohort.name, rows=rows
            ),
        )
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=pv.data_dictionary_csv(questionnaires).encode(),
            filename=f"{name}-dictionary.csv",
            caption=self._rt.renderer.render("provider_export_dictionary_caption", cohort.locale),
        )
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_exported",
            cohort_id=cohort.id,
            details={"chat_id": call.chat_id, "rows": rows},
        )
        exported = {row.label for row in csv_rows}
        uow.audit.record_reads(
            at=now,
            actor=call.actor,
            action="patient_exported",
            cohort_id=cohort.id,
            patient_ids=[p.id for p in await uow.provider.patients_of(cohort.id)
                         if p.label in exported],
            details={"format": "csv"},
        )  # fmt: skip

    async def _export_fhir(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        buffer = io.StringIO()
        result = await self._fhir.write(cohort.name, buffer, now=now, uow=uow)
        content = buffer.getvalue().encode()
        resources = sum(result.counts.by_type.values())
        details = {"chat_id": call.chat_id, "format": "fhir", "resources": resources}
        if len(content) > MAX_GROUP_FILE_BYTES:
            await self._reply(
                uow,
                now,
                call,
                cohort,
                _Reply("provider_export_too_large", {"cohort": cohort.name}),
                audit="provider_export_too_large",
                details=details,
            )
            return
        today = _today(now, cohort.timezone)
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=content,
            filename=f"moodcheck-{cohort.name}-{today.isoformat()}.fhir.json",
            caption=self._rt.renderer.render(
                "provider_export_fhir_caption",
                cohort.locale,
                cohort=cohort.name,
                patients=result.counts.by_type.get("Patient", 0),
                resources=resources,
            ),
        )
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_exported",
            cohort_id=cohort.id,
            details=details,
        )
        uow.audit.record_reads(
            at=now,
            actor=call.actor,
            action="patient_exported",
            cohort_id=cohort.id,
            patient_ids=result.patient_ids,
            details={"format": "fhir"},
        )

    async def _outcomes(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/outcomes [FROM TO]: the cohort's outcome figures (docs/outcomes.md)."""
        end = _today(now, cohort.timezone)
        start = end - timedelta(days=DEFAULT_DAYS)
        if call.args:
            period = _period(call.args)
            if period is None or period[1] > end:
                await self._reply(uow, now, call, cohort, _Reply("provider_outcomes_usage", {}))
                return
            start, end = period
        report = await self._reports.report(uow, cohort, start, end)
        for part in pv.split_message(self._reports.render(report, cohort.name, cohort.locale)):
            await self._say(uow, now, cohort.provider_chat_id, part)
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_viewed_outcomes",
            cohort_id=cohort.id,
            details={"chat_id": call.chat_id, "from": start.isoformat(), "to": end.isoformat()},
        )

    async def _invite(self, call: ProviderCall) -> None:
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
                    _Reply(
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

    # --- shared steps ---

    async def _target(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> Patient | None:
        """Return the cohort's patient the command's label names; otherwise reply, audit,
        and return None."""
        if not call.args or (call.name not in _ARGUMENTS_AFTER_LABEL and len(call.args) != 1):
            await self._usage(uow, now, call, cohort)
            return None
        label = call.args[0]
        patient = await uow.patients.by_label(cohort.id, label) if pv.is_label(label) else None
        if patient is None:
            await self._refuse(uow, now, call, cohort, "provider_unknown_label", "unknown_label")
        return patient

    async def _usage(
        self,
        uow: UnitOfWork,
        now: datetime,
        call: ProviderCall,
        cohort: Cohort,
        reason: str | None = None,
    ) -> None:
        await self._refuse(uow, now, call, cohort, "provider_usage", reason or "bad_arguments")

    async def _wrong_status(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort, patient: Patient
    ) -> None:
        await self._refuse(
            uow,
            now,
            call,
            cohort,
            "provider_wrong_status",
            "wrong_status",
            patient=patient,
            status=patient.status,
        )

    async def _refuse(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        call: ProviderCall,
        cohort: Cohort,
        template: str,
        reason: str,
        *,
        patient: Patient | None = None,
        status: str | None = None,
    ) -> None:
        """Answer a command that cannot go ahead in its group, and audit the attempt."""
        label = call.args[0] if call.args and pv.is_label(call.args[0]) else None
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_command_refused",
            cohort_id=cohort.id,
            patient_id=patient.id if patient is not None else None,
            details={
                "chat_id": call.chat_id,
                "command": call.name,
                "reason": reason,
                "label": label,
            },
        )
        values = {"command": call.name, "label": label, "status": status, "reason": reason}
        await self._reply(uow, now, call, cohort, _Reply(template, values))

    async def _reply(
        self,
        uow: UnitOfWork,
        now: datetime,
        call: ProviderCall,
        cohort: Cohort,
        reply: _Reply,
        *,
        audit: str | None = None,
        patient: Patient | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Queue a reply in the group (split between lines when long); audit an action."""
        text = self._rt.renderer.render(reply.template, cohort.locale, **reply.values)
        for part in pv.split_message(text):
            await self._say(uow, now, cohort.provider_chat_id, part, about=patient)
        if audit is not None:
            uow.audit.record(
                at=now,
                actor=call.actor,
                action=audit,
                cohort_id=cohort.id,
                patient_id=patient.id if patient is not None else None,
                details={"chat_id": call.chat_id, **(details or {})},
            )

    async def _say(
        self,
        uow: UnitOfWork,
        now: datetime,
        chat_id: int,
        text: str,
        *,
        about: Patient | None = None,
    ) -> None:
        """Queue a reply; ``about``: the one patient it is about (erasure finds it)."""
        priority = reply_priority(chat_id)
        await queue_send(
            uow,
            now=now,
            chat_id=chat_id,
            priority=priority,
            text=text,
            patient_id=about.id if about is not None else None,
        )

    def _alert_view(self, alert: Alert, label: str, now: datetime, locale: str) -> dict[str, Any]:
        minutes = max(0, int((now - alert.created_at).total_seconds() // 60))
        return {
            **self._text.view(alert.rule, alert.details, locale),
            "label": label,
            "tier": alert.tier,
            "status": alert.status,
            "age_minutes": minutes,
        }


def _period(args: tuple[str, ...]) -> tuple[date, date] | None:
    """Return (FROM, TO) from two ISO dates, FROM before TO; None for anything else."""
    if len(args) != 2:
        return None
    try:
        start, end = date.fromisoformat(args[0]), date.fromisoformat(args[1])
    except ValueError:
        return None
    return (start, end) if start < end else None


def _today(now: datetime, zone: str) -> date:
    return local_date(now, zone_or_error(zone))


def _local_day(moment: datetime | None, zone: str) -> str | None:
    return None if moment is None else moment.astimezone(zone_or_error(zone)).date().isoformat()
