"""What a patient writes or sends that is not a tap: typed settings, free text, media.

Free text gets a fixed reply and is kept for the care team; the provider group is told that
a message came (the label only, unless the cohort shares text). Crisis words in it raise an
IMMEDIATE alert and show the crisis card before anything else. Nothing here ever repeats
what the patient wrote back to them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import prompts
from bot.domain.alerts import Tier
from bot.domain.crisis_words import CrisisMatcher, parse_phrases
from bot.domain.schedule import zone_or_error
from bot.domain.timezones import looks_like_setting_input
from bot.services.alerting import Alerting, Raise
from bot.services.checkins import CheckinService
from bot.services.outbox import Priority, queue_send
from bot.services.runtime import Runtime
from bot.services.settings import SettingsService, cohort_of
from storage.models import Checkin, Cohort, Patient, PatientMessage
from storage.statuses import LEFT
from storage.uow import UnitOfWork

CRISIS_WORDS = Path(prompts.__file__).with_name("crisis_words")
CRISIS_RULE = "crisis_words"
MAX_BODY = 4096
"""Longest text kept; Telegram's own limit, so only an odd client ever reaches it."""
"""Patients no longer taking part: their writing is neither stored nor passed on."""
MEDIA_KINDS = frozenset({"sticker", "photo", "voice", "location"})
"""Kinds stored as themselves (``patient_messages.kind``); anything else is "other"."""


def load_crisis_matcher(folder: Path = CRISIS_WORDS) -> CrisisMatcher:
    """Load every locale's reviewed crisis phrases into one matcher.

    All locales at once: a patient may write in a language other than the one they chose.
    A missing or empty folder is an error at start-up, never a silent "no crisis" at night.
    """
    phrases: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        phrases.extend(parse_phrases(path.read_text(encoding="utf-8")))
    if not phrases:
        raise RuntimeError(f"no crisis phrases found in {folder}")
    return CrisisMatcher.of(phrases)


