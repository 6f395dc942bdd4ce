"""The sandbox's world: the running bot, the care team's group, the patients the page adds.

Every action goes through the fake Bot API as a Telegram client's would (a message, a tap),
then waits until the bot has handled it and sent what it queued, so the page and the
scenarios always see the bot's whole answer.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from bot.app import BotRuntime
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import TravelClock
from bot.sandbox.server import FakeBotApi
from bot.sandbox.users import GroupMember, SimUser

__all__ = ["ActionError", "Phone", "World"]

SETTLE_TIMEOUT = 30.0
PROVIDER_ID = 900_001
PROVIDER_NAME = "Dr. Rivera"
FIRST_PATIENT_ID = 700_001
# Telegram first names of the simulated patients: shown in their own phone only, never to
# the group (which sees the label).
NAMES = {"en": ("Alex", "Sam", "Jordan", "Robin", "Casey"), "es": ("Lucía", "Mateo", "Carmen")}
_INVITE_CODE = re.compile(r"start=([A-Za-z0-9_-]+)")


class ActionError(ValueError):
    """Something the page asked cannot be done (the message says why, for the page)."""


@dataclass(frozen=True, slots=True)
class Phone:
    """A simulated patient: their Telegram account and the label the team knows them by."""

    user: SimUser
    label: str
    locale: str

    @property
    def chat_id(self) -> int:
        """The private chat with the bot (Telegram: the user's id)."""
        return self.user.chat_id


class World:
    """The sandbox while it runs."""

    def __init__(
        self,
        server: FakeBotApi,
        bot: BotRuntime,
        clock: TravelClock,
        config: AppConfig,
        database: Path,
    ) -> None:
        self.server = server
        self.bot = bot
        self.clock = clock
        self.config = config
        self.database = database
        self.cohort: CohortConfig = config.cohorts[0]
        self.group = server.group(self.cohort.provider_chat_id)
        self.provider: GroupMember = self.group.member(
            PROVIDER_ID,
            PROVIDER_NAME,
            status="administrator",  # a clinician (docs/security.md)
        )
        self.phones: list[Phone] = []
        self.status = "Ready. Add a patient or play a scenario."
        self.lock = asyncio.Lock()
        """One action at a time: a scenario or a time jump is not interleaved with taps."""
        self._ids = itertools.count(FIRST_PATIENT_ID)
        self._labels = itertools.count(1)

    def say(self, status: str) -> None:
        """Show a line in the page's status bar."""
        self.status = status
        self.server.changed.notify()

    # --- waiting for the bot -------------------------------------------------------------

    async def settle(self, update_id: int | None = None) -> None:
        """Wait until the bot has handled ``update_id`` and sent everything due."""
        runtime = self.bot
        async with asyncio.timeout(SETTLE_TIMEOUT):
            if update_id is not None:
                # The processor has no per-update signal; a short poll costs nothing here.
                while update_id not in runtime.processor.completed:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            await runtime.processor.wait_idle()
            runtime.worker.wake()
            await runtime.worker.wait_idle()

    # --- what people do ------------------------------------------------------------------

    def phone(self, chat_id: int) -> Phone:
        """The patient whose chat this is."""
        for phone in self.phones:
            if phone.chat_id == chat_id:
                return phone
        raise ActionError(f"no patient phone with chat {chat_id}")

    def _actor(self, chat_id: int) -> SimUser | GroupMember:
        if chat_id == self.group.chat_id:
            return self.provider
        return self.phone(chat_id).user

    async def send(self, chat_id: int, text: str) -> None:
        """A patient (or the provider, in the group) sends a message."""
        text = text.strip()
        if not text:
            raise ActionError("Type a message first.")
        if len(text) > 4096:
            raise ActionError("Telegram messages are at most 4096 characters.")
        await self.settle(await self._actor(chat_id).send_text(text))

    async def press(self, chat_id: int, label: str, message_id: int | None = None) -> None:
        """A patient (or the provider) taps a button of a message."""
        try:
            update_id = await self._actor(chat_id).press(label, message_id=message_id)
        except LookupError as exc:
            raise ActionError(f"That button is gone ({label}).") from exc
        await self.settle(update_id)

    async def add_patient(self, locale: str, *, start: bool = True) -> Phone:
        """The provider asks for an invite with ``/invite`` in the group; a new patient opens
        it (``/start <code>``), which shows the consent message in their phone."""
        if locale not in NAMES:
            raise ActionError(f"No simulated patients speak {locale!r}.")
        number = next(self._labels)
        label = f"P-{number:03d}{'ES' if locale == 'es' else 'EN'}"
        await self.send(self.group.chat_id, f"/invite {label}")
        match = await self._invite_code(label)
        names = NAMES[locale]
        user_id = next(self._ids)
        name = names[(user_id - FIRST_PATIENT_ID) % len(names)]
        user = self.server.user(user_id, first_name=name, language_code=locale)
        phone = Phone(user, label, locale)
        self.phones.append(phone)
        if start:
            await self.send(phone.chat_id, f"/start {match}")
        return phone

    async def _invite_code(self, label: str) -> str:
        """The code in the bot's answer to ``/invite LABEL`` (it may wait for the group's
        minute when the team has had many messages: Telegram's 20 a minute)."""

        def find() -> str | None:
            for message in reversed(self.group.messages):
                if label in message.text and (match := _INVITE_CODE.search(message.text)):
                    return match.group(1)
            return None

        try:
            code: str | None = await self.server.wait_for(find, timeout=SETTLE_TIMEOUT + 40)
        except TimeoutError:
            code = None
        if code is None:
            raise ActionError(f"The bot made no invite for {label}.")
        return code

    async def tap(self, phone: Phone, *labels: str) -> None:
        """Tap buttons one after another in the patient's newest message that has each."""
        for label in labels:
            await self.press(phone.chat_id, label)
