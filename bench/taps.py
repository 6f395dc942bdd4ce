"""Button taps: how many check-in taps a second the bot sustains, and how long a patient
waits from a tap to the edited question.

The bot runs in this process, exactly as ``build`` makes it (polling, processor, services,
outbox, delivery worker), on SQLite by default. The sandbox server and the simulated patients
run in another process (``bench/tapdriver.py``), so the bot keeps a core of its own. Patients
are enrolled in bulk and prompted by the real due scan and delivery worker; then they answer
the daily check-in (7 taps, no alerts), each waiting for the edited question and then 1-2 s
before the next tap.

* **100 taps/s**: an open loop, a press every 10 ms whatever the bot is doing; latency is
  the time from the server queueing the press to the server accepting the edit of that
  check-in message (one clock: the server's).
* **max**: a closed loop, many more patients each tapping 1-2 s after each edit; "sustained"
  is edits accepted per second over the middle 80 % of the run.

"bot CPU" is this process's CPU time over a run divided by its taps: on a shared machine it
moves less than the throughput does.

The bot's overall 30 messages/s limit is raised (the server's too), so that the check-in
prompts of hundreds of patients go out at once before the taps; edits do not count in it
anyway (docs/architecture.md, "Telegram facts the design rests on"). Per-chat limits stay
as they are, for edits too.

Usage: ``python -m bench.taps [--rate 100] [--duration 20] [--max-patients 1500]
[--postgres URL]``. Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import seed_cohort_due
from bench.keys import BENCH_KEYS
from bench.pgtemp import temporary_database
from bot.app import build
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import SystemClock
from bot.settings import Settings
from bot.transport import eventloop
from bot.transport.ratelimit import Limits
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.migrate import upgrade

TOKEN = "123456:BENCH-TOKEN"
FIRST_USER = 30_000_000
TAPS_PER_CHECKIN = 7


class Driver:
    """``bench.tapdriver`` in a child process, spoken to one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}/bot"

    @classmethod
    async def start(cls, *args: str) -> Driver:
        """Start the server process (``args``: its options) and wait until it listens."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.tapdriver",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,  # an answer carries every tap's timings on one line
        )
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode().strip()
        if not line.startswith("SANDBOX_PORT="):
            process.kill()
            raise SystemExit(f"tap driver did not start: {line!r}")
        return cls(process, int(line.split("=", 1)[1]))

    async def ask(self, **command: Any) -> dict[str, Any]:
        """Send one command; return its answer."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        answer: dict[str, Any] = json.loads(await self.process.stdout.readline())
        if not answer.get("ok"):
            raise SystemExit(f"tap driver: {answer}")
        return answer

    async def stop(self) -> None:
        """Ask the process to quit, and wait for it."""
        assert self.process.stdin is not None
        self.process.stdin.write(b'{"cmd": "quit"}\n')
        await self.process.stdin.drain()
        await asyncio.wait_for(self.process.wait(), 10)


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="taps",
        provider_chat_id=-100998,
        timezone="UTC",
        locale="en",
        region="US",
        coverage="24/7",
        reminder_after_hours=None,
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


def _loop_seconds() -> float:
    """CPU seconds of a plain 10M-iteration Python loop: how fast this (shared, virtual)
    machine was around a run, since CPU per tap moves with it (the same loop at module level
    took 0.69 to 1.41 s within an hour here). Two samples, not a trace: a slow spell between
    them goes unseen."""
    started = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - started


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _sustained(edit_times: list[float]) -> float:
    """Edits per second over the middle 80 % of a run (start-up and tail left out)."""
    if len(edit_times) < 10:
        return 0.0
    low, high = round(0.1 * (len(edit_times) - 1)), round(0.9 * (len(edit_times) - 1))
    span = edit_times[high] - edit_times[low]
    return (high - low) / span if span > 0 else 0.0


