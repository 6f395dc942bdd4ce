"""A patient's journey after enrolment: pause, resume, stop, a copy of their data, erasure.

Buttons: ``s|pause|<days>`` (or ``s|pause|no``), ``y|stop|<step>|<token>`` and
``y|delete|<step>|<token>`` (step 0 cancels; /delete asks twice; the token is checked
server-side: bot.services.confirmations).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.alert_details import pause_details
from bot.domain.alerts import Tier
from bot.domain.callback_data import ConfirmButton, SettingButton, encode
from bot.domain.schedule import next_occurrence, parse_hhmm, zone_or_error
from bot.services import confirmations
from bot.services.alerting import Alerting, Raise
from bot.services.erasure import Eraser
from bot.services.outbox import (
    Keyboard,
    Priority,
    queue_document,
    queue_edit,
    queue_send,
    reply_priority,
)
from bot.services.runtime import Runtime
from bot.services.settings import cohort_of
from storage.models import Patient
from storage.statuses import LEFT
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

    toast: str | None
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
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None:
                await queue_send(
                    uow,
                    now=now,
                    chat_id=chat_id,
                    priority=reply_priority(chat_id, enrolled=False),
                    text=self._rt.renderer.render("not_enrolled", "en"),
                )
            elif patient.status in LEFT and name not in {"mydata", "delete"}:
                # Data rights outlive taking part; nothing else does.
                await self._say(uow, now, chat_id, "withdrawn_reply", patient.locale)
            else:
                patient.awaiting = None
                await getattr(self, f"_{name}")(uow, now, patient)
            await uow.commit()
        self._rt.wake_delivery()

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
        await self._ask(
            uow,
            now,
            patient,
            "pause_ask",
            [buttons, [cancel]],
            max_days=config.max_self_pause_days,
        )

    async def _resume(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        if patient.status != "paused":
            await self._say(uow, now, patient.chat_id, "not_paused", patient.locale)
            return
        self._reactivate(patient, now)
        uow.audit.record(
            at=now,
            actor="patient",
            action="resumed",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
        )
        await self._say(uow, now, patient.chat_id, "resumed", patient.locale, **_when(patient))

    async def _stop(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        render, locale = self._rt.renderer.render, patient.locale
        buttons = [
            (render("button_stop_confirm", locale), 1),
            (render("button_cancel", locale), 0),
        ]
        await confirmations.ask(uow, now, patient, "stop", render("stop_ask", locale), buttons)

    async def _delete(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        _, cohort = await cohort_of(self._rt, uow, patient)
        render, locale = self._rt.renderer.render, patient.locale
        text = render("delete_ask", locale, keep_audit=cohort.retention_after_delete == "audit")
        buttons = [
            (render("button_delete_confirm", locale), 1),
            (render("button_cancel", locale), 0),
        ]
        await confirmations.ask(uow, now, patient, "delete", text, buttons)

    async def _mydata(self, uow: UnitOfWork, now: datetime, patient: Patient) -> None:
        document = await self._export(uow, patient)
        render, locale = self._rt.renderer.render, patient.locale
        for suffix, content in (
            ("json", json.dumps(document, indent=2, ensure_ascii=False).encode()),
            ("csv", _csv(document).encode()),
        ):
            await queue_document(
                uow,
                now=now,
                chat_id=patient.chat_id,
                content=content,
                filename=f"moodcheck-{patient.label}.{suffix}",
                caption=render("mydata_caption", locale, format=suffix.upper()),
                patient_id=patient.id,
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
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return None
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None:
                return self._rt.renderer.render("button_refused", "en")
            days = int(button.value) if button.value.isdigit() else None
            cohort, config = await cohort_of(self._rt, uow, patient)
            if button.value != "no" and days not in pause_choices(config.max_self_pause_days):
                # A forged or outdated button: longer pauses are the care team's to give.
                return self._rt.renderer.render("button_refused", patient.locale)
            if patient.status not in {"active", "paused"}:
                return self._rt.renderer.render("not_active", patient.locale)
            values: dict[str, Any] = {}
            if days is None:
                template = "cancelled"
            else:
                patient.status = "paused"
                patient.paused_until = now + timedelta(days=days)
                patient.next_prompt_at = None
                patient.updated_at = now
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
            await self._edit(uow, now, patient, message_id, template, **values)
            await uow.commit()
        self._rt.wake_delivery()
        return None

    async def confirm(
        self, update_id: int, user_id: int, message_id: int, button: ConfirmButton
    ) -> TapReply:
        """Handle a step of the /stop or /delete confirmation: only a press the bot's own
        token vouches for (bot.services.confirmations) changes anything."""
        now = self._rt.clock.now()
        render = self._rt.renderer.render
        reply = TapReply(None)
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return TapReply(None)
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or button.action not in {"stop", "delete"} or button.step > 2:
                await uow.commit()  # the claim: a replay stays a no-op
                return TapReply(render("button_refused", "en"))
            confirmation = await confirmations.take(uow, now, patient, message_id, button)
            if confirmation is None:
                await uow.commit()
                return TapReply(
                    render("confirmation_refused", patient.locale, command=f"/{button.action}")
                )
            if button.step == 0:
                confirmations.finish(confirmation, now)
                await self._edit(uow, now, patient, message_id, "cancelled")
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
                await self._edit(
                    uow, now, patient, message_id, "delete_ask_again", keyboard=keyboard
                )
            else:
                erased = await self._eraser.erase(
                    uow, now, patient, actor="patient", tell_group=True
                )
                reply = TapReply(
                    render("deleted_toast", erased.locale),
                    direct_text=render("deleted", erased.locale, keep_audit=erased.keep_audit),
                )
            await uow.commit()
        self._rt.wake_delivery()
        return reply

    # --- jobs ---

    async def resume_due(self, now: datetime | None = None) -> int:
        """Make patients whose pause has ended active again; return how many.

        Run it from the periodic job (next to the due scan), before the due scan, so a
        patient whose pause ended is prompted at their next check-in time.
        """
        now = now or self._rt.clock.now()
        async with self._rt.uow() as uow:
            patients = await uow.patient_data.paused_until_before(now, RESUME_BATCH)
            for patient in patients:
                ended = patient.paused_until
                self._reactivate(patient, now)
                uow.audit.record(
                    at=now,
                    actor="system",
                    action="resumed",
                    cohort_id=patient.cohort_id,
                    patient_id=patient.id,
                )
                await queue_send(
                    uow,
                    now=now,
                    chat_id=patient.chat_id,
                    priority=Priority.ROUTINE,
                    dedup_key=f"resumed:{patient.id}:{ended.isoformat() if ended else ''}",
                    patient_id=patient.id,
                    text=self._rt.renderer.render("resumed", patient.locale, **_when(patient)),
                )
            await uow.commit()
        if patients:
            self._rt.wake_delivery()
        return len(patients)

    # --- the work ---

    @staticmethod
    def _reactivate(patient: Patient, now: datetime) -> None:
        patient.status = "active"
        patient.paused_until = None
        patient.next_prompt_at = next_occurrence(
            parse_hhmm(patient.checkin_time), zone_or_error(patient.timezone), now
        )
        patient.updated_at = now

    async def _withdraw(
        self, uow: UnitOfWork, now: datetime, patient: Patient, message_id: int
    ) -> None:
        if patient.status == "withdrawn":
            await self._edit(uow, now, patient, message_id, "withdrawn_reply")
            return
        patient.status = "withdrawn"
        patient.withdrawn_at = now
        patient.next_prompt_at = None
        patient.paused_until = None
        patient.awaiting = None
        patient.updated_at = now
        uow.audit.record(
            at=now,
            actor="patient",
            action="withdrew",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
        )
        await self._edit(uow, now, patient, message_id, "stopped")
        await self._tell_group(uow, now, patient, "stopped_group", f"withdrew:{patient.id}")

    async def _export(self, uow: UnitOfWork, patient: Patient) -> dict[str, Any]:
        """Return the patient's own data: settings, check-ins, answers and messages."""
        checkins = await uow.patient_data.checkins_of(patient.id)
        answers = await uow.patient_data.answers_of(patient.id)
        messages = await uow.patient_data.messages_of(patient.id)
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
                for c in checkins
            ],
            "answers": [
                {
                    "local_date": day.isoformat(),
                    "item": item,
                    "value": value,
                    "answered_at": _iso(at),
                }
                for day, item, value, at in answers
            ],
            "messages": [
                {"received_at": _iso(m.received_at), "kind": m.kind, "text": m.body}
                for m in messages
            ],
        }

    # --- replies ---

    async def _ask(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        template: str,
        keyboard: Keyboard,
        **values: Any,
    ) -> None:
        await queue_send(
            uow,
            now=now,
            chat_id=patient.chat_id,
            priority=Priority.INTERACTIVE,
            text=self._rt.renderer.render(template, patient.locale, **values),
            keyboard=keyboard,
            patient_id=patient.id,
        )

    async def _edit(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        message_id: int,
        template: str,
        *,
        keyboard: Keyboard | None = None,
        **values: Any,
    ) -> None:
        await queue_edit(
            uow,
            now=now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=self._rt.renderer.render(template, patient.locale, **values),
            keyboard=keyboard,
            patient_id=patient.id,
        )

    async def _say(
        self,
        uow: UnitOfWork,
        now: datetime,
        chat_id: int,
        template: str,
        locale: str,
        **values: Any,
    ) -> None:
        await queue_send(
            uow,
            now=now,
            chat_id=chat_id,
            priority=Priority.INTERACTIVE,
            text=self._rt.renderer.render(template, locale, **values),
        )

    async def _tell_group(
        self, uow: UnitOfWork, now: datetime, patient: Patient, template: str, dedup_key: str
    ) -> None:
        cohort, _ = await cohort_of(self._rt, uow, patient)
        await queue_send(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            priority=Priority.NOTICE,
            dedup_key=dedup_key,
            text=self._rt.renderer.render(template, cohort.locale, label=patient.label),
            patient_id=patient.id,
        )


def _when(patient: Patient) -> dict[str, str]:
    return {"checkin_time": patient.checkin_time, "timezone": patient.timezone}


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
