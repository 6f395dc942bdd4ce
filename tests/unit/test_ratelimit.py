"""The sliding-window rate limiter: no window ever holds more than its limit."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import RetryAfter

from bot.transport.ratelimit import (
    EDIT_METHODS,
    EDIT_REFUSAL_MEMORY,
    EDIT_REFUSALS,
    EDITS_COUNTED_FOR,
    MESSAGE_METHODS,
    PRUNE_EVERY,
    SEND_METHODS,
    URGENT_BUSY,
    URGENT_GUARD,
    URGENT_HEADROOM,
    URGENT_MEMORY,
    Limits,
    SlidingWindow,
    SlidingWindowRateLimiter,
    chat_key,
    is_group,
)


class FakeTime:
    """A monotonic clock that asyncio.sleep moves (patched in below)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="fake_time")
def fx_fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        fake.now += max(seconds, 0.0)
        await real_sleep(0)

    monkeypatch.setattr("bot.transport.ratelimit.asyncio.sleep", sleep)
    return fake


def _max_in_window(stamps: list[float], period: float) -> int:
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= period - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(1, 30),
    period=st.floats(0.1, 60),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=120),
)
def test_sliding_window_never_exceeds_its_limit(
    limit: int, period: float, gaps: list[float]
) -> None:
    window = SlidingWindow(limit, period)
    now, accepted = 0.0, []
    for gap in gaps:
        now += gap
        wait = window.wait_time(now)
        assert wait >= 0
        now += wait
        assert window.wait_time(now) == 0
        window.record(now)
        accepted.append(now)
    assert _max_in_window(accepted, period) <= limit


async def test_group_gets_at_most_twenty_per_minute(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = []
    for _ in range(65):
        await limiter.acquire(-100123, urgent=True)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 60.0) == 20
    # A leaky bucket would have let the 21st through 3 s after the burst; this does not.
    assert stamps[20] - stamps[0] >= 60.0


async def test_routine_group_sends_leave_the_alert_reserve_free(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    group = -100123
    stamps = []
    for _ in range(32):  # the team's commands: 16 a minute, never more
        await limiter.acquire(group)  # routine: no urgent_send context
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 60.0) == 16
    assert stamps[16] - stamps[0] >= 60.0
    # The routine share is full right now; an alert still goes at once, four times.
    assert limiter.chat_wait(group) > 2.0
    assert limiter.chat_wait(group, urgent=True) == 0.0
    before = fake_time.now
    for _ in range(4):
        await limiter.acquire(group, urgent=True)
    assert fake_time.now - before < 1.0  # the overall pace only, not the group
    assert limiter.chat_wait(group, urgent=True) > 2.0  # and the group's 20 hold
    # A private chat has no reserve: a routine reply there is not held back.
    assert SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time).chat_wait(5) == 0


@settings(max_examples=100, deadline=None)
@given(sends=st.lists(st.tuples(st.booleans(), st.floats(0, 10)), min_size=1, max_size=80))
def test_no_routine_send_takes_a_reserved_place(sends: list[tuple[bool, float]]) -> None:
    """Whatever mix of alerts and other messages a group gets: at most 20 in any minute,
    and a routine message never starts while 16 were sent in the last minute."""
    window, now = SlidingWindow(20, 60.0), 0.0
    alerts: list[float] = []
    routine: list[float] = []
    for urgent, gap in sends:
        now += gap
        cap = None if urgent else 16
        now += window.wait_time(now, cap)
        assert window.wait_time(now, cap) == 0
        if not urgent:
            assert sum(1 for t in [*alerts, *routine] if now - t < 60.0 - 1e-9) < 16
        window.record(now)
        (alerts if urgent else routine).append(now)
    assert _max_in_window(sorted(alerts + routine), 60.0) <= 20


async def test_overall_thirty_per_second_across_chats(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = []
    for chat in range(200):
        await limiter.acquire(chat + 1)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 1.0) == 30
    assert stamps[-1] - stamps[0] < 7.0  # and it does go at ~30/s


async def _sends(
    limiter: SlidingWindowRateLimiter, clock: FakeTime, chat: int, count: int
) -> list[float]:
    """Send ``count`` routine messages to one chat; return when each went."""
    stamps = []
    for _ in range(count):
        await limiter.acquire(chat)
        stamps.append(clock.now)
    return stamps


