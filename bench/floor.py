"""The bot's delivery beside a raw-call floor, interleaved on one server: A B A B A B.

* **A, the bot**: ``bench.fanout``'s own path (N patients due at once; the due scan, then the
  delivery worker sends every prompt through the outbox: claim, lease, decrypt, send, write
  the outcome), our rate limiter off, the server enforcing nothing;
* **B, the floor**: the same N prompts (the very payloads the bot's due scan queued, read back
  once before the pairs) sent by a bare loop of ``telegram.Bot.do_api_request`` calls,
  plain-JSON keyboards, on the bot's aiohttp backend and uvloop, ``--in-flight`` (32) at once,
  nothing written anywhere.

Both run in this process against one sandbox server in another (reset before each run), one
after the other, so that the machine's state of the moment hits both; each pair prints bot
/ floor for CPU per message (this process's CPU from the first send to the last answer) and
for wall time. Issue 16's target: bot / floor <= 1.3 for both.

Where the difference goes: before the pairs, the delivery's database statements are run
alone on the queue the prompts were read from (claim, decrypt and lease 48 rows a
transaction, then write 8 outcomes and check-in message ids a transaction, as the worker
does; nothing sent), and each pair also prints bot / (floor + that).

Usage: ``python -m bench.floor [N] [--pairs 3] [--in-flight 32] [--window 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import Bot

from bench.cluster import TOKEN, Sandbox, seed_cohort_due
from bench.fanout import FIRST_USER, _config, run_once
from bench.keys import BENCH_KEYS
from bench.load import uptime
from bot.app import build
from bot.domain.clock import SystemClock
from bot.services.outbox import OnSent
from bot.settings import Settings
from bot.transport import eventloop
from bot.transport.aiohttp_backend import SEND_READ_TIMEOUT, AiohttpRequest
from storage.migrate import upgrade
from storage.models import OutboxMessage
from storage.repositories.outbox import OutboxChange
from storage.uow import UnitOfWorkFactory

Prompt = tuple[str, dict[str, Any]]


CLAIM_AHEAD = 48
"""Rows per claim in the database-alone run: the worker's default (3 windows of 16)."""
SETTLE = 8
"""Outcomes per write in it: the worker's default (half the window); the bot wrote 7-8 per
transaction in ``bench.fanout 2000`` runs."""


