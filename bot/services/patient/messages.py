"""What a patient writes or sends that is not a tap: typed settings, free text, media.

Free text gets a fixed reply and is kept for the care team; the provider group is told that
a message (or a daily note) came: the label and how to read it (/messages LABEL), or the text
itself when the cohort shares text. Crisis language in it (``bot.domain.crisis_words``,
docs/crisis-detection.md): a clear statement shows the crisis card before anything else and
raises an IMMEDIATE alert; an ambiguous or negated one raises an URGENT "possible" alert (no
card). Either alert quotes the words that matched (the whole text when the cohort shares
text). Nothing here ever repeats what the patient wrote back to them.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

import prompts
from bot.domain.alerts import Tier
from bot.domain.crisis_words import NO_CRISIS, CrisisMatcher, Detection, Level, Lexicon
from bot.domain.lifecycle import LEFT
from bot.domain.message_text import cut_to_fit
from bot.domain.schedule import zone_or_error
from bot.domain.timezones import looks_like_setting_input
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.alerts.crisis_card import card_without_team, patient_region
from bot.services.checkin.checkins import CheckinService
from bot.services.checkin.side_checks import SideCheckService
from bot.services.envelope import in_update
from bot.services.outbox import Priority
from bot.services.patient.settings import SettingsService, cohort_of
from bot.services.provider.team_messages import Relay, TeamMessages
from bot.services.runtime import Runtime
from storage.models import Checkin, Cohort, Patient, PatientMessage
from storage.uow import UnitOfWork

CRISIS_WORDS = Path(prompts.__file__).with_name("crisis_words")
CRISIS_RULE = "crisis_words"
POSSIBLE_CRISIS_RULE = "crisis_words_possible"
MAX_BODY = 4096
"""Longest text kept; Telegram's own limit, so only an odd client ever reaches it."""
"""Patients no longer taking part: their writing is neither stored nor passed on."""
MEDIA_KINDS = frozenset({"sticker", "photo", "voice", "location"})
"""Kinds stored as themselves (``patient_messages.kind``); anything else is "other"."""


@lru_cache(maxsize=8)
def load_crisis_matcher(folder: Path = CRISIS_WORDS) -> CrisisMatcher:
    """Load every locale's reviewed crisis patterns into one matcher.

    All locales at once: a patient may write in a language other than the one they chose.
    A missing, empty or malformed file is an error at start-up (one line naming the file),
    never a silent "no crisis" at night. Kept once loaded (compiling takes a second; the
    files do not change while the bot runs).
    """
    lexicons: list[Lexicon] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            lexicons.append(Lexicon.from_mapping(data, str(path)))
        except ValueError as error:
            raise RuntimeError(str(error)) from None
    if not lexicons:
        raise RuntimeError(f"no crisis patterns found in {folder}")
    return CrisisMatcher(lexicons)