async def test_private_chat_limit_and_pause(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = await _sends(limiter, fake_time, 42, 9)
    assert _max_in_window(stamps, 1.0) == 3
    limiter.pause(42, 7.0)
    before = fake_time.now
    await limiter.acquire(42)
    assert fake_time.now - before >= 7.0
    # Other chats are not held up by one chat's pause.
    limiter.pause(42, 100.0)
    before = fake_time.now
    await limiter.acquire(43)
    assert fake_time.now - before < 1.0


async def test_a_429_pauses_its_chat_and_propagates(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)

    async def flooded(**_: object) -> bool:
        raise RetryAfter(timedelta(seconds=12))

    with pytest.raises(RetryAfter):
        await limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 7}, None)
    before = fake_time.now
    await limiter.acquire(7)
    assert fake_time.now - before >= 12.0


async def test_non_message_methods_are_not_limited(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)

    async def ok(**_: object) -> bool:
        return True

    for _ in range(100):
        await limiter.process_request(ok, (), {}, "answerCallbackQuery", {"chat_id": 1}, None)
    assert fake_time.now == 1000.0


def test_chat_key_and_group_detection() -> None:
    assert chat_key({"chat_id": "123"}) == 123
    assert chat_key({"chat_id": -5}) == -5
    assert chat_key({"chat_id": "@channel"}) == "@channel"
    assert chat_key({}) is None
    assert is_group(-5) and is_group("@channel") and not is_group(5)


async def test_windows_of_idle_chats_are_forgotten(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    for chat in range(1, PRUNE_EVERY):
        await limiter.acquire(chat)
    assert limiter.tracked_chats == PRUNE_EVERY - 1
    fake_time.now += 120.0  # every window has emptied
    await limiter.acquire(-5)  # the PRUNE_EVERY-th send sweeps before recording
    assert limiter.tracked_chats == 1


async def test_shared_between_workers_each_keeps_its_part(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    limiter.share(2)
    assert limiter.overall_limit == 14  # 2 x 14 < 30: one a second to spare between them
    stamps = []
    for chat in range(120):
        await limiter.acquire(chat + 1)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 1.0) == 14
    limiter.share(3)
    assert limiter.overall_limit == 9
    limiter.share(1)  # the other worker went away
    assert limiter.overall_limit == 30


async def test_sends_are_paced_within_the_second(fake_time: FakeTime) -> None:
    # Never the whole second's sends in one burst: a burst held up on the way could land
    # in the server's next window along with the next one.
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = []
    for chat in range(90):
        await limiter.acquire(chat + 1)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 0.25) <= 8
    assert _max_in_window(stamps, 1.0) <= 30
    assert stamps[-1] - stamps[0] < 3.1  # and still ~30 a second


# The two below run on real time (briefly): several tasks wait at once, which the fake
# clock above (every sleep moves time for everyone) cannot model.


async def test_an_urgent_send_goes_before_waiting_routine_ones() -> None:
    limiter = SlidingWindowRateLimiter(Limits(overall=(4, 0.2), margin=0.0))  # 1 per 50 ms
    order: list[str] = []

    async def send(name: str, chat: int, *, urgent: bool) -> None:
        await limiter.acquire(chat, urgent=urgent)
        order.append(name)

    routine = [asyncio.create_task(send(f"r{i}", 100 + i, urgent=False)) for i in range(8)]
    await asyncio.sleep(0.01)  # the first routine send is out, seven wait
    crisis = asyncio.create_task(send("crisis", 7, urgent=True))
    await asyncio.gather(*routine, crisis)
    assert order[0] == "r0"
    assert order.index("crisis") == 1


async def test_an_urgent_send_waiting_for_its_group_holds_nobody() -> None:
    limiter = SlidingWindowRateLimiter(
        Limits(overall=(100, 1.0), group=(2, 1.0), margin=0.0, group_reserve=0)
    )
    for _ in range(2):
        await limiter.acquire(-100123)
    assert limiter.chat_wait(-100123, urgent=True) > 0.5  # the group's window is full
    alert = asyncio.create_task(limiter.acquire(-100123, urgent=True))
    await asyncio.sleep(0)
    started = time.monotonic()
    for chat in range(20):
        await limiter.acquire(chat + 1)
    assert time.monotonic() - started < 0.3
    assert not alert.done()
    await alert


