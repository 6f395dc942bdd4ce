"""Fan-out benchmark: N patients due at the same minute; time to deliver every prompt.

Two runs against the sandbox server, which runs in its own process (so bot and server each
get a core of a 2-core machine):

* **own path**: our rate limiter off, the server enforcing nothing: how fast the due scan,
  outbox and delivery worker go on their own;
* **limited**: our rate limiter on, the server enforcing Telegram's 30 messages/s with 429s:
  how close the bot gets to the ceiling, and whether anything is lost or doubled. Every
  ``--crisis-every`` seconds of it a crisis card (priority 0) is queued for one of the
  patients: the time from its queueing to Telegram's answer shows it does not wait behind
  the fan-out.

Usage: ``python -m bench.fanout N [--only own|limited] [--database URL | --postgres SERVER_URL]
[--paid] [--window W] [--crisis-every S]``.
Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.cluster import TOKEN, Sandbox, seed_cohort_due
from bench.keys import BENCH_KEYRING, BENCH_KEYS
from bench.load import uptime
from bench.pgtemp import temporary_database
from bot.app import BotRuntime, build
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import SystemClock
from bot.services.alerts.crisis_card import crisis_card
from bot.services.outbox import Priority, queue_send
from bot.settings import Settings
from bot.transport import eventloop
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import OutboxMessage

FIRST_USER = 10_000_000


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="bench",
        provider_chat_id=-100999,
        timezone="UTC",
        locale="en",
        region="US",
        coverage="24/7",
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _crisis_cards(bot: BotRuntime, every: float, chats: int, ids: list[int]) -> None:
    """Queue a crisis card every ``every`` seconds until cancelled; note their outbox ids."""
    runtime = bot.services.runtime
    while True:
        await asyncio.sleep(every)
        async with runtime.uow() as uow:
            key = f"bench-crisis:{len(ids)}"
            await queue_send(
                uow,
                now=runtime.clock.now(),
                chat_id=FIRST_USER + (len(ids) * 7919) % chats,
                text=crisis_card(
                    runtime.renderer,
                    runtime.config.regions,
                    kind="crisis_card",
                    locale="en",
                    region="US",
                    coverage="24/7",
                    now=runtime.clock.now(),
                    team_notified=False,
                ),
                priority=Priority.CRISIS,
                dedup_key=key,
            )
            found = await uow.session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)
            )
            await uow.commit()
        assert found is not None
        ids.append(int(found))
        bot.worker.wake()


async def _latencies(url: str, ids: list[int]) -> list[float]:
    """Seconds from queueing to Telegram's answer (both on the bot's clock) per crisis card."""
    if not ids:
        return []
    engine = create_engine(url, keyring=BENCH_KEYRING)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
                OutboxMessage.id.in_(ids)
            )
        )
        found = [
            (sent - created).total_seconds() if sent is not None else float("inf")
            for created, sent in rows.all()
        ]
    await engine.dispose()
    return found


def _sandbox(sandbox: Sandbox | None, *, limited: bool, extra: Sequence[str]) -> Sandbox:
    """The server for a run: ``sandbox`` reset, or a new one."""
    if sandbox is None:
        return Sandbox(limits=limited, extra=extra)
    sandbox.reset()
    return sandbox


async def run_once(
    n: int,
    *,
    limited: bool,
    database: str | None,
    crisis_every: float = 0.0,
    faults: dict[str, Any] | None = None,
    sandbox_args: Sequence[str] = (),
    paid: bool = False,
    window: int | None = None,
    give_up_after: float = 120.0,
    sandbox: Sandbox | None = None,
) -> dict[str, float]:
    """Run one fan-out and return its figures.

    ``faults``: the sandbox's fault injection for the run (``bot.sandbox.faults``);
    ``sandbox_args``: more command-line options of the sandbox; ``paid``: paid broadcast
    mode (prompts sent with ``allow_paid_broadcast``, the bot's paid limit on); ``window``:
    the delivery worker's requests in flight; ``give_up_after``: seconds to wait at most;
    ``sandbox``: a server already running (reset first, left running), so that several runs
    share one server (``bench.floor``); by default one of its own for the run.
    """
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-bench-"))
    url = database or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    own_sandbox = sandbox is None
    sandbox = _sandbox(sandbox, limited=limited, extra=sandbox_args)
    if faults:
        sandbox.faults(**faults)
    try:
        settings = Settings(
            data_keys=BENCH_KEYS,
            telegram_token=TOKEN,
            database_url=url,
            telegram_base_url=sandbox.base_url,
            paid_broadcast=paid,
            delivery_window=window,
        )
        bot = build(
            settings, _config(), clock=SystemClock(), rate_limited=limited, scan_interval=None
        )
        await bot.application.initialize()
        await bot.services.cohorts.sync()
        eventloop.keep_startup_objects()  # as `moodcheck run` does
        now = datetime.now(UTC)
        # N active patients, all due now (in bulk: enrolment is not what is measured).
        await seed_cohort_due(bot, url, "bench", n, now, first_user=FIRST_USER)
        started = time.perf_counter()
        queued = await bot.services.due_scan.run()
        scanned = time.perf_counter()
        cpu_started = time.process_time()
        bot.worker.start()
        crisis_ids: list[int] = []
        crisis = (
            asyncio.create_task(_crisis_cards(bot, crisis_every, n, crisis_ids))
            if crisis_every
            else None
        )
        deadline = scanned + max(give_up_after, n / 20)
        # Watch the worker's own counters: asking the server (blocking HTTP) would steal the
        # event loop from the worker being measured.
        while bot.worker.stats.sent + bot.worker.stats.dead < queued + len(crisis_ids):
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.01)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
        if crisis is not None:
            crisis.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await crisis
        await bot.worker.stop()
        latencies = await _latencies(url, crisis_ids)
        await bot.application.shutdown()
        await bot.engine.dispose()
        stats = sandbox.stats()
    finally:
        if own_sandbox:
            sandbox.stop()
    per_chat = dict(stats.get("per_chat") or {})
    for index in range(len(crisis_ids)):  # the crisis cards are not prompts
        chat = str(FIRST_USER + (index * 7919) % n)
        per_chat[chat] = per_chat.get(chat, 0) - 1
    delivered = sum(1 for count in per_chat.values() if count >= 1)
    first, last = stats.get("first_message_at"), stats.get("last_message_at")
    span = (last - first) if first is not None and last is not None else 0.0
    return {
        "queued": queued,
        "scan_s": scanned - started,
        "deliver_s": finished - scanned,
        "rate": (stats["accepted_messages"] / (finished - scanned)) if finished > scanned else 0,
        "sustained": ((stats["accepted_messages"] - 1) / span) if span > 0 else 0.0,
        "lost": n - delivered,
        "duplicates": sum(max(0, c - 1) for c in per_chat.values()),
        "rate_limited": stats.get("rate_limited", 0),
        "retried": bot.worker.stats.retried,
        "cpu_ms": 1000 * cpu / max(1, queued),
        "crisis_n": len(latencies),
        "crisis_max": max(latencies, default=0.0),
        "crisis_p50": statistics.median(latencies) if latencies else 0.0,
        "timeouts": sum(
            count for error, count in bot.worker.stats.by_error.items() if "TimedOut" in error
        ),
    }


async def in_database(
    server: str | None,
    database: str | None,
    run: Callable[..., Awaitable[dict[str, float]]],
    *args: Any,
    **kwargs: Any,
) -> dict[str, float]:
    """``run(*args, database=..., **kwargs)`` on a new database of its own on the PostgreSQL
    ``server`` (dropped after), else on ``database`` (None: a new SQLite file)."""
    if server is None:
        return await run(*args, database=database, **kwargs)
    async with temporary_database(server, "moodcheck_bench") as url:
        return await run(*args, database=url, **kwargs)


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--only", choices=["own", "limited"])
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument(
        "--postgres",
        metavar="SERVER_URL",
        help="a PostgreSQL server: each run gets a database of its own there, dropped after",
    )
    parser.add_argument("--crisis-every", type=float, default=5.0)
    parser.add_argument(
        "--paid",
        action="store_true",
        help="the limited run in paid broadcast mode, the server enforcing 1,000/s for it",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="the delivery worker's messages in flight (MOODCHECK_DELIVERY_WINDOW; default: "
        "the bot's, 16, or 64 with --paid)",
    )
    args = parser.parse_args()
    print(f"before: {uptime()}")
    postgres = args.database is not None or args.postgres is not None
    window = args.window or "default"
    parts = [f"fanout N={args.n} db={'postgresql' if postgres else 'sqlite'} window={window}"]
    if args.only in (None, "own"):
        own = eventloop.run(
            in_database(
                args.postgres, args.database, run_once, args.n, limited=False, window=args.window
            )
        )
        parts.append(
            f"own: scan {own['scan_s']:.2f}s, deliver {own['deliver_s']:.2f}s = "
            f"{own['rate']:.0f} msg/s (bot CPU {own['cpu_ms']:.2f} ms/msg), "
            f"lost {own['lost']:.0f}, dup {own['duplicates']:.0f}"
        )
    if args.only in (None, "limited"):
        lim = eventloop.run(
            in_database(
                args.postgres,
                args.database,
                run_once,
                args.n,
                limited=True,
                crisis_every=args.crisis_every,
                paid=args.paid,
                window=args.window,
                sandbox_args=("--paid-limit", "1000") if args.paid else (),
            )
        )
        parts.append(
            f"limited({'paid 1000' if args.paid else '30'}/s): {lim['sustained']:.1f} msg/s "
            f"sustained, all sent in {lim['deliver_s']:.1f}s ({lim['rate']:.1f} msg/s, bot CPU "
            f"{lim['cpu_ms']:.2f} ms/msg), 429s {lim['rate_limited']:.0f}, "
            f"lost {lim['lost']:.0f}, dup {lim['duplicates']:.0f}"
            f", crisis card queued to sent p50 {lim['crisis_p50']:.2f}s max "
            f"{lim['crisis_max']:.2f}s (n={lim['crisis_n']:.0f})"
        )
    if args.only is None and args.paid:
        parts.append(f"paid / own rate {lim['rate'] / own['rate']:.2f}")
    print(" | ".join(parts))
    print(f"after:  {uptime()}")


if __name__ == "__main__":
    main()
