"""Update processing: concurrent across chats, in order within a chat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot.ops.logs import StateLog
from storage.db import is_unavailable

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Attempt:
    """One attempt at handling an update: did a handler fail because the database was down?"""

    unavailable: BaseException | None = None


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("moodcheck_update_attempt", default=None)


def note_failure(error: BaseException) -> bool:
    """Called by the error handler for a handler that raised: tell whether the error means
    the database was unavailable (the update must then be handled again later, and its
    failure is not worth a traceback). Handlers run in the task that called
    :meth:`ChatOrderedUpdateProcessor.handle`, so the attempt is found in the context."""
    if not is_unavailable(error):
        return False
    attempt = _ATTEMPT.get()
    if attempt is not None and attempt.unavailable is None:
        attempt.unavailable = error
    return True


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Handles updates of different chats at the same time, and one chat's updates in order.

    Two taps from one patient must be applied in the order they were made (docs/architecture.md,
    principle 3), while a slow database write for one patient must not hold up the others.
    It also counts what it has finished, which is how tests and shutdown know it is idle.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.completed: set[int] = set()
        """Update ids fully handled (bounded: trimmed when it grows large)."""
        self.observe: Callable[[float], None] | None = None
        """Called with each update's handling time in seconds (the metrics histogram)."""
        self.database = StateLog(logger, "database")
        """Whether the last update could reach the database (logged when that changes)."""
        self.unstored: Callable[[Update], Awaitable[None]] | None = None
        """Called for an update that could not be stored (the database is down): what the
        patient can be told without it (``bot.transport.offline``). Awaited before the update is
        answered as not taken, so it runs again on every attempt: it must remember."""
        self.slow: Callable[[Update], Awaitable[None]] | None = None
        """Called for an update still not handled after ``slow_after`` seconds."""
        self.slow_after = 0.5
        self._slow_tasks: set[asyncio.Future[None]] = set()

    async def handle(
        self, update: Update, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> bool:
        """Handle one update now; return whether its effects are stored (or it needed none),
        False when the database was unavailable and the update must come again.

        Used by the webhook (which answers 503 on False, so Telegram delivers it again) and
        the poller (which then does not confirm it). An update this process handled already
        is not handled again.
        """
        if update.update_id in self.completed:
            return True
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        # A database that hangs rather than refuses: what must not wait (a crisis card) goes
        # out after ``slow_after`` seconds without it. A timer, not a task: nearly every
        # update is done long before it fires.
        timer = (
            asyncio.get_running_loop().call_later(self.slow_after, self._on_slow, update)
            if self.slow is not None
            else None
        )
        try:
            await self.process_update(update, application.process_update(update))
        finally:
            _ATTEMPT.reset(token)
            if timer is not None:
                timer.cancel()
        now = time.monotonic()
        if attempt.unavailable is None:
            self.database.ok(now)
            return True
        self.database.failed(attempt.unavailable, now)
        await self.tell_unstored(update)
        return False

    def _on_slow(self, update: Update) -> None:
        if self.slow is not None:
            task = asyncio.ensure_future(self.slow(update))
            self._slow_tasks.add(task)
            task.add_done_callback(self._slow_tasks.discard)

    async def tell_unstored(self, update: Update) -> None:
        """An update that is not stored this time (failed, or waits behind one of its chat
        that failed): what the patient must see now (see ``unstored``)."""
        if self.unstored is None:
            return
        try:
            await self.unstored(update)
        except Exception:  # the update comes again either way
            logger.exception("could not answer an unstored update")

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Wait for updates being handled to finish."""
        await self._idle.wait()

    async def wait_idle(self) -> None:
        """Return once no update is being handled."""
        await self._idle.wait()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers under its chat's lock."""
        self._in_flight += 1
        self._idle.clear()
        started = [time.perf_counter()]
        try:
            await self._run(update, coroutine, started)
        finally:
            # Whatever happened above (an update malformed in a way PTB let through), the
            # count must come down, or shutdown waits for ever (issue 13).
            try:
                # Measured once the chat's lock is held: waiting for it is the previous
                # update's handling time, which is already counted.
                self._finished(update, time.perf_counter() - started[0])
            except Exception:  # bookkeeping must never fail an update
                logger.warning("could not record a handled update", exc_info=True)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _run(self, update: object, coroutine: Awaitable[Any], started: list[float]) -> None:
        chat = _chat_of(update)
        if chat is None:
            await coroutine
            return
        lock, users = self._locks.get(chat) or (asyncio.Lock(), 0)
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                started[0] = time.perf_counter()
                await coroutine
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)

    def _finished(self, update: object, elapsed: float) -> None:
        if self.observe is not None:
            self.observe(elapsed)
        if not isinstance(update, Update) or not isinstance(update.update_id, int):
            return
        attempt = _ATTEMPT.get()
        if attempt is not None and attempt.unavailable is not None:
            return  # not stored: it comes again
        logger.debug(
            "update handled",
            extra={
                "update_id": update.update_id,
                "chat_kind": _chat_kind(update),
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        if len(self.completed) > 100_000:
            self.completed.clear()
        self.completed.add(update.update_id)


def _chat_of(update: object) -> int | None:
    """The chat whose order an update keeps (None: no chat, or none we can read)."""
    if not isinstance(update, Update):
        return None
    try:
        chat = update.effective_chat
    except Exception:  # noqa: BLE001 - a malformed update has no usable chat
        return None
    return chat.id if chat is not None and isinstance(chat.id, int) else None


def _chat_kind(update: Update) -> str:
    try:
        chat = update.effective_chat
    except Exception:  # noqa: BLE001
        return ""
    return str(chat.type) if chat is not None else ""
