"""Where a patient and an alert are in their lives, and the moves between, as pure functions.

Each move takes the current state and returns the state after it (a frozen dataclass the
service copies onto the row), or raises :class:`Refused` when the move is not allowed from
where the patient or alert is; the service turns a refusal into its usual answer. Each move is
written here once, whoever makes it (the patient, a provider, the delivery worker, a job).

Patient statuses::

    active ──pause──► paused ──resume (or the pause ends)──► active
    active, paused ──a 403 (they blocked the bot)──► unreachable ──they write──► as before
    active, paused, unreachable ──discharge──► discharged        (terminal)
    active, paused, unreachable ──withdraw───► withdrawn         (terminal)
    any ──erase──► withdrawn (a discharged patient stays discharged)

An unreachable patient remembers the status before (``status_before_unreachable``) and the
pause they were on: when they write again a pause that is still running goes on, with its
end unchanged; a pause that ended meanwhile leaves them active.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.schedule import next_occurrence, parse_hhmm, zone_or_error


class PatientStatus(StrEnum):
    """Where a patient is in the study (stored as the value)."""

    ACTIVE = "active"
    PAUSED = "paused"
    """No prompts until ``paused_until``."""
    UNREACHABLE = "unreachable"
    """They blocked the bot (a 403): no prompts until they write again."""
    WITHDRAWN = "withdrawn"
    """They stopped taking part (or erased their data). Terminal."""
    DISCHARGED = "discharged"
    """The care team ended their follow-up. Terminal."""


class AlertStatus(StrEnum):
    """Where an alert is for the care team (stored as the value)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


LEFT = frozenset({PatientStatus.WITHDRAWN, PatientStatus.DISCHARGED})
"""The patient is no longer followed: no prompts, no settings, nothing stored from them."""
TAKING_PART = frozenset({PatientStatus.ACTIVE, PatientStatus.PAUSED})
"""Followed and reachable: may be paused, may be told things."""
FOLLOWED = TAKING_PART | {PatientStatus.UNREACHABLE}
"""Still followed by the team (the digest counts them), reachable or not."""


class Refused(Exception):  # noqa: N818 - a refusal, not a failure
    """The move is not allowed from the current status (nothing changes)."""

    def __init__(self, move: str, status: str) -> None:
        super().__init__(f"cannot {move} from {status}")
        self.move = move
        self.status = status


@dataclass(frozen=True, slots=True)
class PatientState:
    """The lifecycle columns of a patient row."""

    status: PatientStatus
    paused_until: datetime | None = None
    status_before_unreachable: PatientStatus | None = None
    unreachable_since: datetime | None = None
    next_prompt_at: datetime | None = None
    withdrawn_at: datetime | None = None
    discharged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsualTime:
    """When the patient is prompted: local wall-clock time and time zone."""

    checkin_time: str
    timezone: str

    def next_after(self, now: datetime) -> datetime:
        """The next usual prompt after ``now``."""
        return next_occurrence(parse_hhmm(self.checkin_time), zone_or_error(self.timezone), now)


@dataclass(frozen=True, slots=True)
class Transition:
    """A move: the state before and after, and whether typed input in progress is dropped."""

    before: PatientState
    after: PatientState
    clears_awaiting: bool = False

    def changes(self) -> dict[str, object]:
        """The columns the move changes, with their new values."""
        return {
            f.name: getattr(self.after, f.name)
            for f in fields(PatientState)
            if getattr(self.after, f.name) != getattr(self.before, f.name)
        }


def _require(move: str, state: PatientState, allowed: frozenset[PatientStatus]) -> None:
    if state.status not in allowed:
        raise Refused(move, state.status)


def _active(state: PatientState, now: datetime, usual: UsualTime) -> PatientState:
    return replace(
        state,
        status=PatientStatus.ACTIVE,
        paused_until=None,
        status_before_unreachable=None,
        unreachable_since=None,
        next_prompt_at=usual.next_after(now),
    )


def pause(state: PatientState, now: datetime, days: int) -> Transition:
    """Pause for ``days`` from now (a running pause is replaced)."""
    _require("pause", state, TAKING_PART)
    if days < 1:
        raise ValueError("a pause lasts at least a day")
    after = replace(
        state,
        status=PatientStatus.PAUSED,
        paused_until=now + timedelta(days=days),
        next_prompt_at=None,
    )
    return Transition(state, after, clears_awaiting=True)


def resume(state: PatientState, now: datetime, usual: UsualTime) -> Transition:
    """End a pause (asked for, or over): prompted again at the next usual time."""
    _require("resume", state, frozenset({PatientStatus.PAUSED}))
    return Transition(state, _active(state, now, usual))


