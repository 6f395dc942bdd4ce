"""Fan-out shared by several ``moodcheck run`` processes on one PostgreSQL database.

N patients fall due at once; the due scan runs here, then K worker processes (started as an
operator starts them) send the prompts to the sandbox Bot API server, which runs in its own
process. Two runs:

* **own path**: the server enforcing nothing and each worker's overall limit set very high
  (``MOODCHECK_MAX_MESSAGES_PER_SECOND``): how fast K workers go together;
* **limited**: the server enforcing Telegram's 30 messages/s; every worker keeps to 30/K,
  so together they should stay at (just under) 30/s with next to no 429s.

Both count what the server received per chat: lost (no prompt) and doubled. The rate is
taken between 40 % and 90 % delivered, when every worker is sending (a worker that finds
others running waits a few seconds before its first send).

Usage: ``python -m bench.fanout_workers N --database postgresql://... [--workers 2]
[--only own|limited]``. Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import (
    TOKEN,
    Sandbox,
    Worker,
    duplicates,
    seed_due_patients,
    sync_cohort,
    temporary_postgres,
    write_config,
)
from bench.keys import BENCH_KEYS
from bot.app import build
from bot.config import load_config
from bot.settings import Settings

OWN_RATE = 100_000


async def _queue_prompts(url: str, config: Path, n: int) -> int:
    """Seed N due patients and run the due scan here, so that the workers only send."""
    now = datetime.now(UTC)
    await seed_due_patients(url, await sync_cohort(url, config), n, now)
    settings = Settings(
        data_keys=BENCH_KEYS, telegram_token=TOKEN, database_url=url, config=config
    )
    runtime = build(settings, load_config(config), scan_interval=None)
    try:
        return await runtime.services.due_scan.run()
    finally:
        await runtime.engine.dispose()


def _steady_rate(samples: list[tuple[float, int]], n: int) -> float:
    """Messages/s between 40 % and 90 % delivered: every worker has joined by then (a worker
    that finds others waits a few seconds before its first send)."""
    low = next((s for s in samples if s[1] >= 0.4 * n), None)
    high = next((s for s in samples if s[1] >= 0.9 * n), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def run_once(n: int, workers: int, base_url: str, *, limited: bool) -> dict[str, Any]:
    """One fan-out on a fresh database; return the server's figures."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-workers-"))
    config = write_config(folder)
    with temporary_postgres(base_url) as url:
        queued = asyncio.run(_queue_prompts(url, config, n))
        sandbox = Sandbox(limits=limited)
        running = [
            Worker.start(
                database_url=url,
                sandbox=sandbox,
                config=config,
                log=folder / f"worker{i}.log",
                rate=None if limited else OWN_RATE,
            )
            for i in range(workers)
        ]
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + max(120.0, n / 10)
        try:
            while time.monotonic() < deadline:
                stats = sandbox.stats()
                samples.append((time.monotonic(), len(stats["per_chat"])))
                if samples[-1][1] >= n:
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # a late double would arrive now
            stats = sandbox.stats()
        finally:
            for worker in running:
                worker.stop()
            sandbox.stop()
    span = stats["message_span_seconds"]
    return {
        "queued": queued,
        "span": span,
        "steady": _steady_rate(samples, n),
        "lost": n - len(stats["per_chat"]),
        "dup": duplicates(stats),
        "429": stats["rate_limited"],
    }


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=["own", "limited"])
    parser.add_argument(
        "--database",
        default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL")
        or os.environ.get("MOODCHECK_TEST_POSTGRES_URL"),
        help="a PostgreSQL server URL the benchmark may create a database on",
    )
    args = parser.parse_args()
    if not args.database or not args.database.startswith("postgres"):
        parser.error("several workers need PostgreSQL: pass --database postgresql://...")
    parts = [f"fanout N={args.n} workers={args.workers} db=postgresql"]
    if args.only in (None, "own"):
        own = run_once(args.n, args.workers, args.database, limited=False)
        parts.append(
            f"own: {own['steady']:.0f} msg/s together (40-90 % delivered), all in "
            f"{own['span']:.2f}s, lost {own['lost']}, dup {own['dup']}"
        )
    if args.only in (None, "limited"):
        lim = run_once(args.n, args.workers, args.database, limited=True)
        parts.append(
            f"limited(30/s): {lim['steady']:.1f} msg/s together (40-90 % delivered), all in "
            f"{lim['span']:.1f}s, "
            f"429s {lim['429']}, lost {lim['lost']}, dup {lim['dup']}"
        )
    print(" | ".join(parts))


if __name__ == "__main__":
    main()
