"""Provider commands, typed in a cohort's provider group: who may run which (the clinician
privilege), and which group of commands handles each (``care.py``: what changes a patient's
care; ``reports.py``: what shows the team its patients). The steps they share, and the call
itself, are in ``steps.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.config import ConfigError
from bot.domain.roles import GROUP_ADMINS, needs_clinician
from bot.services.checkin.dosing import COMMANDS as TREATMENT_COMMANDS
from bot.services.digest.weekly import DigestService
from bot.services.envelope import in_update
from bot.services.patient.enrolment import EnrolmentService
from bot.services.provider import provider_views as pv
from bot.services.provider.care import CareCommands
from bot.services.provider.reports import ReportCommands
from bot.services.provider.roles import Roles
from bot.services.provider.steps import COMMANDS, CommandSteps, ProviderCall, Reply
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.uow import UnitOfWork

__all__ = ["COMMANDS", "ProviderCall", "ProviderService"]

InCohort = Callable[[UnitOfWork, datetime, ProviderCall, Cohort], Awaitable[None]]
"""A command that runs in its cohort's group, in the update's unit of work."""


class ProviderService(CommandSteps):
    """Runs provider commands, each in one unit of work that first claims the update."""

    def __init__(
        self, runtime: Runtime, enrolment: EnrolmentService, digest: DigestService
    ) -> None:
        super().__init__(runtime)
        self._roles = Roles(runtime)
        self._care = CareCommands(runtime, enrolment)
        self._reports = ReportCommands(runtime, digest)
        care, reports = self._care, self._reports
        self._in_cohort: dict[str, InCohort] = {
            "patients": reports.patients,
            "patient": reports.patient,
            "messages": reports.messages,
            "alerts": reports.alerts,
            "export": reports.export,
            "outcomes": reports.outcomes,
            "pause": care.pause,
            "resume": care.resume,
            "discharge": care.discharge,
            "help": self._help,
            **dict.fromkeys(TREATMENT_COMMANDS, care.treatment),
        }

    async def command(self, call: ProviderCall) -> None:
        """Handle a provider command typed in any chat."""
        if not await self._permitted(call):
            return
        if call.name == "invite":
            await self._care.invite(call)
            return
        if call.name == "digest":
            await self._reports.send_digest(call)
            return
        if call.name == "oncall":
            await self._care.oncall(call)
            return

        async def command(uow: UnitOfWork, now: datetime) -> None:
            cohort = await self._cohort(uow, now, call)
            if cohort is not None:
                await self._in_cohort[call.name](uow, now, call, cohort)

        await in_update(self._rt, call.update_id, command)

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

    async def _help(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        try:
            listed = self._rt.config.cohort(cohort.name).clinicians != GROUP_ADMINS
        except ConfigError:
            listed = True
        await self._reply(uow, now, call, cohort, Reply("provider_help", {"listed": listed}))