async def run(rate: float, duration: float, max_patients: int, postgres: str | None) -> str:
    """Run both loads (on a new database); return the line to print."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="moodcheck-taps-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 't.db'}"
            return await _run(rate, duration, max_patients, url)
    async with temporary_database(postgres, "moodcheck_taps") as url:
        return await _run(rate, duration, max_patients, url)


async def _run(rate: float, duration: float, max_patients: int, url: str) -> str:
    await asyncio.to_thread(upgrade, url)
    # Enough patients that each taps about every 3 s at the open loop's rate.
    open_users = list(
        range(FIRST_USER, FIRST_USER + max(200, round(rate * duration / TAPS_PER_CHECKIN * 1.3)))
    )
    closed_users = list(range(open_users[-1] + 1, open_users[-1] + 1 + max_patients))
    driver = await Driver.start()
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=TOKEN,
        database_url=url,
        telegram_base_url=driver.base_url,
    )
    bot = build(
        settings,
        _config(),
        clock=SystemClock(),
        limits=Limits(overall=(1_000_000, 1.0)),
        scan_interval=None,
    )
    try:
        await bot.start(poll_timeout=10)
        eventloop.keep_startup_objects()  # as `moodcheck run` does
        # Active patients, all due now (in bulk: enrolment is not what is measured); the two
        # loads' users are one block of ids from FIRST_USER.
        everyone = open_users + closed_users
        await seed_cohort_due(
            bot, url, "taps", len(everyone), datetime.now(UTC), first_user=FIRST_USER
        )
        await bot.services.due_scan.run()
        await driver.ask(cmd="wait_prompts", users=everyone, timeout=120.0)
        cpu = time.process_time()
        at_rate = await driver.ask(cmd="run", users=open_users, rate=rate, duration=duration)
        cpu_open = time.process_time() - cpu
        loop_before = _loop_seconds()
        cpu = time.process_time()
        unbounded = await driver.ask(cmd="run", users=closed_users, rate=None, duration=60.0)
        cpu_closed = time.process_time() - cpu
        loops = (loop_before, _loop_seconds())
    finally:
        await bot.stop()
        await driver.stop()
    line = _line(url, rate, at_rate, unbounded, len(closed_users), cpu_open, cpu_closed)
    before, after = loops
    return f"{line} | machine: 10M-iteration loop {before:.2f} s before max, {after:.2f} after"


def _sustained_cpu(unbounded: dict[str, Any], cpu_closed: float) -> str:
    """How busy the bot's core was over the closed loop: near 100 % means the bot is what
    limits the rate; well under it means something else (the driver, the machine) does."""
    return f"bot core {100 * cpu_closed / max(unbounded['wall'], 1e-9):.0f} % busy"


def _ms(values: list[float], share: float) -> str:
    return f"{_percentile(sorted(values), share) * 1000:.0f}" if values else "-"


def _line(  # noqa: PLR0917 - the figures of one run
    url: str,
    rate: float,
    at_rate: dict[str, Any],
    unbounded: dict[str, Any],
    patients: int,
    cpu_open: float,
    cpu_closed: float,
) -> str:
    timed, closed = at_rate["latencies"], unbounded["latencies"]
    db = "postgresql" if url.startswith("postgresql") else "sqlite"
    errors = {k: v for k, v in unbounded["status"].items() if k != "200"}
    return (
        f"taps ({db}, sandbox in its own process) | "
        f"max {_sustained(unbounded['edit_times']):.0f} taps/s sustained ({patients} patients; "
        f"tap->edit p50 {_ms(closed, 0.5)} ms, p99 {_ms(closed, 0.99)} ms; "
        f"bot CPU {cpu_closed / max(1, unbounded['taps']) * 1000:.1f} ms/tap, "
        f"driver+server CPU "
        f"{(unbounded['cpu'] - at_rate['cpu']) / max(1, unbounded['taps']) * 1000:.1f} ms/tap, "
        f"{_sustained_cpu(unbounded, cpu_closed)}) | "
        f"at {rate:g} taps/s: tap->edit p50 {_ms(timed, 0.5)} ms, p99 {_ms(timed, 0.99)} ms, "
        f"max {_ms(timed, 1.0)} ms (n={len(timed)}, "
        f"{len(timed) / at_rate['seconds']:.0f}/s offered, {at_rate['late']} presses late; "
        f"tap->answerCallbackQuery p50 {_ms(at_rate['answered'], 0.5)} ms, "
        f"p99 {_ms(at_rate['answered'], 0.99)} ms; "
        f"bot CPU {cpu_open / max(1, at_rate['taps']) * 1000:.1f} ms/tap) | "
        f"timeouts {at_rate['timeouts'] + unbounded['timeouts']}, non-200 {errors or 0}, "
        f"spec violations {unbounded['violations']}"
    )


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--max-patients", type=int, default=1500)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MOODCHECK_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server URL: the run uses a new database there",
    )
    args = parser.parse_args()
    # The loop `moodcheck run` uses (bot/transport/eventloop.py).
    print(eventloop.run(run(args.rate, args.duration, args.max_patients, args.postgres)))


if __name__ == "__main__":
    main()
