"""Telegram's sending limits, as a python-telegram-bot rate limiter.

Why not PTB's ``AIORateLimiter``: it is a leaky bucket (a burst of 20 to a group, then one
every 3 s, which puts 21+ messages in one 60 s window and breaks Telegram's 20/min group
limit), it has no per-private-chat limit, and on a 429 it pauses every request. This limiter
keeps sliding windows (overall, per group, per private chat) so that no window ever holds more
than the limit, and leaves a 429 to the delivery worker, which reschedules just that message
and pauses just that chat.

Edits (a patient's next question after a tap) count in their chat's window only, not in the
overall one (``EDIT_METHODS``), unless Telegram starts refusing them (``EDIT_REFUSALS``).
Urgent sends (a crisis card, an alert) go first: they take the
next free place of the overall window before any routine send (a scheduled prompt), and
while they come often, routine sends leave a couple of places free and go one at a time,
evenly spaced, instead of in quarter-second bursts, so that the next one finds a place at
once (docs/performance.md, "Taps during a fan-out").
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.domain.alert_layout import ALERT_RESERVE

logger = logging.getLogger(__name__)

PRUNE_EVERY = 1000
"""Sends between two sweeps of idle per-chat windows."""
PACE_SLICES = 4
"""The overall window is also kept in quarters (a quarter of the sends per quarter second):
a full second's sends in one burst, delayed a little on the way by a busy machine, can land
in the server's next window together with the next burst; quarter-bursts cannot overflow it
by much."""
URGENT_TICK = 0.005
"""How often a routine send looks again while an urgent one waits for room."""
URGENT_HEADROOM = 2
"""Places of the overall window that routine sends leave free while urgent sends are coming
(``SlidingWindowRateLimiter.urgent_coming``)."""
URGENT_GUARD = 0.05
"""Seconds an urgent send leaves a place of the overall window alone after it frees up: the
send that held it left a window ago by our clock, but may have reached the server later
than this one will (a busy machine, the network), and then the server still counts it. A
routine send that takes such a place risks a 429 that costs a prompt a second; an urgent
one waits a little instead, since a 429 would cost the crisis card or the alert a second or
more."""
URGENT_MEMORY = 10.0
"""Seconds over which urgent sends are counted (``URGENT_BUSY``)."""
URGENT_BUSY = 5
"""Urgent sends within ``URGENT_MEMORY`` seconds that make routine sends keep
``URGENT_HEADROOM`` and go evenly spaced: a burst of crisis cards or alerts, not one now and
then (which takes the next free place, within a quarter of a second, and is not worth a
tenth of every fan-out). With fewer, a fan-out has the whole overall window (and its
quarter-second bursts)."""

urgent_send: ContextVar[bool] = ContextVar("urgent_send", default=False)
"""Set by the delivery worker around a crisis card or an alert: such a send takes the next
free place in the overall window before any routine send that is waiting for one. In a group
only alerts are urgent (``bot.services.outbox.Priority``): every other group send (command
replies, notices, digests, edits, and any send made outside the delivery worker) leaves the
group's last ``Limits.group_reserve`` places of the minute to alerts."""

SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
"""New messages: each counts in the overall (broadcast) window and in its chat's."""
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
"""Changes to a message already sent: each counts in its chat's window only. Telegram's
overall limit is for broadcasting, bulk notifications to many users (the parameter that
lifts it, ``allow_paid_broadcast``, exists on send methods only), while an edit, the answer
to a patient's tap, is "still subject to per chat limits", in the words of Telegram's Bot
API maintainer (docs/architecture.md, "Telegram facts the design rests on"). Counting edits
in the overall window made 30 taps a second take the bot's whole budget and queue behind
one another for seconds."""
MESSAGE_METHODS = SEND_METHODS | EDIT_METHODS
"""Requests the limiter counts anywhere."""
EDIT_REFUSALS = 3
"""429s on edits within ``EDIT_REFUSAL_MEMORY`` seconds that make the limiter count edits in
the overall window again, for ``EDITS_COUNTED_FOR`` seconds. The limiter keeps every chat's
window, so refused edits mean Telegram counts more than the limiter does; the safe reading
is that it counts edits overall after all. Then taps wait for room behind prompts (as they
did before edits left the overall window) instead of the bot drawing 429s on every kind of
message, crisis cards included. A false alarm (a chat's own limit stricter than ours) costs
only that: taps slower during a fan-out for ten minutes."""
EDIT_REFUSAL_MEMORY = 60.0
EDITS_COUNTED_FOR = 600.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Sends allowed per sliding window. ``margin`` widens each window a little, because the
    server measures arrival times and requests in flight can arrive closer together than they
    left: 2 % (20 ms of a second) keeps a 429 rare, and the overall rate at 29.4 a second
    (docs/performance.md, "30 a second: the limiter's margin")."""

    overall: tuple[int, float] = (30, 1.0)
    group: tuple[int, float] = (20, 60.0)
    private: tuple[int, float] = (3, 1.0)
    margin: float = 0.02
    paid: tuple[int, float] | None = None
    """Sends allowed per window with ``allow_paid_broadcast`` (paid broadcast mode; Telegram:
    1,000 a second). Those do not count in ``overall``; every send counts in this one."""
    group_reserve: int = ALERT_RESERVE
    """Places of a group's window that only urgent sends (alerts) may take: a routine send
    waits while the window holds ``group[0] - group_reserve`` sends."""


class SlidingWindow:
    """At most ``limit`` events in any ``period`` seconds."""

    __slots__ = ("_limit", "_period", "_stamps")

    def __init__(self, limit: int, period: float) -> None:
        self._limit = limit
        self._period = period
        self._stamps: deque[float] = deque()

    @property
    def limit(self) -> int:
        """Events allowed per period."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = value

    def wait_time(self, now: float, cap: int | None = None, longer: float = 0.0) -> float:
        """Return how long until one more event fits (0 when it fits now); ``cap``: fit
        below this many events instead of the limit (a routine send's share of a group);
        ``longer``: as if the window were that much longer (an urgent send's guard)."""
        period = self._period + longer
        # The epsilon keeps float rounding from asking for a 1e-16 s wait.
        while self._stamps and now - self._stamps[0] >= period - 1e-9:
            self._stamps.popleft()
        limit = self._limit if cap is None else max(1, min(cap, self._limit))
        count = len(self._stamps)
        if count < limit:
            return 0.0
        # The event that must leave the window before one more fits is the limit-th newest.
        return period - (now - self._stamps[count - limit])

    def record(self, now: float) -> None:
        """Count an event at ``now``."""
        self._stamps.append(now)

    @property
    def empty(self) -> bool:
        """Tell whether the window holds no events."""
        return not self._stamps


def chat_key(data: dict[str, Any]) -> int | str | None:
    """Return the chat a request goes to, if it names one."""
    chat = data.get("chat_id")
    if isinstance(chat, int | str):
        try:
            return int(chat)
        except ValueError:
            return chat  # "@channelusername"
    return None


def is_group(chat: int | str) -> bool:
    """Group, supergroup and channel ids are negative; public ones may be @usernames."""
    return isinstance(chat, str) or chat < 0


