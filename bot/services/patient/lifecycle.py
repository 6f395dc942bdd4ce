"""A patient's journey after enrolment: pause, resume, stop, a copy of their data, erasure.

Buttons: ``s|pause|<days>`` (or ``s|pause|no``), ``y|stop|<step>|<token>`` and
``y|delete|<step>|<token>`` (step 0 cancels; /delete asks twice; the token is checked
server-side: bot.services.patient.confirmations).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain import lifecycle as lc
from bot.domain.alert_details import pause_details
from bot.domain.alerts import Tier
from bot.domain.callback_data import ConfirmButton, SettingButton, encode
from bot.domain.schedule import zone_or_error
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.envelope import Notice, Refuse, in_update
from bot.services.outbox import Priority
from bot.services.patient import confirmations
from bot.services.patient.erasure import Eraser
from bot.services.patient.settings import cohort_of
from bot.services.runtime import Runtime
from storage.models import Patient
from storage.uow import UnitOfWork

PAUSE_DAYS = (1, 3, 7, 14)
"""Pause lengths offered to a patient, up to their cohort's ``max_self_pause_days``."""
RESUME_BATCH = 500
PAUSE_RULE = "self_pause"
"""The ROUTINE alert a patient's own pause raises (named in ``prompts/rules.yaml``): the team
sees who paused and until when, in the group, /alerts, /patient and the digest."""


def pause_choices(max_days: int) -> tuple[int, ...]:
    """Return the pause lengths a patient may choose: the usual ones up to the cohort's
    maximum, and the maximum itself. A longer pause is the care team's (/pause LABEL DAYS)."""
    return tuple(sorted({days for days in PAUSE_DAYS if days <= max_days} | {max_days}))


@dataclass(frozen=True, slots=True)
class TapReply:
    """What the handler answers a confirmation tap with: a notice (toast), and a text that
    replaces the question, sent by the handler itself and never stored (after an erasure:
    an outbox row would keep the chat id the erasure just removed)."""

    toast: Notice
    direct_text: str | None = None


