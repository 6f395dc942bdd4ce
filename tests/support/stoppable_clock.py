"""A monotonic clock a test can stop and move on: for rate limiters (the bot's and the
sandbox's), whose windows then stay as they are until the test moves the clock."""

from __future__ import annotations

import time


class LimiterClock:
    """The rate limiter's monotonic clock: real time, until the test stops it; then it moves
    only when the test moves it, and a window the bot filled stays full until then."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._stopped: float | None = None

    def __call__(self) -> float:
        return self._stopped if self._stopped is not None else time.monotonic() + self._offset

    def stop(self) -> None:
        self._stopped = self()

    def advance(self, seconds: float) -> None:
        """Move the stopped clock on."""
        assert self._stopped is not None
        self._stopped += seconds

    def go_on(self) -> None:
        """Follow real time again, from where the clock stands."""
        if self._stopped is not None:
            self._offset = self._stopped - time.monotonic()
            self._stopped = None
