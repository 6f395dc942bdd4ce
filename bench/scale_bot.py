"""The bot's side of ``bench/scale.py``: start the bot as ``moodcheck run`` would, time each
step, then time the periodic scans and report the process's memory.

Run by ``bench/scale.py`` (which seeds the database and serves the sandbox Bot API); prints
``READY {json}`` once started and ``RESULT {json}`` at the end.

The one-minute scan is measured from several sides: its wall time and the process's CPU time
over it; each of its transactions (from holding the writer to letting it go, and the CPU
spent meanwhile); the longest the event loop went without running anything else; and, just
before it, the indexed query that finds who is due, alone. The delivery worker runs all
along, as in production, so work it does between the scan's transactions is in the scan's
wall and process CPU, not in its transactions (on PostgreSQL, whose statements let the loop
run other tasks, in those too). So is the garbage collector's, whose time is noted separately.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock above must start before the imports
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace, TracebackType  # noqa: E402
from typing import Any, Self, cast  # noqa: E402

from bench.keys import BENCH_KEYS  # noqa: E402
from bot.app import BotRuntime, build, due_scan_job  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.domain.clock import ManualClock  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.transport import eventloop  # noqa: E402
from handlers.context import BotContext  # noqa: E402
from storage.migrate import check_schema  # noqa: E402
from storage.uow import UnitOfWork, UnitOfWorkFactory  # noqa: E402

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


@dataclass(slots=True)
class Transactions:
    """Wall and CPU seconds of each write unit of work that one task ran."""

    task: asyncio.Task[Any] | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


class _TimedUnitOfWork(UnitOfWork):
    """Times a unit of work from the moment it holds the writer until it lets it go."""

    def __init__(self, inner: UnitOfWork, record: Transactions) -> None:
        self._inner = inner
        self._record = record
        self._wall = self._cpu = 0.0

    async def __aenter__(self) -> Self:
        entered = await self._inner.__aenter__()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return cast("Self", entered)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            if asyncio.current_task() is self._record.task:
                self._record.wall.append(time.perf_counter() - self._wall)
                self._record.cpu.append(time.process_time() - self._cpu)


class TimedUnits(UnitOfWorkFactory):
    """The runtime's unit-of-work factory, timing the write units of work of one task."""

    def __init__(self, inner: UnitOfWorkFactory, record: Transactions) -> None:
        self._inner = inner
        self._record = record

    def __call__(self) -> UnitOfWork:
        """A unit of work of the inner factory, timed."""
        return _TimedUnitOfWork(self._inner(), self._record)

    def reading(self) -> UnitOfWork:
        """As the inner factory's (read-only units of work hold no writer)."""
        return self._inner.reading()

    @property
    def holds_event_loop(self) -> bool:
        """As the inner factory's."""
        return self._inner.holds_event_loop


async def _watch_loop(longest: list[float]) -> None:
    """Note the longest time the event loop took to come back to a 1 ms sleep."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        longest[0] = max(longest[0], time.perf_counter() - started - 0.001)


async def find_due(bot: BotRuntime, now: datetime) -> tuple[float, int]:
    """Run the indexed query for everyone due (as the scan's batches do, all at once) in a
    read-only unit of work; return the median seconds of three runs and how many it found."""
    times, found = [], 0
    for _ in range(3):
        async with bot.services.runtime.uow.reading() as uow:
            started = time.perf_counter()
            found = len(await uow.patients.due(now, 1_000_000))
            times.append(time.perf_counter() - started)
    return statistics.median(times), found


class GarbageCollections:
    """Seconds the garbage collector ran while it was installed: a full collection of the
    bot's objects takes tens of milliseconds, and lands in one scan or another."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


async def measured_scan(bot: BotRuntime) -> dict[str, Any]:
    """Run the due scan once, measured from every side (see the module's docstring)."""
    runtime = bot.services.runtime
    record = Transactions(task=asyncio.current_task())
    inner = runtime.uow
    runtime.uow = TimedUnits(inner, record)
    stall = [0.0]
    watcher = asyncio.create_task(_watch_loop(stall))
    collections = GarbageCollections()
    await asyncio.sleep(0.01)  # the watcher's first sleep starts before the scan
    gc.callbacks.append(collections)
    try:
        cpu = time.process_time()
        wall, queued = await due_scan(bot)
        cpu = time.process_time() - cpu
        # The watcher notes a stall when it next runs: let it, before it is cancelled.
        await asyncio.sleep(0.005)
    finally:
        gc.callbacks.remove(collections)
        runtime.uow = inner
        watcher.cancel()
    longest = max(range(len(record.wall)), key=record.wall.__getitem__, default=None)
    return {
        "due_scan_minute": wall,
        "queued_minute": queued,
        "scan_cpu": cpu,
        "transactions": len(record.wall),
        "transactions_wall": sum(record.wall),
        "transactions_cpu": sum(record.cpu),
        "median_transaction": statistics.median(record.wall) if record.wall else 0.0,
        "longest_transaction_index": longest,
        "longest_transaction": record.wall[longest] if longest is not None else 0.0,
        "longest_transaction_cpu": record.cpu[longest] if longest is not None else 0.0,
        "loop_stall": stall[0],
        "gc": collections.seconds,
    }


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
        data_keys=BENCH_KEYS,
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
    assert bot.poller is not None  # bot.transport.polling.Poller, as `moodcheck run` polls
    bot.poller.timeout = 10
    bot.poller.start()
    eventloop.keep_startup_objects()  # as `moodcheck run` does
    step("start (getMe, cohort sync, commands, polling, gc.freeze)")
    first = await job(bot)
    step("first scan")
    emit("READY", {"steps": steps, "total": time.perf_counter() - STARTED, "rss_mb": rss_mb()})
    try:
        idle_due = [(await due_scan(bot))[0] for _ in range(5)]
        idle_job = [await job(bot) for _ in range(5)]
        clock.set(now + timedelta(minutes=1))
        find, found = await find_due(bot, clock.now())
        scan = await measured_scan(bot)
        clock.set(now + timedelta(minutes=2))
        minute_job = await job(bot)
        await bot.worker.wait_idle()
        emit(
            "RESULT",
            {
                "first_scan": first,
                "due_scan_none": statistics.median(idle_due),
                "job_none": statistics.median(idle_job),
                **scan,
                "find_due": find,
                "found_due": found,
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
    eventloop.run(run(parser.parse_args()))  # the loop `moodcheck run` uses


if __name__ == "__main__":
    main()
