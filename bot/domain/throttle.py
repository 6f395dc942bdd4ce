"""How much the bot answers people who are not enrolled: per sender, and all together.

Pure: no I/O, time passed in (monotonic seconds). Someone who is not a patient (a stranger,
or someone guessing invite codes) gets a few answers a minute, then silence until the minute
has passed; all strangers together get a bounded number a minute, so that a flood of them
cannot crowd out the patients' prompts. Invite-code attempts have their own, tighter limits.
A crisis text is let through once in a while per sender beyond the limits: the crisis card
must reach someone who may be in danger, even in a flood.

State is in memory, per process (``docs/operations.md``, "Strangers and invite guessing").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a stranger's message asks of the bot."""

    MESSAGE = "message"
    """Any text or command: answered with an explanation (how to join)."""
    INVITE = "invite"
    """``/start <code>``: an invite code to look up."""
    CRISIS = "crisis"
    """Text with crisis words: the crisis card is shown."""


@dataclass(frozen=True, slots=True)
class StrangerLimits:
    """Events allowed per sliding window: (count, seconds)."""

    per_sender: tuple[int, float] = (3, 60.0)
    """Messages one stranger gets answered (invite attempts included)."""
    overall: tuple[int, float] = (30, 60.0)
    """Messages of all strangers together that are answered (a valid invite code aside:
    a clinic may enrol a whole cohort at once)."""
    invites_per_sender: tuple[int, float] = (5, 600.0)
    """Invite codes one stranger may try."""
    invites_overall: tuple[int, float] = (20, 60.0)
    """Refused invite codes (unknown, used or expired) of all strangers together: while a
    minute holds this many, no stranger's code is looked up."""
    crisis_per_sender: tuple[int, float] = (1, 600.0)
    """Crisis texts one stranger gets answered beyond the limits above."""
    max_senders: int = 20_000
    """Strangers remembered at once: beyond this (a flood of many accounts), a new one is
    treated as over the limit, so that memory stays bounded."""


class _Window:
    __slots__ = ("limit", "period", "stamps")

    def __init__(self, limit: tuple[int, float]) -> None:
        self.limit, self.period = limit
        self.stamps: deque[float] = deque()

    def room(self, now: float) -> bool:
        while self.stamps and now - self.stamps[0] >= self.period:
            self.stamps.popleft()
        return len(self.stamps) < self.limit

    def record(self, now: float) -> None:
        self.stamps.append(now)


class StrangerThrottle:
    """Decides, message by message, whether a stranger is answered."""

    def __init__(self, limits: StrangerLimits | None = None) -> None:
        self.limits = limits or StrangerLimits()
        self._overall = _Window(self.limits.overall)
        self._invites = _Window(self.limits.invites_overall)
        self._senders: dict[int, dict[Kind, _Window]] = {}

    def _windows(self, sender: int) -> dict[Kind, _Window] | None:
        windows = self._senders.get(sender)
        if windows is None:
            if len(self._senders) >= self.limits.max_senders:
                return None
            windows = self._senders[sender] = {
                Kind.MESSAGE: _Window(self.limits.per_sender),
                Kind.INVITE: _Window(self.limits.invites_per_sender),
                Kind.CRISIS: _Window(self.limits.crisis_per_sender),
            }
        return windows

    def admit(self, sender: int, kind: Kind, now: float) -> bool:
        """Tell whether a stranger's message is answered, and count it if so."""
        windows = self._windows(sender)
        if windows is None:
            return False
        if kind is Kind.CRISIS:
            if windows[Kind.MESSAGE].room(now) and self._overall.room(now):
                kind = Kind.MESSAGE  # within the ordinary limits: counts as any message
            elif windows[Kind.CRISIS].room(now):
                windows[Kind.CRISIS].record(now)
                return True
            else:
                return False
        if kind is Kind.INVITE:
            # A code is counted overall only once it is refused (``invite_refused``): valid
            # ones never hold anyone back.
            needed = [windows[Kind.MESSAGE], windows[Kind.INVITE]]
            if not self._invites.room(now):
                return False
        else:
            needed = [windows[Kind.MESSAGE], self._overall]
        if not all(window.room(now) for window in needed):
            return False
        for window in needed:
            window.record(now)
        return True

    def invite_refused(self, now: float) -> None:
        """Count a refused invite code (and the answer that says so) in the overall windows."""
        self._invites.record(now)
        self._overall.record(now)

    def forget_idle(self, now: float) -> None:
        """Drop senders with nothing left in any window (call now and then)."""
        for sender in [
            s
            for s, w in self._senders.items()
            if all(x.room(now) and not x.stamps for x in w.values())
        ]:
            del self._senders[sender]

    @property
    def senders(self) -> int:
        """Strangers remembered now."""
        return len(self._senders)
