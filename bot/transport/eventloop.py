"""The event loop the bot runs on: uvloop where it is installed, asyncio's own otherwise.

The bot is one event loop doing HTTP both ways (getUpdates or the webhook, and every send)
with SQLite inline: the loop's own machinery (selectors, transports, callbacks) is a good
part of each tap's CPU. uvloop does that part in C and lowers the bot's CPU per tap
(``python -m bench.taps``; docs/operations.md, "Event loop"). It is a dependency on Linux and
macOS; elsewhere (Windows) the bot runs on asyncio unchanged.
"""

from __future__ import annotations

import asyncio
import gc
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


def keep_startup_objects() -> None:
    """Take what start-up built out of the cyclic collector's sight (``gc.freeze``).

    Imports, the PTB application, SQLAlchemy's mappers and the templates leave about 160,000
    objects that live as long as the process; every full collection walked them all, each one
    a pause of the whole bot; frozen, a full collection walks only what came after
    (docs/performance.md, session 4, "gc.freeze() after start-up"). Call
    once, when the bot has started; garbage is collected first so that none is kept.
    """
    gc.collect()
    gc.freeze()