async def test_paid_broadcasts_keep_to_the_paid_limit_apart_from_the_free_one(
    fake_time: FakeTime,
) -> None:
    limiter = SlidingWindowRateLimiter(
        Limits(overall=(30, 1.0), paid=(200, 1.0), margin=0.0), monotonic=fake_time
    )
    paid, free = [], []
    for chat in range(600):
        await limiter.acquire(chat + 1, paid=True)
        paid.append(fake_time.now)
    assert _max_in_window(paid, 1.0) == 200
    assert paid[-1] - paid[0] < 3.1  # ~200 a second, not 30
    for chat in range(90):
        await limiter.acquire(10_000 + chat)
        free.append(fake_time.now)
    assert _max_in_window(free, 1.0) == 30  # without the flag: the free limit
    limiter.share(2)
    assert limiter.overall_limit == 14
    assert limiter.paid_limit == 99


async def test_without_paid_limits_the_flag_changes_nothing(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = []
    for chat in range(90):
        await limiter.acquire(chat + 1, paid=True)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 1.0) == 30


# Edits (docs/architecture.md, "Telegram facts the design rests on"): their chat's window
# only, never the overall one.


async def test_an_edit_does_not_wait_for_a_full_overall_window(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)

    async def ok(**_: object) -> bool:
        return True

    for chat in range(30):
        await limiter.acquire(chat + 1)
    start = fake_time.now
    for chat in range(100):  # 100 taps' edits, each to its own patient, at once
        await limiter.process_request(
            ok, (), {}, "editMessageText", {"chat_id": 1000 + chat, "message_id": 1}, None
        )
    assert fake_time.now == start
    await limiter.acquire(999)  # the 31st send still waits for the window ...
    assert fake_time.now > start
    assert not limiter.urgent_coming()  # ... and edits never count as urgent sends


async def test_an_edit_counts_in_its_chat_window(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = await _sends(limiter, fake_time, 42, 3)
    await limiter.acquire(42, broadcast=False, urgent=True)  # a patient's 1 a second ...
    stamps.append(fake_time.now)
    assert _max_in_window(stamps, 1.0) == 3
    for _ in range(20):  # ... and a group's 20 a minute hold for edits as for sends
        await limiter.acquire(-100, broadcast=False, urgent=True)
    before = fake_time.now
    await limiter.acquire(-100, broadcast=False, urgent=True)
    assert fake_time.now - before >= 59.0


@settings(max_examples=80, deadline=None)
@given(
    requests=st.lists(
        st.tuples(
            st.sampled_from(sorted(MESSAGE_METHODS)), st.integers(1, 60), st.floats(0, 0.03)
        ),
        min_size=1,
        max_size=150,
    )
)
def test_any_mix_of_sends_and_edits_keeps_every_window(
    requests: list[tuple[str, int, float]],
) -> None:
    """Sends and edits to patients, in any order and at any pace: no second holds more than
    30 sends (edits aside), no chat's second more than 3 messages (edits included), and an
    edit whose chat has room goes at once, however full the overall window."""
    clock = FakeTime()
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        clock.now += max(seconds, 0.0)
        await real_sleep(0)

    async def ok(**_: object) -> bool:
        return True

    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=clock)
    sends: list[float] = []
    per_chat: dict[int, list[float]] = {}

    async def run() -> None:
        for method, chat, gap in requests:
            clock.now += gap
            before = clock.now
            room = sum(1 for t in per_chat.get(chat, []) if before - t < 1.0 - 1e-9) < 3
            await limiter.process_request(ok, (), {}, method, {"chat_id": chat}, None)
            if method in EDIT_METHODS and room:
                assert clock.now == before
            if method in SEND_METHODS:
                sends.append(clock.now)
            per_chat.setdefault(chat, []).append(clock.now)

    with patch("bot.transport.ratelimit.asyncio.sleep", fake_sleep):
        asyncio.run(run())
    assert _max_in_window(sends, 1.0) <= 30
    for stamps in per_chat.values():
        assert _max_in_window(stamps, 1.0) <= 3