class MessageService:
    """Routes a patient's text and media: settings input, free text, or a polite refusal."""

    def __init__(  # noqa: PLR0917 - the services typed text may be meant for
        self,
        runtime: Runtime,
        settings: SettingsService,
        alerting: Alerting,
        checkins: CheckinService,
        side_checks: SideCheckService,
        matcher: CrisisMatcher | None = None,
        *,
        team: TeamMessages | None = None,
    ) -> None:
        self._rt = runtime
        self._team = team or TeamMessages(runtime)
        self._settings = settings
        self._alerting = alerting
        self._checkins = checkins
        self._side_checks = side_checks
        self._matcher = matcher or load_crisis_matcher()

    def is_crisis(self, text: str) -> bool:
        """Tell whether a text holds crisis words (the reviewed phrases of every locale)."""
        return self._matcher.matches(text)

    @property
    def matcher(self) -> CrisisMatcher:
        """The crisis-phrase matcher (also used while the database is down:
        bot/transport/offline.py)."""
        return self._matcher

    async def text(
        self, update_id: int, user_id: int, chat_id: int, language_code: str | None, text: str
    ) -> None:
        """Handle text that is not a command: a typed setting or a message for the team."""
        crisis = self._matcher.detect(text)

        async def use_case(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status in LEFT:
                await self._not_taking_part(uow, now, chat_id, language_code, patient, crisis)
            else:
                step = self._settings.expects_input(patient, now)
                note_for = await self._checkins.note_target(uow, now, patient)
                reading_for = await self._side_checks.reading_target(uow, now, patient)
                if step is not None and not crisis.crisis and looks_like_setting_input(text):
                    await self._settings.typed(uow, now, patient, step, text)
                elif reading_for is not None and not crisis.crisis and _has_digit(text):
                    # A home blood-pressure reading is awaited; words without numbers are a
                    # message for the team as usual.
                    await self._side_checks.typed_reading(uow, now, patient, reading_for, text)
                elif note_for is not None:
                    await self._note(uow, now, patient, note_for, text[:MAX_BODY], crisis=crisis)
                else:
                    await self._keep(uow, now, patient, "text", text[:MAX_BODY], crisis=crisis)

        await in_update(self._rt, update_id, use_case)

    async def edited(
        self,
        update_id: int,
        user_id: int,
        chat_id: int,
        language_code: str | None,
        text: str,
        *,
        caption: bool = False,
    ) -> None:
        """Handle a message edited after it was sent: read only for crisis language. Crisis
        words added by an edit get the card and the alert as a new message would (the edited
        text is kept as a message, for the team; a caption, like any caption, is not); any
        other edit changes nothing and gets no reply (the first version had its reply)."""
        crisis = self._matcher.detect(text)

        async def use_case(uow: UnitOfWork, now: datetime) -> None:
            if crisis.crisis:
                patient = await uow.patients.by_telegram_user(user_id)
                if patient is None or patient.status in LEFT:
                    locale = (
                        patient.locale if patient else self._rt.locale_for(language_code, "en")
                    )
                    await self._card(uow, now, chat_id, locale, patient)
                else:
                    message = PatientMessage(
                        patient_id=patient.id,
                        received_at=now,
                        kind="other" if caption else "text",
                        body=None if caption else text[:MAX_BODY],
                        crisis=True,
                    )
                    uow.patients.add_message(message)
                    await uow.flush()
                    cohort, _ = await cohort_of(self._rt, uow, patient)
                    await self._crisis(uow, now, cohort, patient, message, crisis=crisis)

        await in_update(self._rt, update_id, use_case)

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
        crisis = NO_CRISIS if caption is None else self._matcher.detect(caption)
        kind = kind if kind in MEDIA_KINDS else "other"

        async def use_case(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status in LEFT:
                await self._not_taking_part(uow, now, chat_id, language_code, patient, crisis)
            else:
                await self._keep(uow, now, patient, kind, None, crisis=crisis)

        await in_update(self._rt, update_id, use_case)

    async def _not_taking_part(  # noqa: PLR0917
        self,
        uow: UnitOfWork,
        now: datetime,
        chat_id: int,
        language_code: str | None,
        patient: Patient | None,
        crisis: Detection,
    ) -> None:
        """Someone not (or no longer) enrolled wrote: store nothing, explain, and show the
        crisis card if they may be in danger, even a "possible" one (no team is told: there
        is none to tell, so the card is all there is)."""
        locale = patient.locale if patient else self._rt.locale_for(language_code, "en")
        if crisis.crisis:
            await self._card(uow, now, chat_id, locale, patient)
        await self._rt.outbound(uow, now).reply(
            chat_id,
            "start_no_code" if patient is None else "withdrawn_reply",
            locale,
            enrolled=patient is not None,
        )

    async def _card(
        self,
        uow: UnitOfWork,
        now: datetime,
        chat_id: int,
        locale: str,
        patient: Patient | None,
    ) -> None:
        """The crisis card for someone not (or no longer) enrolled: no team is told."""
        if self._rt.cards_shown.take(chat_id):
            return  # shown already while the database was down: no team to tell, nothing to add
        regions = self._rt.config.regions
        region = None
        if patient is not None:
            cohort, _ = await cohort_of(self._rt, uow, patient)
            region = patient_region(regions, patient.region, patient.timezone, cohort.region)
        # No team follows them: nothing is said about one.
        card = card_without_team(self._rt.renderer, regions, "crisis_card", locale, region)
        await self._rt.outbound(uow, now).text_to_chat(chat_id, card, priority=Priority.CRISIS)

    async def _keep(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        kind: str,
        body: str | None,
        *,
        crisis: Detection,
    ) -> None:
        """Store what a patient sent, reply, and tell the care team as the cohort allows."""
        patient.awaiting = None  # they moved on from any question that expected typing
        message = PatientMessage(
            patient_id=patient.id, received_at=now, kind=kind, body=body, crisis=crisis.crisis
        )
        uow.patients.add_message(message)
        await uow.flush()
        cohort, cohort_config = await cohort_of(self._rt, uow, patient)
        if crisis.crisis:
            await self._crisis(uow, now, cohort, patient, message, crisis=crisis)
        reply = "message_received" if kind == "text" else "media_not_read"
        shared = cohort_config.share_text_with_group
        await self._rt.outbound(uow, now).to_patient(
            patient,
            reply,
            team_hours=cohort_config.team_hours,
            # A crisis message: an alert, and its text too (the notice) when shared.
            shared=shared,
        )
        # The patient's reply to a message from the care team goes back to the group as a
        # reply to it (bot.services.provider.team_messages), crisis or not: the team asked.
        relay = await self._team.relay(uow, now, patient, message) if kind == "text" else None
        if relay is not None:
            await self._tell_group(uow, now, cohort, patient, message, shared=shared, relay=relay)
        # A crisis message: the alert tells the team (quoting the words that matched); its
        # text is posted too when the cohort shares text, as the reply says.
        elif kind == "text" and (shared or not crisis.crisis):
            await self._tell_group(uow, now, cohort, patient, message, shared=shared)

    async def _tell_group(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        message: PatientMessage,
        *,
        shared: bool,
        relay: Relay | None = None,
    ) -> None:
        """Tell the care team's group that a message or a note is waiting: its text when the
        cohort shares text, otherwise how to read it (/messages LABEL). ``relay``: the text
        is the patient's reply to the care team's message, posted as a reply to its copy.
        A provider may answer the notice with Telegram's reply (``team_posts``)."""
        at = _local(now, cohort)

        def render(shown: str, cut: int) -> str:
            return self._rt.renderer.render(
                "message_group",
                cohort.locale,
                label=patient.label,
                kind="reply" if relay is not None else message.kind,
                time=at,
                text=shown or None,
                cut=cut,
            )

        # A patient's text may be Telegram's whole 4,096: with the label around it, the
        # notice would be refused for good. The group sees it cut, and says so.
        dedup_key = f"message:{message.id}"
        await self._rt.outbound(uow, now).text_to_group(
            cohort,
            cut_to_fit(render, (message.body or "") if shared else ""),
            dedup_key=dedup_key,
            about=patient,
            reply_to=relay.reply_to if relay is not None else None,
        )
        await uow.team.add_post(patient.id, dedup_key)

    async def _note(
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        checkin: Checkin,
        text: str,
        *,
        crisis: Detection,
    ) -> None:
        """A typed answer to the check-in's note item: kept like any message (crisis words
        still escalate at once), and the check-in moves on."""
        message = PatientMessage(
            patient_id=patient.id, received_at=now, kind="note", body=text, crisis=crisis.crisis
        )
        uow.patients.add_message(message)
        await uow.flush()
        cohort, cohort_config = await cohort_of(self._rt, uow, patient)
        shared = cohort_config.share_text_with_group
        if crisis.crisis:
            await self._crisis(uow, now, cohort, patient, message, crisis=crisis)
        if shared or not crisis.crisis:
            # The note's question says the team's group is told (prompts/questionnaires/
            # daily_note.yaml): a note nobody is told of would be read by no one.
            await self._tell_group(uow, now, cohort, patient, message, shared=shared)
        await self._checkins.record_note(uow, now, patient, checkin, message.id)

    async def _crisis(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        patient: Patient,
        message: PatientMessage,
        *,
        crisis: Detection,
    ) -> None:
        """Crisis language in what a patient sent. Clear: the crisis card first, at the top
        priority (it overtakes everything), then the IMMEDIATE alert. Possible: the URGENT
        alert only. The alert quotes only the words that matched (so a clinician can tell a
        threat from an idiom); the whole text goes to the group only in the notice of a
        cohort that shares text."""
        details: dict[str, Any] = {"kind": "crisis_words", "phrase": crisis.phrase}
        if crisis.level is not Level.CLEAR:
            await self._alerting.raise_(
                uow,
                now,
                cohort,
                patient,
                [
                    Raise(
                        POSSIBLE_CRISIS_RULE, Tier.URGENT, f"message:{message.id}", details=details
                    )
                ],
            )
            return
        await self._rt.outbound(uow, now).text_to_patient(
            patient,
            self._alerting.card(
                self._rt.card_or_followup(patient.chat_id, "crisis_card"), cohort, patient, now
            ),
            priority=Priority.CRISIS,
            dedup_key=f"crisis:message:{message.id}",
        )
        await self._alerting.raise_(
            uow,
            now,
            cohort,
            patient,
            [Raise(CRISIS_RULE, Tier.IMMEDIATE, f"message:{message.id}", details=details)],
        )


def _local(now: datetime, cohort: Cohort) -> str:
    """Return the time as the provider group reads it (the cohort's zone)."""
    return now.astimezone(zone_or_error(cohort.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _has_digit(text: str) -> bool:
    """Whether a text has a digit (an attempt at a reading, even a mistyped one)."""
    return any(ch.isdigit() for ch in text)
