"""What every provider command shares: the call, where a command counts (a cohort's own
group), the patient a label names, refusals (audited) and replies in the group.

Membership of the group is what makes someone a provider (docs/architecture.md, Principles): a
command counts only in the group whose chat id is a cohort's ``provider_chat_id``, and acts on
that cohort only. Anywhere else it is refused and audited. The group sees labels, never names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain.schedule import local_date, zone_or_error
from bot.services.checkin.dosing import COMMANDS as TREATMENT_COMMANDS
from bot.services.outbox import queue_send, reply_priority
from bot.services.provider import provider_views as pv
from bot.services.runtime import Runtime
from storage.models import Cohort, Patient
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
_ARGUMENTS_AFTER_LABEL = frozenset({"pause", *TREATMENT_COMMANDS})
"""Commands that take more than the label (their own checks follow)."""


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
class Reply:
    """What a command answers in the group: a template and its values."""

    template: str
    values: dict[str, Any]


class CommandSteps:
    """The steps provider commands share (the groups of commands build on them)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

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
        await self._reply(uow, now, call, cohort, Reply(template, values))

    async def _reply(
        self,
        uow: UnitOfWork,
        now: datetime,
        call: ProviderCall,
        cohort: Cohort,
        reply: Reply,
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


def local_today(now: datetime, zone: str) -> date:
    """Return the local date at ``now`` in a time zone."""
    return local_date(now, zone_or_error(zone))


def local_day(moment: datetime | None, zone: str) -> str | None:
    """Return the local date of a moment as YYYY-MM-DD (None for None)."""
    return None if moment is None else moment.astimezone(zone_or_error(zone)).date().isoformat()
