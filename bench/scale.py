"""100,000 enrolled patients: the due scan, the bot's memory and its start-up time.

The network is seeded in bulk (``bench/scale_seed.py``): 20 cohorts, patients spread over 21
time zones and over the day's check-in times, with a week of check-ins behind them. Then the
bot starts in a process of its own (``bench/scale_bot.py``), as ``moodcheck run`` would:
load the configuration, check the schema, build, initialise against the sandbox Bot API
(served by this process), sync the cohorts, set the commands, start polling, run the first
scan. Start-up time is from launching that process to the end of its first scan.

Then, on the bot's clock: the due scan when nobody is due and when one minute's patients are
(about 1/1440 of them), the whole periodic job (every scan the JobQueue runs each 30 s) in
both cases, and the process's resident memory after it all. The one-minute scan is taken
apart on a second line (see ``bench/scale_bot.py``): the indexed query that finds who is due,
alone; the scan's wall time and the bot process's CPU time over it, per patient too; its
transactions (how long each held the writer: on SQLite also the event loop, whose statements
run inline) and the longest the event loop went without running anything else. The machine
has 2 cores: when something else runs on it, wall times wander and CPU times much less.

The two indexes this benchmark showed the scans need are in migration 0006.

Usage: ``python -m bench.scale [N] [--days 7] [--at HH:MM] [--postgres URL]``. Prints
two lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pgtemp import temporary_database
from bench.scale_seed import seed
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from storage.migrate import upgrade

TOKEN = "123456:SCALE-TOKEN"
COHORTS = 20


def _config(folder: Path) -> tuple[Path, list[str]]:
    names = [f"clinic-{n:02d}" for n in range(COHORTS)]
    text = "".join(
        f'[[cohort]]\nname = "{name}"\nprovider_chat_id = {-1_000_000 - n}\n'
        'timezone = "America/New_York"\nregion = "US"\ncoverage = "24/7"\n\n'
        for n, name in enumerate(names)
    )
    path = folder / "moodcheck.toml"
    path.write_text(text, encoding="utf-8")
    return path, names


async def _start_bot(args: list[str]) -> tuple[asyncio.subprocess.Process, float, dict[str, Any]]:
    launched = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.scale_bot", *args, stdout=asyncio.subprocess.PIPE
    )
    ready = await _line(process, "READY")
    return process, time.perf_counter() - launched, ready


async def _line(process: asyncio.subprocess.Process, tag: str) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        raw = await process.stdout.readline()
        if not raw:
            raise SystemExit(f"the bot process ended before {tag}")
        text = raw.decode()
        if text.startswith(f"{tag} "):
            data: dict[str, Any] = json.loads(text[len(tag) + 1 :])
            return data


async def run(n: int, days: int, postgres: str | None, *, at: dt.time) -> str:
    """Seed, start the bot, measure; return the lines to print."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-scale-"))
    config, names = _config(folder)
    server = FakeBotApi(
        token=TOKEN, limits=Limits(enabled=False), auto_register_chats=True, request_log_limit=100
    )
    async with contextlib.AsyncExitStack() as stack:
        # 100,000 patients are a quarter of a gigabyte of SQLite: gone with the run.
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        if postgres:
            database = await stack.enter_async_context(
                temporary_database(postgres, "moodcheck_scale")
            )
        else:
            database = f"sqlite+aiosqlite:///{folder / 'scale.db'}"
        await asyncio.to_thread(upgrade, database)
        now = datetime.combine(datetime.now(UTC).date(), at, UTC)
        await server.start()
        stack.push_async_callback(server.stop)
        for index in range(COHORTS):
            server.group(-1_000_000 - index, title=names[index])
        # A first start creates the cohorts, as it would before any patient enrols.
        process, _, _ = await _start_bot(_bot_args(database, server, config, now))
        await _line(process, "RESULT")
        await process.wait()
        seeding = time.perf_counter()
        checkins, busiest = await seed(database, n, names, now, days)
        seeding = time.perf_counter() - seeding
        process, startup, ready = await _start_bot(_bot_args(database, server, config, now))
        result = await _line(process, "RESULT")
        await process.wait()
    steps = ", ".join(f"{k} {v * 1000:.0f}" for k, v in ready["steps"].items())
    backend = "postgresql" if postgres else "sqlite"
    return (
        f"scale N={n:,} ({backend}, {checkins:,} check-ins seeded in {seeding:.0f} s) | "
        f"due scan: {result['due_scan_none'] * 1000:.1f} ms none due, "
        f"{result['due_scan_minute'] * 1000:.1f} ms for one minute "
        f"({result['queued_minute']} due at {at:%H:%M} UTC; the busiest minute has {busiest}) | "
        "whole 30-s job: "
        f"{result['job_none'] * 1000:.1f} ms none due, {result['job_minute'] * 1000:.1f} ms "
        f"one minute | RSS {ready['rss_mb']:.0f} MB started, {result['rss_mb']:.0f} MB after "
        f"scans (peak {result['max_rss_mb']:.0f}) | start-up {startup:.2f} s to first scan done "
        f"(ms: {steps}; first scan {result['first_scan'] * 1000:.0f})\n" + _scan_line(result)
    )


def _scan_line(result: dict[str, Any]) -> str:
    """The one-minute scan taken apart (see ``bench/scale_bot.py``)."""
    found = result["found_due"]
    wall, cpu = result["due_scan_minute"] * 1000, result["scan_cpu"] * 1000
    each = f"{wall / found:.3f} ms wall, {cpu / found:.3f} ms CPU per patient" if found else "-"
    return (
        f"one-minute scan: find who is due {result['find_due'] * 1000:.1f} ms "
        f"(the indexed query alone, {found} rows) | scan {wall:.1f} ms wall, "
        f"{cpu:.1f} ms CPU ({each}) | {result['transactions']} transactions: "
        f"{result['transactions_wall'] * 1000:.1f} ms wall, "
        f"{result['transactions_cpu'] * 1000:.1f} ms CPU in all; median "
        f"{result['median_transaction'] * 1000:.1f} ms, longest "
        f"{result['longest_transaction'] * 1000:.1f} ms ("
        f"{result['longest_transaction_cpu'] * 1000:.1f} ms CPU; number "
        f"{(result['longest_transaction_index'] or 0) + 1}) | longest event-loop stall "
        f"{result['loop_stall'] * 1000:.1f} ms | garbage collection {result['gc'] * 1000:.1f} ms"
    )


def _bot_args(database: str, server: FakeBotApi, config: Path, now: datetime) -> list[str]:
    return [
        "--database",
        database,
        "--base-url",
        server.base_url,
        "--token",
        TOKEN,
        "--config",
        str(config),
        "--now",
        now.isoformat(),
    ]


def main() -> None:
    """Parse arguments, run, print two lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--days", type=int, default=7, help="days of check-ins behind them")
    parser.add_argument(
        "--at",
        type=dt.time.fromisoformat,
        default=dt.time(14, 17),
        help="UTC time of day on the bot's clock (default 14:17: afternoon in Europe, "
        "morning in the Americas, between the hours people pick most)",
    )
    parser.add_argument("--postgres", default=os.environ.get("MOODCHECK_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    lines = asyncio.run(run(args.n, args.days, args.postgres, at=args.at))
    print(lines)


if __name__ == "__main__":
    main()