def retry_after_seconds(exc: RetryAfter) -> float:
    """Return a 429's wait in seconds, whichever type PTB's migration setting gives us."""
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _slice(limit: int) -> int:
    return -(-limit // PACE_SLICES)  # rounded up: the slices together allow the whole


class SlidingWindowRateLimiter(BaseRateLimiter[None]):
    """Delays message-producing requests until every window they count in has room."""

    def __init__(
        self, limits: Limits | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = limits or Limits()
        self._now = monotonic
        scale = 1.0 + self._limits.margin
        self._overall = SlidingWindow(self._limits.overall[0], self._limits.overall[1] * scale)
        self._pace = SlidingWindow(
            _slice(self._limits.overall[0]), self._limits.overall[1] * scale / PACE_SLICES
        )
        paid = self._limits.paid or self._limits.overall
        self._paid = SlidingWindow(paid[0], paid[1] * scale)
        self._paid_pace = SlidingWindow(_slice(paid[0]), paid[1] * scale / PACE_SLICES)
        self._chats: dict[int | str, SlidingWindow] = {}
        self._paused_until: dict[int | str, float] = {}
        self._recent_urgent = SlidingWindow(URGENT_BUSY, URGENT_MEMORY)
        """Urgent sends of the last ``URGENT_MEMORY`` seconds, up to ``URGENT_BUSY`` of them
        counted (``urgent_coming``)."""
        self._last_routine = float("-inf")
        self._edit_refusals = SlidingWindow(EDIT_REFUSALS, EDIT_REFUSAL_MEMORY)
        self._edits_counted_until = float("-inf")
        self._scale = scale
        self._acquired = 0
        self._urgent_waiting = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _window(self, chat: int | str) -> SlidingWindow:
        window = self._chats.get(chat)
        if window is None:
            limit, period = self._limits.group if is_group(chat) else self._limits.private
            window = SlidingWindow(limit, period * self._scale)
            self._chats[chat] = window
        return window

    def share(self, workers: int) -> None:
        """Keep to 1/``workers`` of the overall limit: the other workers of the same bot
        token take the rest, so that together they stay within Telegram's.

        Several workers leave one message a second unused between them: their sends leave
        from different processes, whose delays on the way do not even out.
        """
        workers = max(1, workers)
        spare = 1 if workers > 1 else 0
        self._overall.limit = max(1, (self._limits.overall[0] - spare) // workers)
        self._pace.limit = _slice(self._overall.limit)
        paid = (self._limits.paid or self._limits.overall)[0]
        self._paid.limit = max(1, (paid - spare) // workers)
        self._paid_pace.limit = _slice(self._paid.limit)

    @property
    def paid_limit(self) -> int:
        """Paid broadcasts this process allows itself per window (``Limits.paid``)."""
        return self._paid.limit

    @property
    def urgent_waiting(self) -> int:
        """Urgent sends waiting for room in the overall window (routine sends wait for them)."""
        return self._urgent_waiting

    @property
    def overall_limit(self) -> int:
        """Sends this process allows itself per overall window."""
        return self._overall.limit

    def chat_wait(self, chat: int | str, *, urgent: bool = False) -> float:
        """Return how long a message to ``chat`` would wait for its chat's window (a group's
        20 a minute, 16 of them for a routine message); the overall window, which frees up
        within a second, and a 429's pause, which the outbox row's own retry time already
        covers, aside."""
        window = self._chats.get(chat)
        if window is None:
            return 0.0
        return window.wait_time(self._now(), self._cap(chat, urgent=urgent))

    def _cap(self, chat: int | str, *, urgent: bool) -> int | None:
        """The most sends a chat's window may hold before this one: a routine send to a
        group leaves the alert reserve free (None: the window's own limit)."""
        if urgent or not is_group(chat):
            return None
        return self._limits.group[0] - self._limits.group_reserve

    def urgent_coming(self, now: float | None = None) -> bool:
        """Whether ``URGENT_BUSY`` urgent sends went in the last ``URGENT_MEMORY`` seconds:
        routine sends then leave ``URGENT_HEADROOM`` places of the overall window free and go
        one at a time, at most one per 1/limit of the window.

        Urgent sends come one by one, prompts by the thousand. Without free places an
        urgent send waits for the next place a prompt frees, and prompts take theirs in
        bursts a quarter of a second apart (``PACE_SLICES``): the place a burst frees goes to
        the next burst. With them, an urgent send takes a free place at once, and the next
        place to free up (routine sends leave it) restores the headroom; evenly spaced
        prompts free their places evenly. A window short of full and no bursts also make a
        429 less likely when sends bunch up on the way (a 429 holds a crisis card a second
        or more). Prompts lose little: a tenth of their places while urgent sends come.
        (Taps' edits are not urgent sends here: they take no place of the overall window,
        ``EDIT_METHODS``, unless Telegram has refused edits lately, ``EDIT_REFUSALS``.)"""
        now = self._now() if now is None else now
        return self._recent_urgent.wait_time(now) > 0  # the window holds URGENT_BUSY

    def _overall_wait(self, now: float, *, paid: bool, urgent: bool = False) -> float:
        """How long until the overall windows have room: a paid broadcast's only the paid
        ones (all sends count there), any other send's the free ones as well. An urgent send
        waits for a place in the window only, not for the pace's next quarter; a routine one
        leaves room for urgent ones while they are coming (``urgent_coming``)."""
        wait = 0.0
        if self._limits.paid is not None:
            wait = self._paid.wait_time(now)
            if not urgent:
                wait = max(wait, self._paid_pace.wait_time(now))
            if paid:
                return wait
        if urgent:
            return max(wait, self._overall.wait_time(now, longer=URGENT_GUARD))
        wait = max(wait, self._pace.wait_time(now))
        if not self.urgent_coming(now):
            return max(wait, self._overall.wait_time(now))
        limit = self._overall.limit
        spacing = self._limits.overall[1] * self._scale / limit
        return max(
            wait,
            # Counted as an urgent send counts, so that it finds the headroom free.
            self._overall.wait_time(now, limit - URGENT_HEADROOM, longer=URGENT_GUARD),
            self._last_routine + spacing - now,
        )

    async def acquire(
        self,
        chat: int | str | None,
        *,
        urgent: bool | None = None,
        paid: bool = False,
        broadcast: bool = True,
    ) -> None:
        """Wait until a message to ``chat`` fits every window, then count it.

        ``paid``: sent with ``allow_paid_broadcast`` (it counts in the paid windows only;
        without ``Limits.paid`` it is an ordinary send). ``broadcast``: False for an edit
        (``EDIT_METHODS``), which counts in its chat's window only.

        An urgent send (default: the ``urgent_send`` context) whose chat has room goes
        before routine sends waiting for room in the overall window. One still waiting for
        its own chat's window (a group at 20 a minute) holds nobody back meanwhile. A
        routine send to a group waits while its window holds all but the alert reserve.
        """
        if urgent is None:
            urgent = urgent_send.get()
        cap = None if chat is None else self._cap(chat, urgent=urgent)
        holding = False
        try:
            while True:
                now = self._now()
                wait = 0.0
                if chat is not None:
                    wait = max(
                        self._window(chat).wait_time(now, cap),
                        self._paused_until.get(chat, 0.0) - now,
                    )
                if broadcast:
                    chat_ready = wait <= 0
                    wait = max(wait, self._overall_wait(now, paid=paid, urgent=urgent))
                    if urgent:
                        if holding != chat_ready:
                            holding = not holding
                            self._urgent_waiting += 1 if holding else -1
                    elif self._urgent_waiting:
                        wait = max(wait, URGENT_TICK)
                if wait <= 0:
                    self._record(chat, now, paid=paid, urgent=urgent, broadcast=broadcast)
                    return
                await asyncio.sleep(wait)
        finally:
            if holding:
                self._urgent_waiting -= 1

    def _record(
        self,
        chat: int | str | None,
        now: float,
        *,
        paid: bool = False,
        urgent: bool = False,
        broadcast: bool = True,
    ) -> None:
        self._acquired += 1
        if self._acquired % PRUNE_EVERY == 0:
            self.forget_idle_chats()
        if chat is not None:
            self._window(chat).record(now)
            self._paused_until.pop(chat, None)
        if not broadcast:
            return
        if urgent:
            self._recent_urgent.record(now)
        elif not paid or self._limits.paid is None:
            self._last_routine = now
        if self._limits.paid is not None:
            self._paid.record(now)
            self._paid_pace.record(now)
        if not paid or self._limits.paid is None:
            self._overall.record(now)
            self._pace.record(now)

    def edits_count_overall(self, now: float | None = None) -> bool:
        """Whether edits count in the overall window for now (``EDIT_REFUSALS``)."""
        return (self._now() if now is None else now) < self._edits_counted_until

    def edit_refused(self) -> None:
        """Note a 429 on an edit; at the ``EDIT_REFUSALS``-th within ``EDIT_REFUSAL_MEMORY``
        seconds, count edits in the overall window for ``EDITS_COUNTED_FOR`` seconds."""
        now = self._now()
        self._edit_refusals.record(now)
        if self._edit_refusals.wait_time(now) > 0 and not self.edits_count_overall(now):
            self._edits_counted_until = now + EDITS_COUNTED_FOR
            logger.warning(
                "Telegram refused %d edits within %.0f s: edits now count in the overall "
                "limit for %.0f s, as if Telegram counted them there",
                EDIT_REFUSALS,
                EDIT_REFUSAL_MEMORY,
                EDITS_COUNTED_FOR,
            )

    def pause(self, chat: int | str, seconds: float) -> None:
        """Send nothing more to ``chat`` for a while (Telegram said retry_after)."""
        self._paused_until[chat] = self._now() + seconds

    def forget_idle_chats(self) -> None:
        """Drop the windows of chats with no send inside their window, so that memory stays
        flat however many patients the bot has written to (called every PRUNE_EVERY sends)."""
        now = self._now()
        for chat in [c for c, w in self._chats.items() if w.wait_time(now) == 0 and w.empty]:
            del self._chats[chat]

    @property
    def tracked_chats(self) -> int:
        """How many chats have a window right now."""
        return len(self._chats)

    async def process_request(  # noqa: PLR0917 - PTB's signature
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,  # noqa: ARG002 - PTB's signature
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for room if the request sends a message, then make it.

        A 429 is not retried here: it propagates to the caller (the delivery worker), after
        pausing the chat it concerns.
        """
        chat = chat_key(data)
        if endpoint in MESSAGE_METHODS:
            await self.acquire(
                chat,
                paid=data.get("allow_paid_broadcast") is True,
                broadcast=endpoint in SEND_METHODS or self.edits_count_overall(),
            )
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            if chat is not None:
                self.pause(chat, retry_after_seconds(exc))
            if endpoint in EDIT_METHODS:
                self.edit_refused()
            raise
