"""Messages from the care team to a patient, and the patient's reply back to the group.

A provider answers (Telegram's "reply") a group message about one patient: an alert, a notice
that the patient wrote, or an earlier relayed reply (``storage.repositories.team.TeamRepository``
``patients_of_post``). The bot posts, as a reply to it, exactly what the patient would get
(the fixed frame ``team_message.j2`` in the patient's language around the provider's words)
with **Send** and **Cancel**. Only the provider who wrote it may send it, within
``DRAFT_MINUTES``; a forged, stale or repeated tap changes nothing. Sending is audited
(``team_message_sent``: who, when, which message) and queued to the patient.

The patient's next free text within ``RELAY_HOURS`` of the sending (one text: the reply) is
posted to the group as a reply to that message, under the label, with the text only when the
cohort shares text (``bot.services.patient.messages`` calls :meth:`TeamMessages.relay`). Crisis
detection runs on it as on any message. Nothing is sent to, or relayed from, a patient who
was discharged or withdrew; the provider is told so. Replies to any other message (the
digest, a command's answer, a message about several patients' events) are not messages to a
patient: the first two are ignored, the last gets a clear answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from bot.config import ConfigError
from bot.domain.alert_layout import TELEGRAM_TEXT_LIMIT
from bot.domain.callback_data import TeamMessageButton, encode
from bot.domain.message_text import utf16_len, visible_len
from bot.domain.roles import TEAM_MESSAGE
from bot.domain.schedule import zone_or_error
from bot.services.alerts.announcer import MAX_NAME
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import Keyboard
from bot.services.provider.roles import Roles
from bot.services.runtime import Runtime
from storage.models import Cohort, Patient, PatientMessage, TeamMessage
from storage.statuses import LEFT
from storage.uow import UnitOfWork

DRAFT_MINUTES = 30
"""How long the Send button works: later, the group's conversation has moved on."""
RELAY_HOURS = 72
"""How long after a team message the patient's next text counts as the reply (docs: README,
"What the care team does"): a patient answers within a day or two, or writes about
something else."""


@dataclass(frozen=True, slots=True)
class Relay:
    """A patient's text taken as their reply to the care team."""

    reply_to: int | None
    """The group's copy of the team's message (None if it was never posted)."""


def _preview_key(team_message_id: int) -> str:
    return f"team_message:{team_message_id}"


