"""Sliding-window flood limits, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from bot.sandbox.limits import Limits, RateLimiter
from tests.sandbox.support import FakeClock


def test_global_limit_is_30_in_any_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(), clock)
    for chat in range(30):
        assert limiter.try_acquire(chat + 1) is None
    assert limiter.try_acquire(99) == 1
    clock.advance(0.999)
    assert limiter.try_acquire(99) == 1
    clock.advance(0.001)
    assert limiter.try_acquire(99) is None


def test_private_chat_limit_is_3_per_second_and_per_chat() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(), clock)
    for _ in range(3):
        assert limiter.try_acquire(1001) is None
    assert limiter.try_acquire(1001) == 1
    assert limiter.try_acquire(1002) is None  # another chat has its own window


def test_the_window_slides_rather_than_resetting() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(), clock)
    assert limiter.try_acquire(7) is None
    clock.advance(0.6)
    assert limiter.try_acquire(7) is None
    assert limiter.try_acquire(7) is None
    assert limiter.try_acquire(7) == 1
    clock.advance(0.4)  # the first one left the window: exactly one slot frees up
    assert limiter.try_acquire(7) is None
    assert limiter.try_acquire(7) == 1
    clock.advance(0.6)
    assert limiter.try_acquire(7) is None


def test_group_limit_is_20_per_minute_with_whole_second_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(global_per_second=1000), clock)
    for _ in range(20):
        assert limiter.try_acquire(-100500) is None
    assert limiter.try_acquire(-100500) == 60
    clock.advance(10.5)
    assert limiter.try_acquire(-100500) == 50  # 49.5 s left, rounded up
    clock.advance(49.5)
    assert limiter.try_acquire(-100500) is None


def test_rejected_requests_do_not_count() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(), clock)
    for _ in range(3):
        limiter.record(5)
    for _ in range(100):
        assert limiter.retry_after(5) is not None
    clock.advance(1.0)
    for _ in range(3):
        assert limiter.try_acquire(5) is None


def test_retry_after_is_at_least_one_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(private=(1, 0.1)), clock)
    assert limiter.try_acquire(1) is None
    assert limiter.try_acquire(1) == 1


def test_limits_are_configurable_and_can_be_disabled() -> None:
    clock = FakeClock()
    custom = RateLimiter(Limits(global_per_second=2, private=(10, 1.0)), clock)
    assert custom.try_acquire(1) is None
    assert custom.try_acquire(2) is None
    assert custom.try_acquire(3) == 1
    off = RateLimiter(Limits(enabled=False), clock)
    assert all(off.try_acquire(1) is None for _ in range(1000))


def test_only_the_global_limit_applies_without_a_chat() -> None:
    limiter = RateLimiter(Limits(global_per_second=1), FakeClock())
    assert limiter.try_acquire(None) is None
    assert limiter.try_acquire(None) == 1


def test_reset_forgets_everything() -> None:
    limiter = RateLimiter(Limits(), FakeClock())
    for _ in range(3):
        limiter.record(1)
    limiter.reset()
    assert limiter.try_acquire(1) is None


def test_paid_broadcasts_go_to_the_paid_limit_and_leave_the_free_one_alone() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(paid_per_second=100), clock)
    for chat in range(100):
        assert limiter.try_acquire(chat + 1, paid=True) is None
    assert limiter.try_acquire(500, paid=True) == 1  # the paid limit holds
    assert limiter.try_acquire(501) == 1  # and every message counts in it
    clock.advance(1.0)
    for chat in range(30):  # paid sends took none of the free 30 ...
        assert limiter.try_acquire(1000 + chat) is None
    assert limiter.try_acquire(2000) == 1  # ... whose limit still holds without the flag
    for chat in range(70):  # and with it, the rest of the 100
        assert limiter.try_acquire(3000 + chat, paid=True) is None
    assert limiter.try_acquire(4000, paid=True) == 1
    assert limiter.try_acquire(1, paid=True) == 1  # a chat's own limit holds


def test_edits_count_in_their_chat_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(), clock)
    for chat in range(30):
        assert limiter.try_acquire(chat + 1) is None
    assert limiter.try_acquire(99) == 1  # the overall limit is full ...
    for chat in range(100):  # ... and edits pass it, 100 patients' at once
        assert limiter.try_acquire(1000 + chat, broadcast=False) is None
    for _ in range(3):
        assert limiter.try_acquire(500, broadcast=False) is None
    assert limiter.try_acquire(500, broadcast=False) == 1  # a chat's 4th in a second is not
    clock.advance(1.0)
    for chat in range(30):  # and they took nothing from the overall 30
        assert limiter.try_acquire(2000 + chat) is None


def test_a_sandbox_can_count_edits_overall_too() -> None:
    """As a Telegram that did would (``--edits-count-overall``): to test how the bot copes."""
    clock = FakeClock()
    limiter = RateLimiter(Limits(edits_count_overall=True), clock)
    for chat in range(30):
        assert limiter.try_acquire(chat + 1, broadcast=False) is None
    assert limiter.try_acquire(99) == 1  # thirty edits filled the overall limit
    assert limiter.try_acquire(100, broadcast=False) == 1
