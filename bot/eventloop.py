"""The event loop the bot runs on: uvloop where it is installed, asyncio's own otherwise.

The bot is one event loop doing HTTP both ways (getUpdates or the webhook, and every send)
with SQLite inline: the loop's own machinery (selectors, transports, callbacks) is a good
part of each tap's CPU. uvloop does that part in C: in ``python -m bench.taps`` on a shared
machine, bot CPU per tap at saturation went from 4.2 to 3.7 ms (one run each: an indication,
not a figure). It is a dependency on Linux and macOS; elsewhere (Windows) the bot runs on
asyncio unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a new loop, as ``asyncio.run`` does."""
    try:
        import uvloop  # noqa: PLC0415 - optional: not on every platform
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