def withdraw(state: PatientState, now: datetime) -> Transition:
    """The patient stops taking part."""
    _require("withdraw", state, FOLLOWED)
    return Transition(state, _left(state, PatientStatus.WITHDRAWN, withdrawn_at=now), True)


def discharge(state: PatientState, now: datetime) -> Transition:
    """The care team ends the patient's follow-up."""
    _require("discharge", state, FOLLOWED)
    return Transition(state, _left(state, PatientStatus.DISCHARGED, discharged_at=now), True)


def erase(state: PatientState, now: datetime) -> Transition:
    """The patient's data was erased and a pseudonymous row stays: withdrawn, from any
    status (erasure is a data right, which outlives taking part), except that a discharged
    patient stays discharged (the care team ended the follow-up; housekeeping erases
    discharged patients' data, docs/privacy.md). ``withdrawn_at`` records the erasure when
    they had not withdrawn before."""
    withdrawn_at = state.withdrawn_at or now
    status = (
        PatientStatus.DISCHARGED
        if state.status is PatientStatus.DISCHARGED
        else PatientStatus.WITHDRAWN
    )
    return Transition(state, _left(state, status, withdrawn_at=withdrawn_at), True)


def _left(state: PatientState, status: PatientStatus, **when: datetime) -> PatientState:
    return replace(
        state,
        status=status,
        paused_until=None,
        status_before_unreachable=None,
        unreachable_since=None,
        next_prompt_at=None,
        **when,
    )


def mark_unreachable(state: PatientState, now: datetime) -> Transition:
    """A 403: the patient blocked the bot. Only someone taking part can become unreachable
    (a withdrawn or discharged patient who blocks the bot stays so); the status before is
    remembered, and a pause keeps its end. No prompt is planned (the due scan asks only
    active patients; coming back plans the next one)."""
    _require("mark unreachable", state, TAKING_PART)
    after = replace(
        state,
        status=PatientStatus.UNREACHABLE,
        status_before_unreachable=state.status,
        unreachable_since=now,
        next_prompt_at=None,
    )
    return Transition(state, after)


def mark_reachable(state: PatientState, now: datetime, usual: UsualTime) -> Transition:
    """The patient wrote again: back to the status before, a pause only while it runs."""
    _require("mark reachable", state, frozenset({PatientStatus.UNREACHABLE}))
    pause_runs = state.paused_until is not None and state.paused_until > now
    if state.status_before_unreachable is PatientStatus.PAUSED and pause_runs:
        after = replace(
            state,
            status=PatientStatus.PAUSED,
            status_before_unreachable=None,
            unreachable_since=None,
            next_prompt_at=None,
        )
        return Transition(state, after)
    return Transition(state, _active(state, now, usual))


def is_consistent(state: PatientState) -> bool:
    """The invariants every move keeps (the property tests check them)."""
    paused_before = state.status_before_unreachable is PatientStatus.PAUSED
    holds_pause = state.status is PatientStatus.PAUSED or (
        state.status is PatientStatus.UNREACHABLE and paused_before
    )
    unreachable = state.status is PatientStatus.UNREACHABLE
    return (
        (state.paused_until is not None) == holds_pause
        and (state.unreachable_since is not None) == unreachable
        and (state.status_before_unreachable in TAKING_PART if unreachable else True)
        and (state.status_before_unreachable is None or unreachable)
        and (state.next_prompt_at is None or state.status is PatientStatus.ACTIVE)
        and (state.withdrawn_at is not None or state.status is not PatientStatus.WITHDRAWN)
        and (state.discharged_at is not None or state.status is not PatientStatus.DISCHARGED)
    )


# --- alerts ---


@dataclass(frozen=True, slots=True)
class AlertState:
    """The status columns of an alert row (who pressed is kept by the service)."""

    status: AlertStatus
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


def acknowledge(state: AlertState, now: datetime) -> AlertState:
    """A provider acknowledged the alert (refused once acknowledged or resolved)."""
    if state.acknowledged_at is not None:
        raise Refused("acknowledge", state.status)
    status = AlertStatus.RESOLVED if state.resolved_at is not None else AlertStatus.ACKNOWLEDGED
    return replace(state, status=status, acknowledged_at=now)


def resolve(state: AlertState, now: datetime) -> AlertState:
    """A provider resolved the alert; resolving implies acknowledging (refused once resolved)."""
    if state.resolved_at is not None:
        raise Refused("resolve", state.status)
    acknowledged = state.acknowledged_at or now
    return replace(
        state, status=AlertStatus.RESOLVED, acknowledged_at=acknowledged, resolved_at=now
    )
