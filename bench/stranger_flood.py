"""Prompts while strangers flood the bot: the time to deliver a fan-out of daily prompts with
and without 40 people who are not enrolled each sending ``/start <code guess>`` once a second.

The sandbox runs in this process (loopback only) and enforces Telegram's limits (30 messages
a second overall); the bot is built as production builds it, on SQLite. Runs alternate,
without then with the flood (A B A B), each on a fresh database and a fresh bot, so that a
slow spell of the machine hits both alike. The flood is bounded: ``--strangers`` senders,
one message a second each, for as long as the prompts take (at most ``--timeout`` s).

Usage: ``python -m bench.stranger_flood [--prompts 600] [--strangers 40] [--pairs 2]``.
Prints the load before and after, then one line. Target (issue 13, item 3): with the flood,
the prompts are all delivered within 1.25x of the time without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.cluster import seed_cohort_due
from bench.keys import BENCH_KEYS
from bot.app import build
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import SystemClock
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from bot.transport import eventloop
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.migrate import upgrade

GROUP = -100_888
FIRST_PATIENT = 40_000_000
FIRST_STRANGER = 50_000_000


def _config() -> AppConfig:
    return AppConfig(
        cohorts=(
            CohortConfig(
                coverage="24/7",
                name="flood",
                provider_chat_id=GROUP,
                timezone="UTC",
                locale="en",
                region="US",
                reminder_after_hours=None,
                digest_weekday="sun",
                digest_time="23:59",
            ),
        ),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _flood(server: FakeBotApi, strangers: list[int], sent: list[int]) -> None:
    """Each stranger sends a code guess once a second, until cancelled."""

    async def one(user_id: int) -> None:
        user = server.user(user_id)
        while True:
            await user.send_text(f"/start {secrets.token_urlsafe(16)}")
            sent[0] += 1
            await asyncio.sleep(1.0)

    await asyncio.gather(*(one(u) for u in strangers))


async def run_once(prompts: int, strangers: int, limit: float, run: int) -> dict[str, float]:
    """One fan-out of ``prompts``, with ``strangers`` flooding (0: none); its figures."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-flood-"))
    url = f"sqlite+aiosqlite:///{folder / 'flood.db'}"
    await asyncio.to_thread(upgrade, url)
    server = FakeBotApi(auto_register_chats=True, request_log_limit=10_000)
    await server.start()
    server.group(GROUP, title="flood")
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=server.token,
        database_url=url,
        telegram_base_url=server.base_url,
    )
    bot = build(settings, _config(), clock=SystemClock(), scan_interval=None)
    await bot.start(poll_timeout=1)
    eventloop.keep_startup_objects()
    first = FIRST_PATIENT + run * prompts
    patients = {str(first + n) for n in range(prompts)}
    stranger_ids = [FIRST_STRANGER + run * 1000 + n for n in range(strangers)]
    sent = [0]
    flood: asyncio.Task[None] | None = None
    try:
        await bot.services.cohorts.sync()
        await seed_cohort_due(bot, url, "flood", prompts, datetime.now(UTC), first_user=first)
        server.register_users(int(p) for p in patients)
        server.register_users(stranger_ids)
        if strangers:
            flood = asyncio.create_task(_flood(server, stranger_ids, sent))
            await asyncio.sleep(3.0)  # the flood is under way before the prompts are due
        started = time.monotonic()
        await bot.services.due_scan.run()
        deadline = started + limit
        delivered = 0
        while time.monotonic() < deadline:
            per_chat = server.stats()["per_chat"]
            delivered = sum(1 for chat in patients if per_chat.get(chat, 0) >= 1)
            if delivered >= prompts:
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - started
    finally:
        if flood is not None:
            flood.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flood
        stats = server.stats()
        # getattr: the same benchmark runs on a commit before the throttle, for comparison.
        gate = getattr(bot.services, "strangers", None)
        dropped = dict(gate.dropped) if gate is not None else {}
        await bot.stop()
        await server.stop()
    answered = sum(int(stats["per_chat"].get(str(s), 0)) for s in stranger_ids)
    return {
        "seconds": took,
        "delivered": delivered,
        "flood_sent": sent[0],
        "answered": answered,
        "dropped": sum(dropped.values()),
        "rate_limited": stats["rate_limited"],
    }


async def run(prompts: int, strangers: int, pairs: int, limit: float) -> str:
    """A B A B ...: without, then with the flood; return the line to print."""
    calm: list[dict[str, float]] = []
    flooded: list[dict[str, float]] = []
    for pair in range(pairs):
        calm.append(await run_once(prompts, 0, limit, 2 * pair))
        flooded.append(await run_once(prompts, strangers, limit, 2 * pair + 1))
    ratios = [f["seconds"] / c["seconds"] for c, f in zip(calm, flooded, strict=True)]
    worst = max(ratios)
    complete = all(r["delivered"] == prompts for r in calm + flooded)

    def each(runs: list[dict[str, float]], key: str, digits: int = 0) -> str:
        return ", ".join(f"{r[key]:.{digits}f}" for r in runs)

    return (
        f"stranger flood, SQLite, in-process sandbox at Telegram's limits | {prompts} prompts "
        f"without a flood: {each(calm, 'seconds', 1)} s | with {strangers} strangers at 1/s: "
        f"{each(flooded, 'seconds', 1)} s (delivered {each(flooded, 'delivered')}; stranger "
        f"messages {each(flooded, 'flood_sent')}, answered {each(flooded, 'answered')}, "
        f"dropped unanswered {each(flooded, 'dropped')}) | flood/calm per pair "
        f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f}) | "
        f"429s {sum(r['rate_limited'] for r in calm + flooded):.0f} | target <= 1.25x with "
        f"all delivered: {'met' if worst <= 1.25 and complete else 'NOT met'}"
    )


def main() -> None:
    """Parse arguments, run, print the load and one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=600)
    parser.add_argument("--strangers", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    print(eventloop.run(run(args.prompts, args.strangers, args.pairs, args.timeout)))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