async def test_edits_refused_by_telegram_count_overall_for_a_while(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """If Telegram refuses edits although every chat's window was kept, it counts them
    overall after all: so does the limiter then, for a while (``EDIT_REFUSALS``)."""
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)

    async def refused(**_: object) -> bool:
        raise RetryAfter(timedelta(seconds=1))

    async def ok(**_: object) -> bool:
        return True

    async def edit(chat: int, call: Callable[..., Coroutine[Any, Any, bool]] = ok) -> None:
        await limiter.process_request(
            call, (), {}, "editMessageText", {"chat_id": chat, "message_id": 1}, None
        )

    for chat in range(EDIT_REFUSALS):
        assert not limiter.edits_count_overall()
        with pytest.raises(RetryAfter):
            await edit(500 + chat, refused)
        fake_time.now += EDIT_REFUSAL_MEMORY / EDIT_REFUSALS - 1.0
    assert limiter.edits_count_overall()
    assert "edits now count in the overall limit" in caplog.text
    await _sends(limiter, fake_time, 1, 1)
    for chat in range(29):
        await limiter.acquire(2 + chat)
    start = fake_time.now
    await edit(900)  # the overall window is full: the edit waits for it now
    assert fake_time.now > start
    fake_time.now += EDITS_COUNTED_FOR
    assert not limiter.edits_count_overall()
    for chat in range(30):
        await limiter.acquire(100 + chat)
    start = fake_time.now
    await edit(901)  # and after a while it does not any more
    assert fake_time.now == start


async def test_refusals_spread_out_change_nothing(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    for _ in range(2 * EDIT_REFUSALS):
        limiter.edit_refused()
        fake_time.now += EDIT_REFUSAL_MEMORY / (EDIT_REFUSALS - 1) + 0.1
    assert not limiter.edits_count_overall()


def test_the_bot_and_the_sandbox_count_the_same_methods() -> None:
    from bot.sandbox import limits as sandbox

    assert SEND_METHODS == sandbox.SEND_METHODS
    assert EDIT_METHODS == sandbox.EDIT_METHODS


# Urgent sends during a fan-out (docs/performance.md): an urgent send (a crisis card, an
# alert) finds a place at once, and prompts share what is left.


async def test_while_taps_come_prompts_leave_room_and_go_evenly(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    taps = []
    for chat in range(URGENT_BUSY):
        await limiter.acquire(chat + 1, urgent=True)
        taps.append(fake_time.now)
    prompts = []
    for chat in range(60):
        await limiter.acquire(100 + chat)
        prompts.append(fake_time.now)
    assert fake_time.now - prompts[0] < URGENT_MEMORY  # all of them while taps "come"
    # One at a time, never in bursts, ...
    gaps = [b - a for a, b in itertools.pairwise(prompts)]
    assert min(gaps) >= 1.0 / 30 - 1e-9
    # ... and the window never fuller than the headroom allows, so a tap goes at once.
    assert _max_in_window([*taps, *prompts], 1.0) <= 30 - URGENT_HEADROOM
    before = fake_time.now
    await limiter.acquire(2, urgent=True)
    assert fake_time.now == before


@pytest.mark.parametrize("urgent_sends", [URGENT_BUSY - 1, URGENT_BUSY])
async def test_with_taps_gone_or_few_prompts_have_the_whole_window(
    fake_time: FakeTime, urgent_sends: int
) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    for chat in range(urgent_sends):
        await limiter.acquire(chat + 1, urgent=True)
    if urgent_sends >= URGENT_BUSY:
        assert limiter.urgent_coming()
        fake_time.now += URGENT_MEMORY  # taps, then a quiet spell
    # A crisis card now and then costs a fan-out nothing.
    assert not limiter.urgent_coming()
    stamps = []
    for chat in range(90):
        await limiter.acquire(100 + chat)
        stamps.append(fake_time.now)
    assert _max_in_window(stamps, 1.0) == 30
    assert _max_in_window(stamps, 0.01) == 8  # the quarter-second bursts again


async def test_an_urgent_send_does_not_wait_for_the_next_quarter(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    for chat in range(8):  # a quarter's burst of prompts: the pace is full ...
        await limiter.acquire(100 + chat)
    assert fake_time.now == 1000.0
    await limiter.acquire(1, urgent=True)  # ... the second's window is not
    assert fake_time.now == 1000.0


async def test_an_urgent_send_leaves_a_place_that_just_freed_up(fake_time: FakeTime) -> None:
    limiter = SlidingWindowRateLimiter(Limits(margin=0.0), monotonic=fake_time)
    stamps = []
    for chat in range(30):
        await limiter.acquire(100 + chat)
        stamps.append(fake_time.now)
    await limiter.acquire(1, urgent=True)
    # The first prompt left the window 1 s after it went; the tap waits a little longer, in
    # case that prompt reached the server late (the server would still count it).
    assert fake_time.now - stamps[0] >= 1.0 + URGENT_GUARD - 1e-9