async def queued_prompts(sandbox: Sandbox, n: int) -> tuple[list[Prompt], float]:
    """The (method, payload) of every prompt the bot's due scan queues for N patients, in
    the outbox's order: what the floor sends; and the CPU milliseconds per message of the
    delivery's database statements alone on that queue (``database_alone``)."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-floor-"))
    url = f"sqlite+aiosqlite:///{folder / 'prompts.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=TOKEN,
        database_url=url,
        telegram_base_url=sandbox.base_url,
    )
    bot = build(settings, _config(), clock=SystemClock(), rate_limited=False, scan_interval=None)
    await bot.application.initialize()
    try:
        await bot.services.cohorts.sync()
        await seed_cohort_due(bot, url, "bench", n, datetime.now(UTC), first_user=FIRST_USER)
        await bot.services.due_scan.run()
        async with bot.engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxMessage.method, OutboxMessage.payload).order_by(OutboxMessage.id)
            )
            found = [(str(method), dict(payload)) for method, payload in rows.all()]
        alone = await database_alone(bot.services.runtime.uow, n)
    finally:
        await bot.application.shutdown()
        await bot.engine.dispose()
    return found, alone


async def database_alone(uow: UnitOfWorkFactory, n: int) -> float:
    """The delivery worker's database statements for N queued prompts, nothing sent: claim
    ``CLAIM_AHEAD`` rows (select, decrypt, lease) per transaction, then write ``SETTLE``
    outcomes per transaction (the row sent, the check-in's message id), as the worker does.
    Returns CPU milliseconds per message."""
    lease = timedelta(seconds=120)
    message_id = 0
    cpu_started = time.process_time()
    while True:
        async with uow() as work:
            now = datetime.now(UTC)
            rows = await work.outbox.claim(now, CLAIM_AHEAD, lease)
            await work.commit()
        if not rows:
            break
        for start in range(0, len(rows), SETTLE):
            batch = rows[start : start + SETTLE]
            async with uow() as work:
                now = datetime.now(UTC)
                changes: list[OutboxChange] = []
                checkins: list[tuple[int, int]] = []
                for row in batch:
                    message_id += 1
                    changes.append(
                        {
                            "id": row.id,
                            "lease_until": None,
                            "status": "sent",
                            "sent_at": now,
                            "telegram_message_id": message_id,
                        }
                    )
                    if row.on_sent == OnSent.CHECKIN_MESSAGE and row.ref_id:
                        checkins.append((row.ref_id, message_id))
                await work.outbox.apply(changes)
                await work.checkins.set_message_ids(checkins)
                await work.commit()
    assert message_id == n, f"{message_id} of {n} claimed"
    return 1000 * (time.process_time() - cpu_started) / n


async def floor_once(sandbox: Sandbox, prompts: list[Prompt], in_flight: int) -> dict[str, float]:
    """Send every prompt with ``Bot.do_api_request``, ``in_flight`` at once; return wall
    seconds and CPU milliseconds per message from the first send to the last answer."""
    sandbox.reset()
    bot = Bot(
        TOKEN,
        base_url=sandbox.base_url,
        request=AiohttpRequest(read_timeout=SEND_READ_TIMEOUT),
    )
    await bot.initialize()
    pending = iter(prompts)
    failed = 0

    async def lane() -> None:
        nonlocal failed
        for method, payload in pending:
            result = await bot.do_api_request(method, api_kwargs=dict(payload))
            if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
                failed += 1

    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(lane() for _ in range(in_flight)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await bot.shutdown()
    per_chat = sandbox.stats().get("per_chat") or {}
    return {
        "wall_s": wall,
        "cpu_ms": 1000 * cpu / max(1, len(prompts)),
        "rate": len(prompts) / wall if wall > 0 else 0.0,
        "lost": len(prompts) - sum(1 for count in per_chat.values() if count >= 1) + failed,
        "duplicates": sum(max(0, int(count) - 1) for count in per_chat.values()),
    }


def _line(result: dict[str, float], wall: str) -> str:
    return (
        f"{result[wall]:.2f}s wall ({result['rate']:.0f} msg/s), "
        f"{result['cpu_ms']:.3f} ms CPU/msg, lost {result['lost']:.0f}, "
        f"dup {result['duplicates']:.0f}"
    )


def main() -> None:
    """Prepare the prompts, run the pairs, print each pair and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=32, help="the floor's calls at once")
    parser.add_argument("--window", type=int, default=16, help="the bot's delivery window")
    args = parser.parse_args()
    print(f"before: {uptime()}")
    sandbox = Sandbox(limits=False)
    cpu_ratios: list[float] = []
    wall_ratios: list[float] = []
    summed: list[float] = []
    try:
        prompts, alone = eventloop.run(queued_prompts(sandbox, args.n))
        assert len(prompts) == args.n, f"{len(prompts)} prompts queued for {args.n} patients"
        print(
            f"the delivery's database statements alone (claim {CLAIM_AHEAD}, write "
            f"{SETTLE} outcomes a transaction, nothing sent): {alone:.3f} ms CPU/msg",
            flush=True,
        )
        for pair in range(1, args.pairs + 1):
            bot = eventloop.run(
                run_once(args.n, limited=False, database=None, window=args.window, sandbox=sandbox)
            )
            floor = eventloop.run(floor_once(sandbox, prompts, args.in_flight))
            cpu_ratios.append(bot["cpu_ms"] / floor["cpu_ms"])
            summed.append(bot["cpu_ms"] / (floor["cpu_ms"] + alone))
            wall_ratios.append(bot["deliver_s"] / floor["wall_s"])
            print(
                f"pair {pair}: A bot (window {args.window}) "
                f"{_line(bot, 'deliver_s')} | B floor ({args.in_flight} in flight) "
                f"{_line(floor, 'wall_s')} | bot/floor CPU {cpu_ratios[-1]:.2f}, "
                f"wall {wall_ratios[-1]:.2f}; bot/(floor + database alone) CPU {summed[-1]:.2f}  "
                f"[{uptime()}]",
                flush=True,
            )
    finally:
        sandbox.stop()
    print(
        f"floor N={args.n} pairs={args.pairs}: bot/floor CPU per message median "
        f"{statistics.median(cpu_ratios):.2f} (range {min(cpu_ratios):.2f}-"
        f"{max(cpu_ratios):.2f}), wall median {statistics.median(wall_ratios):.2f} (range "
        f"{min(wall_ratios):.2f}-{max(wall_ratios):.2f}); target <= 1.3"
    )
    print(f"after:  {uptime()}")


if __name__ == "__main__":
    main()
