"""Laying out alert events in provider-group messages, and when an URGENT one is due for review.

Pure: no I/O. Telegram lets a bot post 20 messages a minute to one group, so a burst of alert
events is coalesced: several events share a message, IMMEDIATE ones first, and nothing is
dropped (an event that does not fit this minute's budget waits for the next flush).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar

from bot.domain.alerts import Tier
from bot.domain.coverage import Coverage
from bot.domain.schedule import wall_time_to_utc

T = TypeVar("T")

TELEGRAM_TEXT_LIMIT = 4096
"""Characters in one message's text."""
GROUP_LIMIT = 20
"""Messages Telegram accepts to one group in any 60 s."""
ALERT_RESERVE = 4
"""Places of a group's 60 s that only alerts (IMMEDIATE and URGENT) may take: command
replies, notices, digests, ROUTINE alerts and edits together use at most
``GROUP_LIMIT - ALERT_RESERVE`` (the rate limiter, ``bot.transport.ratelimit``, holds them to
it)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """How many group messages the announcer may start now.

    Attributes:
        total: Messages still free in the announcer's share of the group's minute.
        reserve: Of those, how many only a message with an IMMEDIATE event may take, so that
            a burst of URGENT events never makes an IMMEDIATE one wait for the next minute.
    """

    total: int
    reserve: int = 0

    def allows(self, messages_so_far: int, *, immediate: bool) -> bool:
        """Tell whether one more message fits (an IMMEDIATE one may use the reserve)."""
        cap = self.total if immediate else self.total - self.reserve
        return messages_so_far < cap


def group_budget(*, share: int, reserve: int, alerts_used: int, routine_used: int) -> Budget:
    """Return the announcer's budget in a group now.

    ``alerts_used`` and ``routine_used``: the group's alert and other messages waiting or
    sent in the last 60 s. Routine messages never take more than ``GROUP_LIMIT -
    ALERT_RESERVE`` places (the rate limiter holds the rest back), so however busy the team
    is with commands, alerts keep ``ALERT_RESERVE`` places; in a calm group they keep to
    ``share``, which leaves room for the edits acknowledgements cause. When routine messages
    fill their part, URGENT events may take half of the reserve: they wait for room, but not
    for as long as the team keeps typing; IMMEDIATE ones keep the other half.
    """
    routine_cap = GROUP_LIMIT - ALERT_RESERVE
    routine = min(routine_used, routine_cap)
    total = max(0, min(share, GROUP_LIMIT - routine) - alerts_used)
    if routine >= routine_cap:
        reserve = min(reserve, ALERT_RESERVE // 2)
    return Budget(total=total, reserve=reserve)


def event_order(
    tier: Tier, raised_at: datetime, head_id: int, *, top: bool = False
) -> tuple[int, bool, datetime, int]:
    """Sort key of events in a message and in the queue: IMMEDIATE first, then within a tier
    the top-priority events (PHQ-9 item 9 = 2-3, docs/clinical.md §2.1), then oldest."""
    return (tier.rank, not top, raised_at, head_id)


def pack(
    events: Sequence[T],
    *,
    budget: Budget,
    immediate: Callable[[T], bool],
    fits: Callable[[Sequence[T]], bool],
) -> list[list[T]]:
    """Split waiting events (already in :func:`event_order`) into the messages to post now.

    When the budget has a message for every event, each event gets its own message (the
    clearest layout). Otherwise events are packed in order, each message as full as ``fits``
    allows, into as few messages as possible; what the budget cannot take now waits (it is
    returned in no message). An event that does not fit even alone still gets a message of
    its own: nothing is dropped.
    """
    if not events:
        return []
    if all(budget.allows(i, immediate=immediate(e)) for i, e in enumerate(events)):
        return [[event] for event in events]
    messages: list[list[T]] = []
    current: list[T] = []
    for event in events:
        if current and fits([*current, event]):
            current.append(event)
            continue
        if current:
            messages.append(current)
            current = []
        if not budget.allows(len(messages), immediate=immediate(event)):
            return messages  # in order: everything after this waits too
        current = [event]
    messages.append(current)
    return messages


def chunk(events: Sequence[T], *, fits: Callable[[Sequence[T]], bool]) -> list[list[T]]:
    """Split events (in order) into as few messages as ``fits`` allows, with no budget: each
    message as full as it can be, an event that does not fit even alone in its own."""
    messages: list[list[T]] = []
    for event in events:
        if messages and fits([*messages[-1], event]):
            messages[-1].append(event)
        else:
            messages.append([event])
    return messages


def review_by(raised_at: datetime, coverage: Coverage | None, business_hours: int = 4) -> datetime:
    """Return when the care team should have reviewed an URGENT event (docs/clinical.md §3.2).

    In coverage hours: ``business_hours`` of covered time later (carried into the next
    covered day when today's end comes first). Outside them: noon of the next covered day to
    begin (kept inside that day's hours). Without coverage hours the team is taken to be
    always watching, as everywhere else: ``business_hours`` later.
    """
    if raised_at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    left = timedelta(hours=business_hours)
    if coverage is None:
        return raised_at + left
    if not coverage.covers(raised_at):
        start, end = _next_day_bounds(coverage, raised_at)
        noon = wall_time_to_utc(start.astimezone(coverage.zone).date(), time(12), coverage.zone)
        return min(max(noon, start), end)
    at = raised_at
    while True:
        end = coverage.end_of_business_day(at)
        if at + left <= end:
            return at + left
        left -= end - at
        at, _ = _next_day_bounds(coverage, end)


def _next_day_bounds(coverage: Coverage, after: datetime) -> tuple[datetime, datetime]:
    """Return the start and end of the first covered day that starts after ``after``."""
    day = after.astimezone(coverage.zone).date()
    for offset in range(9):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() not in coverage.days:
            continue
        start = wall_time_to_utc(candidate, coverage.start, coverage.zone)
        if start > after:
            return start, wall_time_to_utc(candidate, coverage.end, coverage.zone)
    raise AssertionError("unreachable: a covered day recurs within a week")
