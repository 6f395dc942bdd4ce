"""Telegram's flood limits as sliding windows.

Pure logic with an injectable monotonic clock, so the windows can be unit-tested without
sleeping. Only message-producing methods are counted (``MESSAGE_METHODS``), and edits only in
their chat's window (``EDIT_METHODS``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EDIT_METHODS", "MESSAGE_METHODS", "SEND_METHODS", "Limits", "RateLimiter"]

SEND_METHODS: frozenset[str] = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "copyMessage", "forwardMessage", "sendMediaGroup"}
)
"""New messages: they count in the overall limits (free and paid) and in their chat's."""
EDIT_METHODS: frozenset[str] = frozenset({"editMessageText", "editMessageReplyMarkup"})
"""Edits count in their chat's limit only: Telegram's overall limit is for broadcasting (bulk
notifications), and an edit is "still subject to per chat limits" (docs/architecture.md,
"Telegram facts the design rests on")."""
MESSAGE_METHODS: frozenset[str] = SEND_METHODS | EDIT_METHODS


@dataclass(frozen=True, slots=True)
class Limits:
    """Flood limits applied to message-producing methods.

    Attributes:
        global_per_second: At most this many messages in any 1.0 s, over all chats.
        private: ``(count, window_seconds)`` for one private chat (positive chat id).
        group: ``(count, window_seconds)`` for one group chat (negative chat id).
        paid_per_second: At most this many messages in any 1.0 s when they are sent with
            ``allow_paid_broadcast`` (Telegram: 1,000); those do not count against
            ``global_per_second``, every message counts against this one.
        enabled: ``False`` turns every limit off.
        edits_count_overall: count edits in the overall limits too, as a Telegram that did
            so would (to test how the bot copes if we read Telegram wrong).
    """

    global_per_second: int = 30
    private: tuple[int, float] = (3, 1.0)
    group: tuple[int, float] = (20, 60.0)
    paid_per_second: int = 1000
    enabled: bool = True
    edits_count_overall: bool = False


class _Window:
    """Timestamps of admitted events inside one sliding window."""

    __slots__ = ("count", "events", "seconds")

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self.events: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until this window admits one more event (0 when it admits one now)."""
        cutoff = now - self.seconds
        events = self.events
        while events and events[0] <= cutoff:
            events.popleft()
        if len(events) < self.count:
            return 0.0
        # The event that must expire before a new one fits is the count-th newest.
        return events[len(events) - self.count] + self.seconds - now


class RateLimiter:
    """Decides whether a message-producing request is over one of Telegram's limits.

    Args:
        limits: The limits to enforce.
        clock: Monotonic time in seconds; inject a fake one in tests.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._global = _Window(limits.global_per_second, 1.0)
        self._paid = _Window(limits.paid_per_second, 1.0)
        self._chats: dict[int, _Window] = {}

    def _chat_window(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            count, seconds = self.limits.group if chat_id < 0 else self.limits.private
            window = self._chats[chat_id] = _Window(count, seconds)
        return window

    def retry_after(
        self, chat_id: int | None, *, paid: bool = False, broadcast: bool = True
    ) -> int | None:
        """Check a request without counting it.

        Args:
            chat_id: The target chat, or ``None`` when only the global limit applies.
            paid: Sent with ``allow_paid_broadcast``: the paid overall limit applies
                instead of the free one.
            broadcast: False for an edit: only the chat's limit applies.

        Returns:
            ``None`` if the request is admitted now, else whole seconds to wait (at least 1).
        """
        if not self.limits.enabled:
            return None
        broadcast = broadcast or self.limits.edits_count_overall
        now = self._clock()
        wait = 0.0
        if broadcast:
            wait = self._paid.wait(now)
        if broadcast and not paid:
            wait = max(wait, self._global.wait(now))
        if chat_id is not None:
            wait = max(wait, self._chat_window(chat_id).wait(now))
        if wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def record(self, chat_id: int | None, *, paid: bool = False, broadcast: bool = True) -> None:
        """Count an admitted request (call only after ``retry_after`` returned ``None``)."""
        if not self.limits.enabled:
            return
        broadcast = broadcast or self.limits.edits_count_overall
        now = self._clock()
        if broadcast:
            self._paid.events.append(now)
        if broadcast and not paid:
            self._global.events.append(now)
        if chat_id is not None:
            self._chat_window(chat_id).events.append(now)

    def try_acquire(
        self, chat_id: int | None, *, paid: bool = False, broadcast: bool = True
    ) -> int | None:
        """Check and, when admitted, count a request in one step.

        Returns:
            ``None`` when admitted (and counted), else the ``retry_after`` seconds.
        """
        wait = self.retry_after(chat_id, paid=paid, broadcast=broadcast)
        if wait is None:
            self.record(chat_id, paid=paid, broadcast=broadcast)
        return wait

    def reset(self) -> None:
        """Forget every counted request."""
        self._global = _Window(self.limits.global_per_second, 1.0)
        self._paid = _Window(self.limits.paid_per_second, 1.0)
        self._chats.clear()
