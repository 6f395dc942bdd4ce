"""Update processing: concurrent across chats, in order within a chat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

logger = logging.getLogger(__name__)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Handles updates of different chats at the same time, and one chat's updates in order.

    Two taps from one patient must be applied in the order they were made (DESIGN.md
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
        chat = (
            update.effective_chat.id
            if isinstance(update, Update) and update.effective_chat
            else None
        )
        started = time.perf_counter()
        try:
            if chat is None:
                await coroutine
            else:
                lock, users = self._locks.get(chat) or (asyncio.Lock(), 0)
                self._locks[chat] = (lock, users + 1)
                try:
                    async with lock:
                        started = time.perf_counter()
                        await coroutine
                finally:
                    lock, users = self._locks[chat]
                    if users == 1:
                        del self._locks[chat]
                    else:
                        self._locks[chat] = (lock, users - 1)
        finally:
            # Measured once the chat's lock is held: waiting for it is the previous update's
            # handling time, which is already counted.
            elapsed = time.perf_counter() - started
            if self.observe is not None:
                self.observe(elapsed)
            if isinstance(update, Update):
                logger.debug(
                    "update handled",
                    extra={
                        "update_id": update.update_id,
                        "chat_kind": update.effective_chat.type if update.effective_chat else "",
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
                if len(self.completed) > 100_000:
                    self.completed.clear()
                self.completed.add(update.update_id)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
