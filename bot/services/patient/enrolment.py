"""Enrolment: invites, /start with a code, and consent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import invites
from bot.domain.lifecycle import PatientStatus
from bot.domain.schedule import next_occurrence, parse_hhmm, zone_or_error
from bot.services import views
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import Priority
from bot.services.patient.settings import SettingsService
from bot.services.runtime import Runtime
from storage.models import Invite, Patient
from storage.uow import UnitOfWork

REFUSED = frozenset({"invite_invalid", "invite_used", "invite_expired"})
"""Answers to an invite code that did not open a consent."""


class EnrolmentError(ValueError):
    """An invite that cannot be created (unknown cohort, bad or taken label)."""


@dataclass(frozen=True, slots=True)
class InviteLink:
    """A freshly made invite: the code exists only here, never in the database."""

    code: str
    label: str
    cohort: str
    expires_at: datetime

    def url(self, bot_username: str) -> str:
        """Return the deep link that opens the bot with this code."""
        return f"https://t.me/{bot_username}?start={self.code}"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent an update, as far as enrolment cares."""

    user_id: int
    chat_id: int
    language_code: str | None


class EnrolmentService:
    """Creates invites and turns a valid invite plus consent into an enrolled patient."""

    def __init__(
        self,
        runtime: Runtime,
        settings: SettingsService | None = None,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        self._rt = runtime
        self._settings = settings or SettingsService(runtime)
        self._on_refused = on_refused
        """Told of each invite code refused (the strangers' throttle counts guessing)."""

    async def create_invite(self, cohort_name: str, label: str, created_by: str) -> InviteLink:
        """Create a single-use invite for a pseudonymous label in a cohort."""
        if not invites.is_valid_label(label):
            raise EnrolmentError(
                f"label {label!r} must be 2-16 capital letters, digits or dashes (e.g. P-7Q3K)"
            )
        cohort_config = self._rt.config.cohort(cohort_name)
        now = self._rt.clock.now()
        code = invites.new_code()
        expires_at = now + timedelta(days=cohort_config.invite_valid_days)
        async with self._rt.uow() as uow:
            cohort = await uow.cohorts.by_name(cohort_name)
            if cohort is None:
                raise EnrolmentError(f"cohort {cohort_name!r} is not in the database yet")
            if await uow.patients.label_taken(cohort.id, label):
                raise EnrolmentError(f"label {label!r} is already enrolled in {cohort_name}")
            uow.invites.add(
                Invite(
                    cohort_id=cohort.id,
                    label=label,
                    code_hash=invites.code_hash(code),
                    status="open",
                    created_by=created_by,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            uow.audit.record(
                at=now,
                actor=created_by,
                action="invite_created",
                cohort_id=cohort.id,
                details={"label": label},
            )
            await uow.commit()
        return InviteLink(code=code, label=label, cohort=cohort_name, expires_at=expires_at)

    async def start(self, update_id: int, sender: Sender, payload: str | None) -> None:
        """Handle /start, with or without an invite code."""
        locale = self._rt.locale_for(sender.language_code, "en")

        async def start(uow: UnitOfWork, now: datetime) -> None:
            reply = await self._start(uow, now, sender, payload, locale)
            if reply in REFUSED and self._on_refused is not None:
                self._on_refused()
            if reply is not None:
                # Only a patient is told "already enrolled": every other answer here is to
                # someone not (yet) enrolled.
                await self._rt.outbound(uow, now).reply(
                    sender.chat_id, reply, locale, enrolled=reply == "already_enrolled"
                )

        await in_update(self._rt, update_id, start)

    async def _start(
        self, uow: UnitOfWork, now: datetime, sender: Sender, payload: str | None, locale: str
    ) -> str | None:
        """Do the work of /start; return the name of the reply template, if any."""
        patient = await uow.patients.by_telegram_user(sender.user_id)
        if not payload:
            return "already_enrolled" if patient is not None else "start_no_code"
        if not invites.is_well_formed(payload):
            return "invite_invalid"
        invite = await uow.invites.by_hash(invites.code_hash(payload))
        if invite is None:
            return "invite_invalid"
        if patient is not None:
            return "already_enrolled"
        if invite.status in {"accepted", "declined"} or (
            invite.status == "claimed" and invite.claimed_by_user_id != sender.user_id
        ):
            return "invite_used"
        if invite.expires_at <= now:
            return "invite_expired"
        invite.status = "claimed"
        invite.claimed_by_user_id = sender.user_id
        text, keyboard = views.consent(self._rt.renderer, invite.id, locale)
        await self._rt.outbound(uow, now).text_to_chat(
            sender.chat_id, text, priority=Priority.INTERACTIVE, keyboard=keyboard
        )
        return None

    async def consent(
        self, update_id: int, sender: Sender, message_id: int, invite_id: int, *, agree: bool
    ) -> str | None:
        """Handle a tap on Agree or Decline; return a short notice for the tapper, if any."""
        locale = self._rt.locale_for(sender.language_code, "en")

        async def consent(uow: UnitOfWork, now: datetime) -> None:
            invite = await uow.invites.get(invite_id)
            if invite is not None and invite.status in {"accepted", "declined"}:
                raise Refuse(self._rt.renderer.render("answer_already_recorded", locale))
            if invite is None or invite.claimed_by_user_id != sender.user_id:
                # Not this user's consent message (forged or stale): touch nothing.
                raise Refuse(self._rt.renderer.render("button_refused", locale))
            reply, values = await self._consent(
                uow, now, sender, invite, agree=agree, locale=locale
            )
            text = self._rt.renderer.render(reply, locale, **values)
            keyboard = None
            patient = await uow.patients.by_telegram_user(sender.user_id)
            if reply == "enrolled" and patient is not None:
                # Enrolled with the cohort's defaults; the same message now asks for the
                # language, then the time zone and the time.
                onboarding, keyboard = await self._settings.onboarding(uow, patient)
                text = f"{text}\n\n{onboarding}"
            await self._rt.outbound(uow, now).edit_chat(
                sender.chat_id, message_id, text, keyboard=keyboard
            )

        return await in_update(self._rt, update_id, consent)

    async def _consent(
        self,
        uow: UnitOfWork,
        now: datetime,
        sender: Sender,
        invite: Invite,
        *,
        agree: bool,
        locale: str,
    ) -> tuple[str, dict[str, str]]:
        """Enrol or decline on a consent tap; return the reply template and its values."""
        if invite.status != "claimed" or invite.expires_at <= now:
            return "consent_stale", {}
        if await uow.patients.by_telegram_user(sender.user_id) is not None:
            return "already_enrolled", {}
        invite.used_at = now
        if not agree:
            # Decline keeps only the fact that this invite was declined: no Telegram id.
            invite.status = "declined"
            invite.claimed_by_user_id = None
            uow.audit.record(
                at=now,
                actor="patient",
                action="invite_declined",
                cohort_id=invite.cohort_id,
                details={"invite_id": invite.id},
            )
            return "consent_declined", {}
        cohort = await uow.cohorts.get(invite.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        if await uow.patients.label_taken(cohort.id, invite.label):
            return "consent_stale", {}
        cohort_config = self._rt.config.cohort(cohort.name)
        zone = zone_or_error(cohort.timezone)
        patient = Patient(
            cohort_id=cohort.id,
            label=invite.label,
            telegram_user_id=sender.user_id,
            chat_id=sender.chat_id,
            status=PatientStatus.ACTIVE,
            locale=locale if locale in self._rt.renderer.locales else cohort.locale,
            timezone=cohort.timezone,
            checkin_time=cohort_config.checkin_time,
            next_prompt_at=next_occurrence(parse_hhmm(cohort_config.checkin_time), zone, now),
            consented_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.patients.add(patient)
        invite.status = "accepted"
        await uow.flush()
        invite.patient_id = patient.id  # the invite carries the label: erasure finds it
        uow.patients.subject = patient.id  # this update is theirs (storage.uow links it)
        uow.audit.record(
            at=now,
            actor="patient",
            action="consented",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"invite_id": invite.id},
        )
        return "enrolled", {"checkin_time": patient.checkin_time, "timezone": patient.timezone}