class MessageService:
    """Routes a patient's text and media: settings input, free text, or a polite refusal."""

    def __init__(
        self,
        runtime: Runtime,
        settings: SettingsService,
        alerting: Alerting,
        checkins: CheckinService,
        matcher: CrisisMatcher | None = None,
    ) -> None:
        self._rt = runtime
        self._settings = settings
        self._alerting = alerting
        self._checkins = checkins
        self._matcher = matcher or load_crisis_matcher()

    @property
    def matcher(self) -> CrisisMatcher:
        """The crisis-phrase matcher (also used while the database is down: bot/offline.py)."""
        return self._matcher

    async def text(
        self, update_id: int, user_id: int, chat_id: int, language_code: str | None, text: str
    ) -> None:
        """Handle text that is not a command: a typed setting or a message for the team."""
        now = self._rt.clock.now()
        crisis = self._matcher.matches(text)
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status in LEFT:
                await self._not_taking_part(uow, now, chat_id, language_code, patient, crisis)
            else:
                step = self._settings.expects_input(patient, now)
                note_for = await self._checkins.note_target(uow, now, patient)
                if step is not None and not crisis and looks_like_setting_input(text):
                    await self._settings.typed(uow, now, patient, step, text)
                elif note_for is not None:
                    await self._note(uow, now, patient, note_for, text[:MAX_BODY], crisis=crisis)
                else:
                    await self._keep(uow, now, patient, "text", text[:MAX_BODY], crisis=crisis)
            await uow.commit()
        self._rt.wake_delivery()

    async def media(
        self,
        update_id: int,
        user_id: int,
        chat_id: int,
        language_code: str | None,
        *,
        kind: str,
        caption: str | None,
    ) -> None:
        """Handle a sticker, photo, voice message, file, location ...: say only taps and text
        are read. A caption is checked for crisis words but not kept."""
        now = self._rt.clock.now()
        crisis = caption is not None and self._matcher.matches(caption)
        kind = kind if kind in MEDIA_KINDS else "other"
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status in LEFT:
                await self._not_taking_part(uow, now, chat_id, language_code, patient, crisis)
            else:
                await self._keep(uow, now, patient, kind, None, crisis=crisis)
            await uow.commit()
        self._rt.wake_delivery()

    async def _not_taking_part(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        chat_id: int,
        language_code: str | None,
        patient: Patient | None,
        crisis: bool,
    ) -> None:
        """Someone not (or no longer) enrolled wrote: store nothing, explain, and show the
        crisis card if they may be in danger (no team is told: there is none to tell)."""
        locale = patient.locale if patient else self._rt.locale_for(language_code, "en")
        region = "OTHER"
        if patient is not None:
            cohort, _ = await cohort_of(self._rt, uow, patient)
            region = cohort.region
        # Shown already while the database was down: no team to tell, nothing to add.
        if crisis and not self._rt.cards_shown.take(chat_id):
            await queue_send(
                uow,
                now=now,
                chat_id=chat_id,
                priority=Priority.CRISIS,
                text=self._rt.renderer.render(
                    "crisis_card", locale, region=region, team_notified=False
                ),
            )
        await queue_send(
            uow,
            now=now,
            chat_id=chat_id,
            priority=Priority.INTERACTIVE,
            text=self._rt.renderer.render(
                "start_no_code" if patient is None else "withdrawn_reply", locale
            ),
        )

    async def _keep(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        kind: str,
        body: str | None,
        *,
        crisis: bool,
    ) -> None:
        """Store what a patient sent, reply, and tell the care team as the cohort allows."""
        patient.awaiting = None  # they moved on from any question that expected typing
        message = PatientMessage(
            patient_id=patient.id, received_at=now, kind=kind, body=body, crisis=crisis
        )
        uow.patient_data.add_message(message)
        await uow.session.flush()
        cohort, cohort_config = await cohort_of(self._rt, uow, patient)
        if crisis:
            await self._crisis(uow, now, cohort, patient, message)
        reply = "message_received" if kind == "text" else "media_not_read"
        await queue_send(
            uow,
            now=now,
            chat_id=patient.chat_id,
            priority=Priority.INTERACTIVE,
            patient_id=patient.id,
            text=self._rt.renderer.render(
                reply, patient.locale, team_hours=cohort_config.team_hours
            ),
        )
        if kind == "text" and not crisis:
            shared = body if cohort_config.share_text_with_group else None
            await queue_send(
                uow,
                now=now,
                chat_id=cohort.provider_chat_id,
                priority=Priority.NOTICE,
                dedup_key=f"message:{message.id}",
                text=self._rt.renderer.render(
                    "message_group",
                    cohort.locale,
                    label=patient.label,
                    time=_local(now, cohort),
                    text=shared,
                ),
            )

    async def _note(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        text: str,
        *,
        crisis: bool,
    ) -> None:
        """A typed answer to the check-in's note item: kept like any message (crisis words
        still escalate at once), and the check-in moves on."""
        message = PatientMessage(
            patient_id=patient.id, received_at=now, kind="note", body=text, crisis=crisis
        )
        uow.patient_data.add_message(message)
        await uow.session.flush()
        if crisis:
            cohort, _ = await cohort_of(self._rt, uow, patient)
            await self._crisis(uow, now, cohort, patient, message)
        await self._checkins.record_note(uow, now, patient, checkin, message.id)

    async def _crisis(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        message: PatientMessage,
    ) -> None:
        """Crisis words in what a patient sent: the crisis card first, at the top priority (it
        overtakes everything), then the IMMEDIATE alert: label, rule and time, never the text."""
        await queue_send(
            uow,
            now=now,
            chat_id=patient.chat_id,
            priority=Priority.CRISIS,
            dedup_key=f"crisis:message:{message.id}",
            patient_id=patient.id,
            text=self._rt.renderer.render(
                self._rt.card_or_followup(patient.chat_id, "crisis_card"),
                patient.locale,
                region=cohort.region,
                team_notified=True,
                after_hours=self._alerting.after_hours(cohort, now),
            ),
        )
        await self._alerting.raise_(
            uow,
            now,
            cohort,
            patient,
            [Raise(CRISIS_RULE, Tier.IMMEDIATE, f"message:{message.id}")],
        )


def _local(now: datetime, cohort: Cohort) -> str:
    """Return the time as the provider group reads it (the cohort's zone)."""
    return now.astimezone(zone_or_error(cohort.timezone)).strftime("%Y-%m-%d %H:%M %Z")
