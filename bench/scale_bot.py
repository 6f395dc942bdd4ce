"""The bot's side of ``bench/scale.py``: start the bot as ``moodcheck run`` would, time each
step, then time the periodic scans and report the process's memory.

Run by ``bench/scale.py`` (which seeds the database and serves the sandbox Bot API); prints
``READY {json}`` once started and ``RESULT {json}`` at the end.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock above must start before the imports
import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any, cast  # noqa: E402

from bot.app import ALLOWED_UPDATES, BotRuntime, build, due_scan_job  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.domain.clock import ManualClock  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.context import BotContext  # noqa: E402
from storage.migrate import check_schema  # noqa: E402

IMPORTED = time.perf_counter()


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(tag: str, payload: dict[str, Any]) -> None:
    """One line for the parent."""
    sys.stdout.write(f"{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


async def job(bot: BotRuntime) -> float:
    """Run the periodic scan job once (as the JobQueue would); return its seconds."""
    context = cast("BotContext", SimpleNamespace(services=bot.services))
    started = time.perf_counter()
    await due_scan_job(context)
    return time.perf_counter() - started


async def due_scan(bot: BotRuntime) -> tuple[float, int]:
    """Run the due scan alone; return its seconds and how many prompts it queued."""
    started = time.perf_counter()
    queued = await bot.services.due_scan.run()
    return time.perf_counter() - started, queued


async def run(args: argparse.Namespace) -> None:
    """Start, scan, measure, stop."""
    steps: dict[str, float] = {"import": IMPORTED - STARTED}
    mark = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = now - mark
        mark = now

    now = datetime.fromisoformat(args.now)
    clock = ManualClock(now)
    settings = Settings(
        telegram_token=args.token,
        database_url=args.database,
        telegram_base_url=args.base_url,
        config=Path(args.config),
    )
    config = load_config(settings.config)
    step("config")
    await check_schema(settings.database_url)
    step("schema check")
    # The JobQueue's scans are run by hand below, on the bench's clock.
    bot = build(settings, config, clock=clock, scan_interval=None)
    step("build")
    await bot.application.initialize()
    await bot.on_startup()
    await bot.application.start()
    assert bot.application.updater is not None
    await bot.application.updater.start_polling(
        poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
    )
    step("start (getMe, cohort sync, commands, polling)")
    first = await job(bot)
    step("first scan")
    emit("READY", {"steps": steps, "total": time.perf_counter() - STARTED, "rss_mb": rss_mb()})
    try:
        idle_due = [(await due_scan(bot))[0] for _ in range(5)]
        idle_job = [await job(bot) for _ in range(5)]
        clock.set(now + timedelta(minutes=1))
        minute_due, queued = await due_scan(bot)
        clock.set(now + timedelta(minutes=2))
        minute_job = await job(bot)
        await bot.worker.wait_idle()
        emit(
            "RESULT",
            {
                "first_scan": first,
                "due_scan_none": statistics.median(idle_due),
                "job_none": statistics.median(idle_job),
                "due_scan_minute": minute_due,
                "queued_minute": queued,
                "job_minute": minute_job,
                "rss_mb": rss_mb(),
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "sent": bot.worker.stats.sent,
            },
        )
    finally:
        await bot.stop()


def main() -> None:
    """Entry point: ``python -m bench.scale_bot`` (see ``bench/scale.py``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--now", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
