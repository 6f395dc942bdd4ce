"""A change notifier that lets tests wait for server state without polling sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

__all__ = ["ChangeNotifier"]

T = TypeVar("T")


class ChangeNotifier:
    """Wakes every waiter whenever ``notify`` is called.

    ``notify`` is synchronous and cheap when nobody waits (the server calls it after every
    request and every enqueued update), unlike ``asyncio.Condition.notify_all`` which needs
    the lock held.
    """

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self.version = 0

    def notify(self) -> None:
        """Record a change and wake all current waiters."""
        self.version += 1
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    # The timeout parameters are the documented harness API (wait_for(pred, timeout=5.0)).
    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait for the next change.

        Returns:
            ``True`` if a change happened, ``False`` on timeout.
        """
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-evaluated after every change, never on a timer.

        Args:
            predicate: Synchronous check of the server state.
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: If the predicate is still falsy after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self.wait(remaining):
                result = predicate()
                if result:
                    return result
                raise TimeoutError(f"sandbox condition not met within {timeout:g} s")
