"""Taps during a fan-out: how long a patient waits for the next question while thousands of
other patients' prompts are being sent at Telegram's overall limit, and what the taps cost
the fan-out.

The bot runs in this process, as ``build`` makes it, with its rate limiter on (30 messages/s
overall); the sandbox server runs in another process (``bench/tapdriver.py``) enforcing
Telegram's limits: the overall 30/s for sends, and every chat's own limit for sends and edits
alike (docs/architecture.md, "Telegram facts the design rests on"). Three phases,
one after the other on one database and one pair of processes:

* **taps alone** (the floor): patients answer their daily check-in at ``--rate`` taps/s
  (an open loop: a press every 1/rate s, each to a patient who has thought for 1-2 s since
  their last edit) for ``--duration`` s, nothing else being sent;
* **fan-out alone** (the other floor): ``N`` prompts due at once, nothing else;
* **taps during a fan-out**: another ``N`` prompts due at once and, as soon as they are
  queued, other patients tapping as in the first phase.

Tap-to-edit is measured on the server's clock, from the press being queued for
``getUpdates`` to the server accepting the ``editMessageText`` of that check-in message. The
fan-out's time runs from just before the due scan to the server accepting the last first
prompt (the scan included).

Edits take no place in the overall 30/s, so the fan-out should lose nothing to the taps:
the line gives its rate while they came and its time against the fan-out alone
(docs/performance.md, "Taps during a fan-out").

``--edits-count-overall``: the server counts edits in the overall 30/s as well, as a
Telegram that did would; the bot then draws 429s on edits until its limiter counts them too
(``bot.transport.ratelimit.EDIT_REFUSALS``).

Usage: ``python -m bench.taps_under_fanout [N] [--rate 30] [--duration 20]
[--postgres URL] [--edits-count-overall]``. Prints the machine's load, one line of figures,
the load again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bench.cluster import seed_cohort_due
from bench.keys import BENCH_KEYRING, BENCH_KEYS
from bench.load import uptime
from bench.pgtemp import temporary_database
from bench.taps import TAPS_PER_CHECKIN, TOKEN, Driver, _config, _percentile
from bot.app import build
from bot.domain.clock import SystemClock
from bot.settings import Settings
from bot.transport import eventloop
from bot.transport.ratelimit import URGENT_MEMORY, Limits
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Patient

FIRST_USER = 40_000_000


def _ms(values: list[float], share: float) -> str:
    return f"{_percentile(sorted(values), share) * 1000:.0f}" if values else "-"


def _taps(result: dict[str, Any]) -> str:
    latencies = result["latencies"]
    return (
        f"p50 {_ms(latencies, 0.5)} ms, p95 {_ms(latencies, 0.95)} ms, "
        f"p99 {_ms(latencies, 0.99)} ms, max {_ms(latencies, 1.0)} ms "
        f"(n={len(latencies)}, {len(latencies) / result['seconds']:.1f}/s offered, "
        f"{result['late']} presses late)"
    )


async def _due_now(url: str, users: list[int], when: datetime) -> None:
    """Set these patients' next prompt to ``when`` (the fan-outs wait in the future)."""
    engine = create_engine(url, keyring=BENCH_KEYRING)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Patient)
                .where(Patient.telegram_user_id.between(users[0], users[-1]))
                .values(next_prompt_at=when)
            )
    finally:
        await engine.dispose()


