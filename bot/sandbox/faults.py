"""Run-time fault injection for the fake Bot API.

Faults model what a bot meets in production: 5xx answers, unexpected 429s, connections
closed before the answer (either before the request was processed or after, i.e. "the
message was sent but the reply was lost") and slow answers.

A fault with ``method=None`` matches every method except ``getUpdates``: the bot polls
continuously, so "fail the next request" would otherwise nearly always hit the poll.
Name ``"getUpdates"`` explicitly to disturb polling.
"""

from __future__ import annotations

import random as _random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["FAULT_KINDS", "FaultAction", "FaultInjector", "FaultKind"]

FaultKind = Literal["5xx", "429", "drop", "drop_after", "delay"]
FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "429", "drop", "drop_after", "delay")
_POLL = "getupdates"


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One fault to apply to one request.

    Attributes:
        kind: ``"5xx"``, ``"429"``, ``"drop"`` (close before processing), ``"drop_after"``
            (process, then close without answering) or ``"delay"``.
        status: HTTP status for ``"5xx"``.
        retry_after: Seconds announced by ``"429"``.
        seconds: Sleep for ``"delay"``; on other kinds, a delay applied before them.
    """

    kind: FaultKind
    status: int = 500
    retry_after: int = 2
    seconds: float = 0.0

    @property
    def label(self) -> str:
        """Short description for the request log, e.g. ``5xx:502`` or ``delay:0.2s``."""
        delay = f"delay:{self.seconds:g}s"
        if self.kind == "delay":
            return delay
        if self.kind == "5xx":
            label = f"5xx:{self.status}"
        elif self.kind == "429":
            label = f"429:retry_after={self.retry_after}"
        else:
            label = self.kind
        return f"{label}+{delay}" if self.seconds > 0 else label


@dataclass(slots=True)
class _Rule:
    action: FaultAction
    method: str | None  # lower-case
    chat_id: int | None
    times: int | None  # None = until cleared

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is None:
            if method == _POLL:
                return False
        elif self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass(slots=True)
class _RandomFaults:
    rate: float
    kinds: tuple[FaultKind, ...]
    rng: _random.Random
    methods: frozenset[str] | None  # lower-case
    delay_seconds: float
    retry_after: int


def _norm(method: str | None) -> str | None:
    return method.lower() if method is not None else None


class FaultInjector:
    """Queue of faults the server applies to matching requests.

    One-shot faults are consumed in the order they were added; ``delay`` applies until
    ``clear`` (or for ``times`` requests); ``random`` faults apply after explicit ones.
    """

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._random: _RandomFaults | None = None

    def fail_next(
        self,
        method: str | None = None,
        status: int = 500,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with a 5xx error, unprocessed."""
        if not 500 <= status <= 599:
            raise ValueError(f"fail_next status must be 5xx, got {status}")
        self._add(FaultAction("5xx", status=status), method, chat_id, times)

    def rate_limit_next(
        self,
        method: str | None = None,
        retry_after: int = 2,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with 429 and ``retry_after``."""
        self._add(FaultAction("429", retry_after=retry_after), method, chat_id, times)

    def drop_next(
        self,
        method: str | None = None,
        times: int = 1,
        after_processing: bool = False,
        chat_id: int | None = None,
    ) -> None:
        """Close the connection of the next ``times`` matching requests without answering.

        With ``after_processing=True`` the request takes effect first (the message is
        delivered), modelling a reply lost on the way back.
        """
        kind: FaultKind = "drop_after" if after_processing else "drop"
        self._add(FaultAction(kind), method, chat_id, times)

    def delay(
        self,
        method: str | None = None,
        seconds: float = 0.2,
        times: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Delay matching requests by ``seconds`` (all of them until ``clear``, or ``times``)."""
        rule = _Rule(FaultAction("delay", seconds=seconds), _norm(method), chat_id, times)
        self._delays.append(rule)

    def random(
        self,
        rate: float = 0.1,
        kinds: Iterable[FaultKind] = ("5xx", "drop"),
        *,
        seed: int = 0,
        methods: Collection[str] | None = None,
        delay_seconds: float = 0.2,
        retry_after: int = 1,
    ) -> None:
        """Inject a fault into a ``rate`` fraction of matching requests, reproducibly.

        Args:
            rate: Probability in [0, 1] that a matching request gets a fault.
            kinds: Fault kinds to choose from uniformly.
            seed: Seed of the private random generator.
            methods: Method names to disturb; ``None`` means all but ``getUpdates``.
            delay_seconds: Sleep used by ``"delay"`` faults.
            retry_after: Seconds announced by ``"429"`` faults.
        """
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be a non-empty subset of {FAULT_KINDS}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        self._random = _RandomFaults(
            rate,
            kinds,
            _random.Random(seed),  # noqa: S311 - reproducible test faults, not security
            frozenset(m.lower() for m in methods) if methods is not None else None,
            delay_seconds,
            retry_after,
        )

    def clear(self) -> None:
        """Remove every pending, persistent and random fault."""
        self._rules.clear()
        self._delays.clear()
        self._random = None

    @property
    def pending(self) -> int:
        """Number of one-shot faults not yet consumed."""
        return sum(rule.times or 0 for rule in self._rules)

    def _add(
        self, action: FaultAction, method: str | None, chat_id: int | None, times: int
    ) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self._rules.append(_Rule(action, _norm(method), chat_id, times))

    @staticmethod
    def _consume(rules: list[_Rule], method: str, chat_id: int | None) -> FaultAction | None:
        for index, rule in enumerate(rules):
            if rule.matches(method, chat_id):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        del rules[index]
                return rule.action
        return None

    def take_delay(self, method: str, chat_id: int | None) -> FaultAction | None:
        """Return (and consume) the delay that applies to this request, if any."""
        if not self._delays:
            return None
        return self._consume(self._delays, method.lower(), chat_id)

    def take(self, method: str, chat_id: int | None) -> FaultAction | None:
        """Return (and consume) the fault for this request, if any, delays excluded."""
        lowered = method.lower()
        if self._rules:
            action = self._consume(self._rules, lowered, chat_id)
            if action is not None:
                return action
        rnd = self._random
        if rnd is None:
            return None
        if rnd.methods is None:
            if lowered == _POLL:
                return None
        elif lowered not in rnd.methods:
            return None
        if rnd.rng.random() >= rnd.rate:
            return None
        kind = rnd.rng.choice(rnd.kinds)
        seconds = rnd.delay_seconds if kind == "delay" else 0.0
        return FaultAction(kind, seconds=seconds, retry_after=rnd.retry_after)
