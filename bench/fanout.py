"""Fan-out benchmark: N patients due at the same minute; time to deliver every prompt.

Two runs against the sandbox server, which runs in its own process (so bot and server each
get a core of a 2-core machine):

* **own path**: our rate limiter off, the server enforcing nothing: how fast the due scan,
  outbox and delivery worker go on their own;
* **limited**: our rate limiter on, the server enforcing Telegram's 30 messages/s with 429s:
  how close the bot gets to the ceiling, and whether anything is lost or doubled.

Usage: ``python -m bench.fanout N [--only own|limited] [--database URL]``. Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bot.app import build
from bot.config import AppConfig, CohortConfig
from bot.domain.clock import SystemClock
from bot.settings import Settings
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Cohort, Patient

TOKEN = "123456:BENCH-TOKEN"
FIRST_USER = 10_000_000


class Sandbox:
    """The sandbox Bot API server in a child process."""

    def __init__(self, *, limits: bool) -> None:
        args = [
            sys.executable,
            "-m",
            "bot.sandbox",
            "--port",
            "0",
            "--auto-register-chats",
            "--token",
            TOKEN,
        ]
        if not limits:
            args.append("--no-limits")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("SANDBOX_PORT="):
            self.process.kill()
            raise SystemExit(f"sandbox did not start: {line!r}")
        self.port = int(line.split("=", 1)[1])
        self.base_url = f"http://127.0.0.1:{self.port}/bot"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/sandbox/stats") as response:
            data: dict[str, Any] = json.load(response)
            return data

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="bench", provider_chat_id=-100999, timezone="UTC", locale="en", region="US"
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _enrol(url: str, n: int, now: datetime) -> None:
    """Insert N active patients, all due now (bulk: enrolment is not what is measured)."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        cohort_id = await connection.scalar(select(Cohort.id).where(Cohort.name == "bench"))
        rows = [
            {
                "cohort_id": cohort_id,
                "label": f"B-{i:06d}",
                "telegram_user_id": FIRST_USER + i,
                "chat_id": FIRST_USER + i,
                "status": "active",
                "locale": "en",
                "timezone": "UTC",
                "checkin_time": now.strftime("%H:%M"),
                "next_prompt_at": now.replace(second=0, microsecond=0),  # due this minute
                "consented_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ]
        for start in range(0, n, 5000):
            await connection.execute(insert(Patient), rows[start : start + 5000])
    await engine.dispose()


async def run_once(n: int, *, limited: bool, database: str | None) -> dict[str, float]:
    """Run one fan-out and return its figures."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-bench-"))
    url = database or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    sandbox = Sandbox(limits=limited)
    try:
        settings = Settings(
            telegram_token=TOKEN,
            database_url=url,
            telegram_base_url=sandbox.base_url,
        )
        bot = build(
            settings, _config(), clock=SystemClock(), rate_limited=limited, scan_interval=None
        )
        await bot.application.initialize()
        await bot.services.cohorts.sync()
        now = datetime.now(UTC)
        await _enrol(url, n, now)
        started = time.perf_counter()
        queued = await bot.services.due_scan.run()
        scanned = time.perf_counter()
        bot.worker.start()
        deadline = scanned + max(120.0, n / 20)
        # Watch the worker's own counters: asking the server (blocking HTTP) would steal the
        # event loop from the worker being measured.
        while bot.worker.stats.sent + bot.worker.stats.dead < queued:
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.01)
        finished = time.perf_counter()
        await bot.worker.stop()
        await bot.application.shutdown()
        await bot.engine.dispose()
        stats = sandbox.stats()
    finally:
        sandbox.stop()
    per_chat = stats.get("per_chat") or stats.get("messages_per_chat") or {}
    delivered = sum(1 for count in per_chat.values() if count >= 1)
    first, last = stats.get("first_message_at"), stats.get("last_message_at")
    window = (last - first) if first is not None and last is not None else 0.0
    return {
        "queued": queued,
        "scan_s": scanned - started,
        "deliver_s": finished - scanned,
        "rate": (stats["accepted_messages"] / (finished - scanned)) if finished > scanned else 0,
        "sustained": ((stats["accepted_messages"] - 1) / window) if window > 0 else 0.0,
        "lost": n - delivered,
        "duplicates": sum(max(0, c - 1) for c in per_chat.values()),
        "rate_limited": stats.get("rate_limited", 0),
        "retried": bot.worker.stats.retried,
    }


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--only", choices=["own", "limited"])
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    parts = [f"fanout N={args.n} db={'postgresql' if args.database else 'sqlite'}"]
    if args.only in (None, "own"):
        own = asyncio.run(run_once(args.n, limited=False, database=args.database))
        parts.append(
            f"own: scan {own['scan_s']:.2f}s, deliver {own['deliver_s']:.2f}s = "
            f"{own['rate']:.0f} msg/s, lost {own['lost']:.0f}, dup {own['duplicates']:.0f}"
        )
    if args.only in (None, "limited"):
        lim = asyncio.run(run_once(args.n, limited=True, database=args.database))
        parts.append(
            f"limited(30/s): {lim['sustained']:.1f} msg/s sustained over {lim['deliver_s']:.1f}s, "
            f"429s {lim['rate_limited']:.0f}, lost {lim['lost']:.0f}, dup {lim['duplicates']:.0f}"
        )
    print(" | ".join(parts))


if __name__ == "__main__":
    main()