class TeamMessages:
    """The care team's messages to patients, and the relay of their replies."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._roles = Roles(runtime)

    def _render(self, name: str, locale: str, **values: object) -> str:
        return self._rt.renderer.render(name, locale, **values)

    def _time(self, cohort: Cohort, instant: datetime) -> str:
        return instant.astimezone(zone_or_error(cohort.timezone)).strftime("%Y-%m-%d %H:%M %Z")

    async def reply(
        self,
        update_id: int,
        *,
        chat_id: int,
        user_id: int,
        first_name: str,
        message_id: int,
        replied_to: int,
        text: str,
    ) -> None:
        """A provider's reply to a group message: draft a message to its patient.

        Writing to a patient is a clinician's action (``bot.domain.roles``): the role is
        checked before the transaction (it may ask Telegram), and only for a reply to a
        message about a patient. The draft's Send button is its author's alone."""
        async with self._rt.uow.reading() as uow:
            cohort = await uow.cohorts.by_chat(chat_id)
            about = cohort is not None and bool(
                await uow.team.patients_of_post(chat_id, replied_to)
            )
        if cohort is None or not about:
            return  # not a message about a patient: not for us
        try:
            clinicians = self._rt.config.cohort(cohort.name).clinicians
        except ConfigError:
            clinicians = ()  # left out of the configuration: nobody
        decision = await self._roles.decide(TEAM_MESSAGE, clinicians, chat_id, user_id)
        if decision.refusal is not None:
            reason = decision.refusal

            async def refuse(uow: UnitOfWork, now: datetime) -> None:
                uow.audit.record(
                    at=now,
                    actor=f"provider:{user_id}",
                    action="provider_command_refused",
                    cohort_id=cohort.id,
                    details={"chat_id": chat_id, "command": TEAM_MESSAGE, "reason": reason},
                )
                await self._rt.outbound(uow, now).to_group(
                    cohort, "team_reply_not_clinician", reply_to=message_id, reason=reason
                )

            await in_update(self._rt, update_id, refuse)
            return

        async def draft(uow: UnitOfWork, now: datetime) -> None:
            cohort = await uow.cohorts.by_chat(chat_id)
            patient_ids = (
                [] if cohort is None else await uow.team.patients_of_post(chat_id, replied_to)
            )
            if cohort is None or not patient_ids:
                return  # not a message about a patient: not for us
            if len(patient_ids) > 1:
                await self._refuse(uow, now, cohort, message_id, reason="several")
                return
            patient = await uow.patients.get(patient_ids[0])
            if patient is not None:
                await self._draft(uow, now, cohort, patient, user_id, first_name, message_id, text)

        await in_update(self._rt, update_id, draft)

    async def _refuse(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, reply_to: int, **values: Any
    ) -> None:
        await self._rt.outbound(uow, now).to_group(
            cohort, "team_reply_refused", reply_to=reply_to, **values
        )

    async def _draft(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        user_id: int,
        first_name: str,
        reply_to: int,
        text: str,
    ) -> None:
        if patient.status in LEFT:
            await self._refuse(uow, now, cohort, reply_to, reason="left", label=patient.label)
            return
        draft = TeamMessage(
            cohort_id=cohort.id,
            patient_id=patient.id,
            author_user_id=user_id,
            body=text,
            status="draft",
            created_at=now,
        )
        preview = self._preview(cohort, patient, draft, "draft", author=first_name[:MAX_NAME])
        over = (
            max(visible_len(self._patient_text(patient, text)), visible_len(preview))
            - TELEGRAM_TEXT_LIMIT
        )
        if over > 0:
            length = utf16_len(text)
            await self._refuse(
                uow, now, cohort, reply_to, reason="too_long", limit=length - over, length=length
            )
            return
        uow.team.add_message(draft)
        await uow.flush()
        await self._rt.outbound(uow, now).text_to_group(
            cohort,
            preview,
            keyboard=self._keyboard(cohort, patient, draft),
            dedup_key=_preview_key(draft.id),
            reply_to=reply_to,
        )
        uow.audit.record(
            at=now,
            actor=f"provider:{user_id}",
            action="team_message_drafted",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"team_message_id": draft.id},
        )

    def _patient_text(self, patient: Patient, text: str) -> str:
        return self._render("team_message", patient.locale, text=text)

    def _preview(
        self,
        cohort: Cohort,
        patient: Patient,
        message: TeamMessage,
        state: str,
        *,
        author: str = "",
        by: str = "",
        at: datetime | None = None,
    ) -> str:
        return self._render(
            "team_message_preview",
            cohort.locale,
            state=state,
            label=patient.label,
            language=self._render("language_name", patient.locale),
            author=author,
            by=by,
            time=self._time(cohort, at) if at is not None else "",
            minutes=DRAFT_MINUTES,
            hours=RELAY_HOURS,
            # Already rendered and escaped: shown exactly as the patient will see it.
            message=Markup(self._patient_text(patient, message.body)),  # noqa: S704
        )

    def _keyboard(self, cohort: Cohort, patient: Patient, message: TeamMessage) -> Keyboard:
        return [
            [
                {
                    "text": self._render("button_team_send", cohort.locale, label=patient.label),
                    "callback_data": encode(TeamMessageButton(message.id, send=True)),
                },
                {
                    "text": self._render("button_cancel", cohort.locale),
                    "callback_data": encode(TeamMessageButton(message.id, send=False)),
                },
            ]
        ]

    async def press(
        self,
        update_id: int,
        button: TeamMessageButton,
        *,
        user_id: int,
        first_name: str,
        chat_id: int,
        message_id: int,
    ) -> str | None:
        """Send or Cancel on a drafted message; return the short answer for the provider (a
        refused tap writes nothing: ``bot.services.envelope``)."""

        async def decide(uow: UnitOfWork, now: datetime) -> str:
            draft = await uow.team.message(button.message_id)
            cohort = None if draft is None else await uow.cohorts.get(draft.cohort_id)
            posted = await uow.outbox.sent_message_id(_preview_key(button.message_id))
            if (
                draft is None
                or cohort is None
                or cohort.provider_chat_id != chat_id
                or posted != message_id
            ):
                raise Refuse(self._render("button_refused", "en"))
            locale = cohort.locale
            if draft.status != "draft":
                raise Refuse(self._render("team_message_toast", locale, state="already"))
            if draft.author_user_id != user_id:
                raise Refuse(self._render("team_message_toast", locale, state="not_author"))
            patient = await uow.patients.get(draft.patient_id)
            assert patient is not None  # noqa: S101 - foreign key
            state = self._decide(draft, patient, now, send=button.send)
            draft.status = {"expired": "cancelled", "left": "refused"}.get(state, state)
            draft.decided_at = now
            if state == "sent":
                await self._send(uow, now, cohort, patient, draft, user_id)
            await self._rt.outbound(uow, now).edit_group(
                cohort,
                message_id,
                self._preview(cohort, patient, draft, state, by=first_name[:MAX_NAME], at=now),
            )
            return self._render("team_message_toast", locale, state=state)

        return await in_update(self._rt, update_id, decide)

    @staticmethod
    def _decide(draft: TeamMessage, patient: Patient, now: datetime, *, send: bool) -> str:
        if not send:
            return "cancelled"
        if now - draft.created_at > timedelta(minutes=DRAFT_MINUTES):
            return "expired"
        if patient.status in LEFT:
            return "left"
        return "sent"

    async def _send(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        draft: TeamMessage,
        user_id: int,
    ) -> None:
        draft.relay_until = now + timedelta(hours=RELAY_HOURS)
        await self._rt.outbound(uow, now).text_to_patient(
            patient,
            self._patient_text(patient, draft.body),
            dedup_key=f"{_preview_key(draft.id)}:patient",
        )
        uow.audit.record(
            at=now,
            actor=f"provider:{user_id}",
            action="team_message_sent",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"team_message_id": draft.id},
        )

    async def relay(
        self, uow: UnitOfWork, now: datetime, patient: Patient, message: PatientMessage
    ) -> Relay | None:
        """Take a patient's text as the reply to the care team's open message, if there is
        one (None: an ordinary message)."""
        if patient.status in LEFT:
            return None
        open_message = await uow.team.open_relay(patient.id, now)
        if open_message is None:
            return None
        open_message.reply_message_id = message.id
        uow.audit.record(
            at=now,
            actor=f"patient:{patient.id}",
            action="team_reply_relayed",
            cohort_id=open_message.cohort_id,
            patient_id=patient.id,
            details={"team_message_id": open_message.id, "message_id": message.id},
        )
        return Relay(await uow.outbox.sent_message_id(_preview_key(open_message.id)))
