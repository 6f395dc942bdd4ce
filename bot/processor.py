"""Update processing: concurrent across chats, in order within a chat."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


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
        try:
            if chat is None:
                await coroutine
            else:
                lock, users = self._locks.get(chat) or (asyncio.Lock(), 0)
                self._locks[chat] = (lock, users + 1)
                try:
                    async with lock:
                        await coroutine
                finally:
                    lock, users = self._locks[chat]
                    if users == 1:
                        del self._locks[chat]
                    else:
                        self._locks[chat] = (lock, users - 1)
        finally:
            if isinstance(update, Update):
                if len(self.completed) > 100_000:
                    self.completed.clear()
                self.completed.add(update.update_id)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
