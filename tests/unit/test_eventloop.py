"""The event loop helpers: start-up objects kept out of the collector's sight."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.transport import eventloop


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the test process as it was: nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("unfrozen")
def test_start_up_objects_are_frozen_and_garbage_is_not() -> None:
    kept = _Node()
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage  # a cycle: only the collector frees it
    eventloop.keep_startup_objects()
    gc.collect()
    assert gone() is None  # frozen garbage would never be freed
    frozen = gc.get_freeze_count()
    assert frozen > 0
    # A full collection walks what came after start-up, not what start-up left.
    assert not any(o is kept for o in gc.get_objects(generation=2))
    assert len(gc.get_objects(generation=2)) < frozen


def test_the_loop_runs_a_coroutine_to_completion() -> None:
    async def answer() -> int:
        return 42

    assert eventloop.run(answer()) == 42
