"""Polling that confirms an update only once it is stored.

PTB's ``Updater`` confirms a batch of updates (the next ``getUpdates`` offset) as soon as it
has queued them, before they are handled: an update that then fails because the database is
down is gone (issue 13: 50 taps lost in a 20-s outage). This loop moves the offset only past
updates that are stored: the offset it confirms is the lowest update id not yet stored.

- Updates are handed to the processor as they come, each chat's in order, chats in parallel.
  The next ``getUpdates`` waits until the updates in progress are done, or ``overlap``
  seconds: a database that hangs does not stop new updates from being fetched (a crisis text
  behind a hanging tap still gets its card in time). Updates fetched again while still in
  progress are skipped.
- An update that could not be stored is fetched again ``retry_delay`` seconds later, until
  the database is back. A later update of the same chat is not handled while an earlier one
  waits (a later tap must not overtake the one before it); it gets what the patient must see
  at once (a crisis card, "could not save that") and waits too.
- A Bot API that cannot be reached is logged once when it goes and once when it comes back,
  with a growing pause between attempts (1 s doubling to 30 s), never a traceback per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, RetryAfter, TelegramError
from telegram.ext import Application

from bot.ops.logs import StateLog
from bot.transport.processor import ChatOrderedUpdateProcessor
from bot.transport.ratelimit import retry_after_seconds

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Poller:
    """Long-polls ``getUpdates`` and hands the updates to the processor."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        processor: ChatOrderedUpdateProcessor,
        *,
        allowed_updates: Sequence[str],
        timeout: int = 10,
        retry_delay: float = 1.0,
        overlap: float = 0.25,
    ) -> None:
        self._application = application
        self._processor = processor
        self._allowed = list(allowed_updates)
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.overlap = overlap
        self.api = StateLog(logger, "Telegram Bot API")
        self._next = 0
        """One past the highest update id fetched."""
        self._unstored: dict[int, float] = {}
        """Update ids fetched and not yet stored -> when to hand them over again (inf while
        one is in progress)."""
        self._chats: dict[object, deque[Update]] = {}
        self._held: dict[object, float] = {}
        """Chats with an update waiting for the database -> when it is tried again: until
        then their later updates wait as well, and then all go in order."""
        self._workers: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._waiting = False
        self._webhook_cleared = False

    @property
    def running(self) -> bool:
        """Whether the loop runs."""
        return self._task is not None and not self._task.done()

    @property
    def offset(self) -> int | None:
        """The offset that confirms exactly the stored updates (None before the first)."""
        if self._unstored:
            return min(self._unstored)
        return self._next or None

    def start(self) -> None:
        """Start polling in the background."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="moodcheck-poller")

    async def stop(self) -> None:
        """Stop fetching, let the updates in progress finish, confirm what was stored."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._waiting:
            task.cancel()  # a long poll in progress: nothing fetched is lost (not confirmed)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        if self.offset is not None:
            # Confirm, so the next start does not fetch again what was stored.
            with contextlib.suppress(TelegramError):
                await self._application.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    def _backoff(self) -> float:
        """The pause after a failed poll: ``retry_delay``, doubling up to MAX_BACKOFF."""
        doublings = max(0, min(self.api.failures - 1, 16))
        return min(MAX_BACKOFF, self.retry_delay * float(2**doublings))

    async def _run(self) -> None:
        while not self._stopping:
            try:
                updates = await self._fetch()
            except RetryAfter as exc:
                self.api.failed(exc, time.monotonic())
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except TelegramError as exc:  # network errors, timeouts, 5xx, a conflict
                self.api.failed(exc, time.monotonic())
                if isinstance(exc, Conflict):
                    self._webhook_cleared = False  # a webhook set after we started
                await asyncio.sleep(self._backoff())
                continue
            self.api.ok(time.monotonic())
            handed = self._hand_over(updates)
            if self._workers:
                await asyncio.wait(self._workers, timeout=self.overlap)
            elif updates and not handed:
                # Only updates waiting for the database came back: wait for their turn.
                await asyncio.sleep(self._until_retry())

    async def _fetch(self) -> tuple[Update, ...]:
        bot = self._application.bot
        if not self._webhook_cleared:
            # Polling and a webhook exclude each other; PTB's Updater did this on start.
            await bot.delete_webhook(drop_pending_updates=False)
            self._webhook_cleared = True
        # Something waiting to be tried again, or in progress: come back soon, not in 10 s.
        timeout = 0 if self._unstored else self.timeout
        self._waiting = True
        try:
            updates: tuple[Update, ...] = await bot.get_updates(
                offset=self.offset, timeout=timeout, allowed_updates=self._allowed
            )
            return updates
        finally:
            self._waiting = False

    def _until_retry(self) -> float:
        due = min(self._unstored.values(), default=0.0)
        return max(0.05, min(self.retry_delay, due - time.monotonic()))

    def _hand_over(self, updates: Sequence[Update]) -> int:
        """Give the processor what is new or due again; return how many."""
        now = time.monotonic()
        handed = 0
        for update in updates:
            update_id = update.update_id
            self._next = max(self._next, update_id + 1)
            if update_id in self._processor.completed:
                self._unstored.pop(update_id, None)
                continue
            if self._unstored.get(update_id, 0.0) > now:
                continue  # in progress, or not due again yet
            chat = update.effective_chat
            key: object = chat.id if chat is not None else ("update", update_id)
            held = self._held.get(key, 0.0) > now
            self._unstored[update_id] = float("inf")
            queue = self._chats.get(key)
            if queue is None:
                queue = self._chats[key] = deque()
                worker = asyncio.create_task(self._drain(key, queue, held=held))
                self._workers.add(worker)
                worker.add_done_callback(self._workers.discard)
            queue.append(update)
            handed += 1
        return handed

    async def _drain(self, key: object, queue: deque[Update], *, held: bool) -> None:
        """One chat's updates in order; after one that could not be stored, the rest wait
        (``held``: the chat waits already)."""
        try:
            while queue:
                update = queue.popleft()
                if held:
                    await self._processor.tell_unstored(update)
                    self._unstored[update.update_id] = self._held[key]
                    continue
                try:
                    stored = await self._processor.handle(update, self._application)
                except Exception:  # one bad update must not stop polling
                    logger.exception("update dropped", extra={"update_id": update.update_id})
                    stored = True
                if stored:
                    self._unstored.pop(update.update_id, None)
                else:
                    held = True
                    self._held[key] = time.monotonic() + self.retry_delay
                    self._unstored[update.update_id] = self._held[key]
        finally:
            self._chats.pop(key, None)
            if self._held.get(key, float("inf")) <= time.monotonic():
                self._held.pop(key, None)
