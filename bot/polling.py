"""Polling that confirms an update only once it is stored.

PTB's ``Updater`` confirms a batch of updates (the next ``getUpdates`` offset) as soon as it
has queued them, before they are handled: an update that then fails because the database is
down is gone (issue 13: 50 taps lost in a 20-s outage). This loop handles a batch first and
moves the offset only past what is stored. An update that could not be stored is fetched again
(every ``retry_delay`` seconds) until the database is back; updates this process finished
meanwhile are skipped by the processor, and the services' update-id claim makes any repeat
harmless.

Within a chat, an update is not handled while an earlier one of the same chat is waiting to be
stored: a later tap must not overtake the one before it. Such updates get what the patient
must see at once (a crisis card, "could not save that") like the one that failed.

A Bot API that cannot be reached is logged once when it goes and once when it comes back,
with a growing pause between attempts (1 s doubling to 30 s), never a traceback per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, RetryAfter, TelegramError
from telegram.ext import Application

from bot.logs import StateLog
from bot.processor import ChatOrderedUpdateProcessor
from bot.ratelimit import retry_after_seconds

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Poller:
    """Long-polls ``getUpdates`` and hands each batch to the processor."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        processor: ChatOrderedUpdateProcessor,
        *,
        allowed_updates: Sequence[str],
        timeout: int = 10,
        retry_delay: float = 1.0,
    ) -> None:
        self._application = application
        self._processor = processor
        self._allowed = list(allowed_updates)
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.api = StateLog(logger, "Telegram Bot API")
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._waiting = False
        self._webhook_cleared = False

    @property
    def running(self) -> bool:
        """Whether the loop runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start polling in the background."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="moodcheck-poller")

    async def stop(self) -> None:
        """Stop after the batch in progress; confirm what was stored."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._waiting:
            task.cancel()  # a long poll in progress: nothing fetched is lost (not confirmed)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._offset is not None:
            # Confirm the last batch, so the next start does not fetch it again.
            with contextlib.suppress(TelegramError):
                await self._application.bot.get_updates(offset=self._offset, timeout=0, limit=1)

    async def _run(self) -> None:
        backoff = self.retry_delay
        while not self._stopping:
            try:
                updates = await self._fetch()
            except RetryAfter as exc:
                self.api.failed(exc, time.monotonic())
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except Conflict as exc:
                # Another poller, or a webhook set after we started: say so once, try again.
                self.api.failed(exc, time.monotonic())
                self._webhook_cleared = False
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            except TelegramError as exc:  # network errors, timeouts, 5xx
                self.api.failed(exc, time.monotonic())
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            self.api.ok(time.monotonic())
            backoff = self.retry_delay
            if not updates:
                continue
            if not await self._handle(updates):
                await asyncio.sleep(self.retry_delay)

    async def _fetch(self) -> tuple[Update, ...]:
        bot = self._application.bot
        if not self._webhook_cleared:
            # Polling and a webhook exclude each other; PTB's Updater did this on start.
            await bot.delete_webhook(drop_pending_updates=False)
            self._webhook_cleared = True
        self._waiting = True
        try:
            updates: tuple[Update, ...] = await bot.get_updates(
                offset=self._offset, timeout=self.timeout, allowed_updates=self._allowed
            )
            return updates
        finally:
            self._waiting = False

    async def _handle(self, updates: Sequence[Update]) -> bool:
        """Handle a batch, chats in parallel and each chat in order; move the offset past
        what was stored. Return whether everything was."""
        chats: dict[object, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            chats.setdefault(
                chat.id if chat is not None else ("update", update.update_id), []
            ).append(update)
        waiting = await asyncio.gather(*(self._chat(batch) for batch in chats.values()))
        unstored = [update_id for ids in waiting for update_id in ids]
        self._offset = min(unstored) if unstored else updates[-1].update_id + 1
        return not unstored

    async def _chat(self, updates: list[Update]) -> list[int]:
        """One chat's updates in order; stop at the first that could not be stored. Return
        the ids not stored."""
        for index, update in enumerate(updates):
            try:
                stored = await self._processor.handle(update, self._application)
            except Exception:  # one bad update must not stop polling
                logger.exception("update dropped", extra={"update_id": update.update_id})
                stored = True
            if not stored:
                later = updates[index + 1 :]
                for waiting in later:
                    await self._processor.tell_unstored(waiting)
                return [update.update_id, *(u.update_id for u in later)]
        return []