class LifecycleService:
    """Pause, resume, withdraw, export and erase, each one unit of work."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._alerting = alerting
        self._eraser = Eraser(runtime)

    # --- commands ---

    async def command(self, update_id: int, user_id: int, chat_id: int, name: str) -> None:
        """Handle /pause, /resume, /stop, /mydata or /delete."""

        async def command(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None:
                await self._rt.outbound(uow, now).reply(
                    chat_id, "not_enrolled", "en", enrolled=False
                )
            elif patient.status in lc.LEFT and name not in {"mydata", "delete"}:
                # Data rights outlive taking part; nothing else does.
                await self._rt.outbound(uow, now).reply(chat_id, "withdrawn_reply", patient.locale)
            else:
                patient.awaiting = None
                await getattr(self, f"_{name}")(uow, now, patient)

        await in_update(self._rt, update_id, command)

    async def _pause(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        render, locale = self._rt.renderer.render, patient.locale
        _, config = await cohort_of(self._rt, uow, patient)
        buttons = [
            {
                "text": render("button_pause_days", locale, days=days),
                "callback_data": encode(SettingButton("pause", str(days))),
            }
            for days in pause_choices(config.max_self_pause_days)
        ]
        cancel = {
            "text": render("button_cancel", locale),
            "callback_data": encode(SettingButton("pause", "no")),
        }
        await self._rt.outbound(uow, now).to_patient(
            patient, "pause_ask", keyboard=[buttons, [cancel]], max_days=config.max_self_pause_days
        )

    async def _resume(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        try:
            patient.move(lc.resume(patient.lifecycle(), now, patient.usual_time()), now)
        except lc.Refused:
            await self._rt.outbound(uow, now).to_patient(patient, "not_paused")
            return
        uow.audit.record(
            at=now,
            actor="patient",
            action="resumed",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
        )
        await self._rt.outbound(uow, now).to_patient(
            patient, "resumed", checkin_time=patient.checkin_time, timezone=patient.timezone
        )

    async def _stop(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        render, locale = self._rt.renderer.render, patient.locale
        buttons = [
            (render("button_stop_confirm", locale), 1),
            (render("button_cancel", locale), 0),
        ]
        await confirmations.ask(self._rt.outbound(uow, now), patient, "stop", "stop_ask", buttons)

    async def _delete(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        _, cohort = await cohort_of(self._rt, uow, patient)
        render, locale = self._rt.renderer.render, patient.locale
        buttons = [
            (render("button_delete_confirm", locale), 1),
            (render("button_cancel", locale), 0),
        ]
        await confirmations.ask(
            self._rt.outbound(uow, now),
            patient,
            "delete",
            "delete_ask",
            buttons,
            keep_audit=cohort.retention_after_delete == "audit",
        )

    async def _mydata(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        document = await self._export(uow, patient)
        out = self._rt.outbound(uow, now)
        for suffix, content in (
            ("json", json.dumps(document, indent=2, ensure_ascii=False).encode()),
            ("csv", _csv(document).encode()),
        ):
            await out.document_to_patient(
                patient,
                content,
                f"moodcheck-{patient.label}.{suffix}",
                self._rt.renderer.render("mydata_caption", patient.locale, format=suffix.upper()),
            )
        uow.audit.record(
            at=now,
            actor="patient",
            action="data_exported",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
        )

    # --- buttons ---

    async def pause_chosen(
        self, update_id: int, user_id: int, message_id: int, button: SettingButton
    ) -> str | None:
        """Handle a tap on a pause length (or cancel); return a notice for the tapper."""
        render = self._rt.renderer.render

        async def chosen(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None:
                raise Refuse(render("button_refused", "en"))
            days = int(button.value) if button.value.isdigit() else None
            cohort, config = await cohort_of(self._rt, uow, patient)
            if button.value != "no" and days not in pause_choices(config.max_self_pause_days):
                # A forged or outdated button: longer pauses are the care team's to give.
                raise Refuse(render("button_refused", patient.locale))
            if patient.status not in lc.TAKING_PART:
                raise Refuse(render("not_active", patient.locale))
            values: dict[str, Any] = {}
            if days is None:
                template = "cancelled"
            else:
                patient.move(lc.pause(patient.lifecycle(), now, days), now)
                assert patient.paused_until is not None  # noqa: S101 - set by the pause
                uow.audit.record(
                    at=now,
                    actor="patient",
                    action="paused",
                    cohort_id=patient.cohort_id,
                    patient_id=patient.id,
                    details={"days": days},
                )
                until = patient.paused_until.astimezone(zone_or_error(patient.timezone))
                template, values["until"] = "paused", until.strftime("%Y-%m-%d %H:%M")
                await self._alerting.raise_(
                    uow,
                    now,
                    cohort,
                    patient,
                    [
                        Raise(
                            PAUSE_RULE,
                            Tier.ROUTINE,
                            f"pause:{now.isoformat(timespec='seconds')}",
                            patient_scoped=True,
                            details=pause_details(values["until"], patient.timezone, days),
                        )
                    ],
                )
            await self._rt.outbound(uow, now).edit_patient(patient, message_id, template, **values)

        return await in_update(self._rt, update_id, chosen)

    async def confirm(
        self, update_id: int, user_id: int, message_id: int, button: ConfirmButton
    ) -> TapReply:
        """Handle a step of the /stop or /delete confirmation: only a press the bot's own
        token vouches for (bot.services.patient.confirmations) changes anything. A refused press
        writes nothing (bot.services.envelope) and says why."""
        render = self._rt.renderer.render
        direct_text: str | None = None

        async def confirm(uow: UnitOfWork, now: datetime) -> Notice:
            nonlocal direct_text
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or button.action not in {"stop", "delete"} or button.step > 2:
                raise Refuse(render("button_refused", "en"))
            confirmation = await confirmations.take(uow, now, patient, message_id, button)
            if confirmation is None:  # forged, replayed, skipped, expired or someone else's
                raise Refuse(
                    render("confirmation_refused", patient.locale, command=f"/{button.action}")
                )
            out = self._rt.outbound(uow, now)
            if button.step == 0:
                confirmations.finish(confirmation, now)
                await out.edit_patient(patient, message_id, "cancelled")
            elif button.action == "stop":
                confirmations.finish(confirmation, now)
                await self._withdraw(uow, now, patient, message_id)
            elif button.step == 1:
                locale = patient.locale
                keyboard = confirmations.keyboard(
                    "delete",
                    button.token,
                    [
                        (render("button_delete_final", locale), 2),
                        (render("button_cancel", locale), 0),
                    ],
                )
                await out.edit_patient(patient, message_id, "delete_ask_again", keyboard=keyboard)
            else:
                erased = await self._eraser.erase(
                    uow, now, patient, actor="patient", tell_group=True
                )
                direct_text = render(
                    "deleted",
                    erased.locale,
                    keep_audit=erased.keep_audit,
                    team_told=erased.team_told,
                )
                return render("deleted_toast", erased.locale)
            return None

        toast = await in_update(self._rt, update_id, confirm)
        # Set only when the erasure was committed (a refusal or a replay leaves it None).
        return TapReply(toast, direct_text)

    # --- jobs ---

    async def resume_due(self, now: datetime | None = None) -> int:
        """Make patients whose pause has ended active again; return how many.

        Run it from the periodic job (next to the due scan), before the due scan, so a
        patient whose pause ended is prompted at their next check-in time.
        """
        now = now or self._rt.clock.now()
        async with self._rt.uow() as uow:
            patients = await uow.patients.paused_until_before(now, RESUME_BATCH)
            out = self._rt.outbound(uow, now)
            for patient in patients:
                ended = patient.paused_until
                patient.move(lc.resume(patient.lifecycle(), now, patient.usual_time()), now)
                uow.audit.record(
                    at=now,
                    actor="system",
                    action="resumed",
                    cohort_id=patient.cohort_id,
                    patient_id=patient.id,
                )
                await out.to_patient(
                    patient,
                    "resumed",
                    priority=Priority.ROUTINE,
                    dedup_key=f"resumed:{patient.id}:{ended.isoformat() if ended else ''}",
                    checkin_time=patient.checkin_time,
                    timezone=patient.timezone,
                )
            await uow.commit()
        if patients:
            self._rt.wake_delivery()
        return len(patients)

    # --- the work ---

    async def _withdraw(
        self, uow: UnitOfWork, now: datetime, patient: Patient, message_id: int
    ) -> None:
        try:
            patient.move(lc.withdraw(patient.lifecycle(), now), now)
        except lc.Refused:  # withdrawn or discharged already: a stale or replayed button
            await self._rt.outbound(uow, now).edit_patient(patient, message_id, "withdrawn_reply")
            return
        uow.audit.record(
            at=now,
            actor="patient",
            action="withdrew",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
        )
        cohort, _ = await cohort_of(self._rt, uow, patient)
        # "Your care team has been told" only while the bot can post in the group; otherwise
        # the notice below is held until it can (bot.services.provider.provider_channel).
        await self._rt.outbound(uow, now).edit_patient(
            patient, message_id, "stopped", team_told=Alerting.team_can_be_told(cohort)
        )
        await self._rt.outbound(uow, now).to_group(
            cohort,
            "stopped_group",
            dedup_key=f"withdrew:{patient.id}",
            about=patient,
            label=patient.label,
        )

    async def _export(self, uow: UnitOfWork, patient: Patient) -> dict[str, Any]:
        """Return the patient's own data: settings, check-ins, answers and messages."""
        checkins = await uow.answers.of_patient(patient.id, times=True)
        messages = await uow.history.messages_of(patient.id)
        return {
            "label": patient.label,
            "settings": {
                "status": patient.status,
                "language": patient.locale,
                "timezone": patient.timezone,
                "checkin_time": patient.checkin_time,
                "paused_until": _iso(patient.paused_until),
                "consented_at": _iso(patient.consented_at),
                "withdrawn_at": _iso(patient.withdrawn_at),
            },
            "checkins": [
                {
                    "local_date": c.local_date.isoformat(),
                    "status": c.status,
                    "completed_at": _iso(c.completed_at),
                }
                for c, _, _ in checkins
            ],
            # By date, then in the order they were given (of_patient's order).
            "answers": [
                {
                    "local_date": c.local_date.isoformat(),
                    "item": item,
                    "value": value,
                    "answered_at": _iso(answered_at[item]),
                }
                for c, answers, answered_at in checkins
                for item, value in answers.items()
            ],
            "messages": [
                {"received_at": _iso(m.received_at), "kind": m.kind, "text": m.body}
                for m in messages
            ],
            # The post-dose checks and optional items (bot.services.checkin.side_checks).
            "other_checks": [
                {
                    "kind": c.kind,
                    "local_date": c.local_date.isoformat(),
                    "status": c.status,
                    "answers": c.answers,
                    "completed_at": _iso(c.completed_at),
                }
                for c in await uow.side_checks.of_patient(patient.id, date.min)
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _csv(document: dict[str, Any]) -> str:
    """Return the answers (one row each) and check-ins without answers as CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["local_date", "checkin_status", "item", "value"])
    status = {c["local_date"]: c["status"] for c in document["checkins"]}
    answered = set()
    for answer in document["answers"]:
        answered.add(answer["local_date"])
        writer.writerow(
            [
                answer["local_date"],
                status.get(answer["local_date"], ""),
                answer["item"],
                answer["value"],
            ]
        )
    for day, day_status in status.items():
        if day not in answered:
            writer.writerow([day, day_status, "", ""])
    return out.getvalue()
