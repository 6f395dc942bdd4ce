"""The strangers' throttle: per sender and overall windows, invite codes, crisis texts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.throttle import Kind, StrangerLimits, StrangerThrottle

KINDS = st.sampled_from([Kind.MESSAGE, Kind.INVITE, Kind.CRISIS])


def _most_in_window(stamps: list[float], period: float) -> int:
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 6), KINDS, st.floats(0, 30)), min_size=1, max_size=300
    )
)
def test_no_window_ever_admits_more_than_its_limit(events: list[tuple[int, Kind, float]]) -> None:
    limits = StrangerLimits(overall=(8, 60.0), invites_overall=(5, 60.0))
    throttle = StrangerThrottle(limits)
    now = 0.0
    admitted: list[tuple[int, Kind, float]] = []
    for sender, kind, gap in events:
        now += gap
        if throttle.admit(sender, kind, now):
            admitted.append((sender, kind, now))
            if kind is Kind.INVITE:
                throttle.invite_refused(now)  # every guess is wrong
    messages = [t for _, k, t in admitted if k is Kind.MESSAGE]
    ordinary = [t for _, k, t in admitted if k is not Kind.CRISIS]
    invites = [t for _, k, t in admitted if k is Kind.INVITE]
    # A crisis text within the ordinary limits counts as an ordinary message; beyond them,
    # one per sender per ten minutes. Everything else keeps to every window.
    for sender in range(7):
        mine = [t for s, k, t in admitted if s == sender and k is not Kind.CRISIS]
        assert _most_in_window(mine, 60.0) <= limits.per_sender[0]
        mine_invites = [t for s, k, t in admitted if s == sender and k is Kind.INVITE]
        assert _most_in_window(mine_invites, 600.0) <= limits.invites_per_sender[0]
        everything = [t for s, _, t in admitted if s == sender]
        extra = limits.crisis_per_sender[0]
        assert _most_in_window(everything, 60.0) <= limits.per_sender[0] + extra
    # Messages keep to the overall window, which also counts refused codes; a code is let
    # through on the invite windows alone (a valid one must never wait for strangers'
    # chatter), so the answers to refused codes may go past it by at most their own limit.
    assert _most_in_window(messages, 60.0) <= limits.overall[0]
    assert _most_in_window(invites, 60.0) <= limits.invites_overall[0]
    assert _most_in_window(ordinary, 60.0) <= limits.overall[0] + limits.invites_overall[0]


def test_valid_codes_never_fill_the_overall_windows() -> None:
    throttle = StrangerThrottle(StrangerLimits(overall=(2, 60.0), invites_overall=(2, 60.0)))
    # A clinic enrols 50 people at once: none is held back by the others.
    assert all(throttle.admit(n, Kind.INVITE, 0.0) for n in range(50))
    throttle.invite_refused(1.0)
    throttle.invite_refused(1.0)
    assert not throttle.admit(99, Kind.INVITE, 2.0)  # two wrong guesses: lookups wait
    assert not throttle.admit(98, Kind.MESSAGE, 2.0)  # and the answers to them count
    assert throttle.admit(99, Kind.INVITE, 61.0)


def test_memory_is_bounded_and_idle_senders_are_forgotten() -> None:
    throttle = StrangerThrottle(StrangerLimits(max_senders=3, overall=(100, 60.0)))
    assert all(throttle.admit(n, Kind.MESSAGE, 0.0) for n in range(3))
    assert not throttle.admit(99, Kind.MESSAGE, 0.0)  # a fourth stranger: over the limit
    throttle.forget_idle(601.0)
    assert throttle.senders == 0
    assert throttle.admit(99, Kind.MESSAGE, 601.0)
