"""The patient and alert lifecycles (bot/domain/lifecycle.py): every sequence of moves leaves
a consistent state; refused moves change nothing; the terminal statuses stay terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import lifecycle as lc
from bot.domain.lifecycle import AlertStatus, PatientState, PatientStatus, Refused, Transition

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USUAL = lc.UsualTime("09:00", "Europe/Madrid")

Move = Callable[[PatientState, datetime], Transition]
MOVES: dict[str, Callable[[int], Move]] = {
    "pause": lambda days: lambda s, now: lc.pause(s, now, days),
    "resume": lambda _: lambda s, now: lc.resume(s, now, USUAL),
    "withdraw": lambda _: lc.withdraw,
    "discharge": lambda _: lc.discharge,
    "erase": lambda _: lc.erase,
    "mark_unreachable": lambda _: lc.mark_unreachable,
    "mark_reachable": lambda _: lambda s, now: lc.mark_reachable(s, now, USUAL),
}

steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(MOVES)),
        st.integers(min_value=1, max_value=60),  # days of a pause
        st.integers(min_value=0, max_value=30 * 24 * 60),  # minutes since the last move
    ),
    max_size=25,
)


def _enrolled() -> PatientState:
    return PatientState(PatientStatus.ACTIVE, next_prompt_at=USUAL.next_after(START))


@given(steps)
def test_every_sequence_of_moves_leaves_a_consistent_patient(
    sequence: list[tuple[str, int, int]],
) -> None:
    state, now = _enrolled(), START
    assert lc.is_consistent(state)
    for name, days, minutes in sequence:
        now += timedelta(minutes=minutes)
        before = state
        try:
            transition = MOVES[name](days)(state, now)
        except Refused:
            continue  # a refusal changes nothing
        assert transition.before == before
        state = transition.after
        assert lc.is_consistent(state), (name, before, state)
        # Withdrawn and discharged are terminal: only erasure follows them, and keeps the
        # status (a discharged patient whose data is erased stays discharged).
        if before.status in lc.LEFT:
            assert name == "erase" and state.status is before.status
        elif name == "erase":
            assert state.status is PatientStatus.WITHDRAWN
        if state.status is PatientStatus.UNREACHABLE:
            assert state.status_before_unreachable in lc.TAKING_PART
        if name == "mark_reachable":
            assert state.status in lc.TAKING_PART
        if name == "pause":
            assert state.paused_until == now + timedelta(days=days)


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=90 * 24))
def test_a_pause_survives_being_unreachable_while_it_runs(days: int, hours: int) -> None:
    paused = lc.pause(_enrolled(), START, days).after
    gone = lc.mark_unreachable(paused, START).after
    later = START + timedelta(hours=hours)
    back = lc.mark_reachable(gone, later, USUAL).after
    if later < paused.paused_until:  # type: ignore[operator]
        assert back.status is PatientStatus.PAUSED and back.paused_until == paused.paused_until
        assert back.next_prompt_at is None
    else:
        assert back.status is PatientStatus.ACTIVE and back.paused_until is None
        assert back.next_prompt_at is not None and back.next_prompt_at > later


def test_refused_moves() -> None:
    active = _enrolled()
    with pytest.raises(Refused):
        lc.resume(active, START, USUAL)
    with pytest.raises(Refused):
        lc.mark_reachable(active, START, USUAL)
    gone = lc.mark_unreachable(active, START).after
    for name in ("pause", "resume", "mark_unreachable"):
        with pytest.raises(Refused):
            MOVES[name](3)(gone, START)
    left = lc.discharge(gone, START).after
    assert left.unreachable_since is None and left.status_before_unreachable is None
    for name in ("pause", "resume", "withdraw", "discharge", "mark_unreachable"):
        with pytest.raises(Refused):
            MOVES[name](3)(left, START)


def test_changes_lists_only_what_moved() -> None:
    transition = lc.pause(_enrolled(), START, 2)
    assert transition.changes() == {
        "status": PatientStatus.PAUSED,
        "paused_until": START + timedelta(days=2),
        "next_prompt_at": None,
    }
    assert transition.clears_awaiting


def test_statuses_compare_as_the_strings_they_store() -> None:
    stored: dict[str, str] = {"paused": "p", "resolved": "r"}
    assert stored[PatientStatus.PAUSED] == "p" and stored[AlertStatus.RESOLVED] == "r"
    assert "paused" in lc.TAKING_PART and f"{PatientStatus.UNREACHABLE}" == "unreachable"


@given(st.lists(st.sampled_from(["ack", "res"]), max_size=6))
def test_alert_moves(presses: list[str]) -> None:
    state, now = lc.AlertState(AlertStatus.OPEN), START
    for press in presses:
        now += timedelta(minutes=1)
        before = state
        try:
            state = (lc.resolve if press == "res" else lc.acknowledge)(state, now)
        except Refused:
            assert state == before
            continue
        # Resolved implies acknowledged; nothing is done twice; a time never moves.
        if state.status is AlertStatus.RESOLVED:
            assert state.resolved_at is not None and state.acknowledged_at is not None
        assert before.acknowledged_at in {None, state.acknowledged_at}
        assert before.resolved_at is None
    assert (state.status is AlertStatus.OPEN) == (state.acknowledged_at is None)