async def run(
    n: int, rate: float, duration: float, postgres: str | None, server_args: tuple[str, ...]
) -> str:
    """Run the three phases on a new database; return the line to print."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="moodcheck-taps-fanout-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 't.db'}"
            return await _run(n, rate, duration, url, server_args)
    async with temporary_database(postgres, "moodcheck_taps_fanout") as url:
        return await _run(n, rate, duration, url, server_args)


async def _run(
    n: int, rate: float, duration: float, url: str, server_args: tuple[str, ...]
) -> str:
    await asyncio.to_thread(upgrade, url)
    # Enough tapping patients that each taps about every 3 s at the open loop's rate.
    tappers = max(200, round(rate * duration / TAPS_PER_CHECKIN * 1.3))
    blocks, start = [], FIRST_USER
    for size in (tappers, tappers, n, n):
        blocks.append(list(range(start, start + size)))
        start += size
    alone_tappers, busy_tappers, alone_fanout, busy_fanout = blocks
    driver = await Driver.start("--telegram-limits", *server_args)
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=TOKEN,
        database_url=url,
        telegram_base_url=driver.base_url,
    )
    # Telegram's limits, as in production (the default): 30 messages/s overall.
    bot = build(settings, _config(), clock=SystemClock(), limits=Limits(), scan_interval=None)
    try:
        await bot.start(poll_timeout=10)
        eventloop.keep_startup_objects()  # as `moodcheck run` does
        now = datetime.now(UTC)
        await seed_cohort_due(bot, url, "taps", start - FIRST_USER, now, first_user=FIRST_USER)
        later = now + timedelta(days=1)
        await _due_now(url, alone_fanout + busy_fanout, later)
        await bot.services.due_scan.run()
        await driver.ask(cmd="wait_prompts", users=alone_tappers + busy_tappers, timeout=120.0)

        alone = await driver.ask(cmd="run", users=alone_tappers, rate=rate, duration=duration)
        # Each phase starts with no urgent send in the limiter's memory: the fan-out alone at
        # full speed, the first taps during the fan-out with no places kept for them yet.
        await asyncio.sleep(URGENT_MEMORY + 1.0)

        fanout_alone = await _fanout(bot, driver, url, alone_fanout, n)

        await _due_now(url, busy_fanout, datetime.now(UTC))
        began = (await driver.ask(cmd="mark"))["now"]
        cpu = time.process_time()
        await bot.services.due_scan.run()
        busy = await driver.ask(cmd="run", users=busy_tappers, rate=rate, duration=duration)
        prompts = await driver.ask(cmd="prompts", users=busy_fanout, timeout=max(120.0, n / 5))
        cpu_busy = time.process_time() - cpu
    finally:
        await bot.stop()
        await driver.stop()
    db = "postgresql" if url.startswith("postgresql") else "sqlite"
    return (
        f"taps during a fan-out ({db}; limits on: bot 30/s, sandbox 30/s in its own process) | "
        f"taps alone at {rate:g}/s: {_taps(alone)} | "
        f"during a fan-out of {n}: {_taps(busy)} | "
        f"{_fanout_figures(fanout_alone, prompts, began, busy)} | "
        f"bot CPU {100 * cpu_busy / max(1e-9, prompts['last'] - began):.0f} % of a core "
        f"during it | server answers {prompts['status']}, duplicate prompts {prompts['dup']}, "
        f"edit timeouts {busy['timeouts']}, unprompted {prompts['missing']}"
    )


async def _fanout(bot: Any, driver: Driver, url: str, users: list[int], n: int) -> dict[str, Any]:
    """Prompt these patients (due now) with nothing else going on; their figures."""
    await _due_now(url, users, datetime.now(UTC))
    began = (await driver.ask(cmd="mark"))["now"]
    await bot.services.due_scan.run()
    prompts = await driver.ask(cmd="prompts", users=users, timeout=max(120.0, n / 5))
    prompts["began"] = began
    return prompts


def _fanout_figures(
    alone: dict[str, Any], busy: dict[str, Any], began: float, taps: dict[str, Any]
) -> str:
    """The fan-out's time alone and with taps, and its rate while they came and after."""
    alone_s = alone["last"] - alone["began"]
    busy_s = busy["last"] - began
    tapping = taps["ended_at"] - taps["started_at"]
    during = sum(1 for t in busy["times"] if taps["started_at"] <= t <= taps["ended_at"])
    after = [t for t in busy["times"] if t > taps["ended_at"]]
    after_rate = (len(after) - 1) / (after[-1] - after[0]) if len(after) > 1 else 0.0
    return (
        f"fan-out alone {alone_s:.1f} s ({len(alone['times'])} prompts, "
        f"{alone['sustained']:.1f}/s sustained) | with the taps {busy_s:.1f} s "
        f"(+{busy_s - alone_s:.1f} s, {busy_s / alone_s:.2f} x): "
        f"{during / tapping:.1f} prompts/s while the taps came, "
        f"{after_rate:.1f}/s after"
    )


def main() -> None:
    """Parse arguments, run, print the load, one line, the load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MOODCHECK_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server URL: the run uses a new database there",
    )
    parser.add_argument(
        "--edits-count-overall",
        action="store_true",
        help="the server counts edits in the overall 30/s too (if we read Telegram wrong)",
    )
    args = parser.parse_args()
    server_args = ("--edits-count-overall",) if args.edits_count_overall else ()
    print(f"before: {uptime()}")
    # The loop `moodcheck run` uses (bot/transport/eventloop.py).
    print(eventloop.run(run(args.n, args.rate, args.duration, args.postgres, server_args)))
    print(f"after:  {uptime()}")


if __name__ == "__main__":
    main()
