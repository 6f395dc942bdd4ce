"""The event loop the bot runs on: uvloop where it is installed, asyncio's own otherwise.

The bot is one event loop doing HTTP both ways (getUpdates or the webhook, and every send)
with SQLite inline: the loop's own machinery (selectors, transports, callbacks) is a good
part of each tap's CPU. uvloop does that part in C; measured with ``python -m bench.taps``
on the same commit: 4.2 -> 3.7 ms of bot CPU per tap at saturation. It is a dependency on
Linux and macOS; elsewhere (Windows) the bot runs on asyncio unchanged.
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
