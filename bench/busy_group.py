"""Time to alert in a busy provider group: from a patient's crisis text to the IMMEDIATE alert
accepted by the (sandbox) Bot API, while the team has filled the group's minute with
commands; beside it, in the same run, the same in a quiet group (the floor).

The sandbox runs in this process and enforces Telegram's 20 messages a minute per group on a
clock the benchmark moves (a minute per trial would make 50 trials take an hour); the bot's
own clock and rate limiter use the same clock. Latency is measured in real time. Trials
alternate, quiet then busy, so that a slow spell of the machine hits both alike.

Usage: ``python -m bench.busy_group [--trials 50] [--commands 21]``. Prints the load before
and after, then one line. Target (issue 13, item 1): busy p99 under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.keys import BENCH_KEYRING, BENCH_KEYS
from bot.app import BotRuntime, build
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits as SandboxLimits
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import BotMessage
from bot.settings import Settings
from bot.transport import eventloop
from bot.transport.ratelimit import Limits
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Cohort, Patient

GROUP = -100_777
FIRST_USER = 30_000_000
NURSE = 9001
CRISIS = "I don't want to live anymore"


def _config() -> AppConfig:
    return AppConfig(
        cohorts=(
            CohortConfig(
                coverage="24/7",
                name="busy",
                provider_chat_id=GROUP,
                timezone="UTC",
                locale="en",
                region="US",
                reminder_after_hours=None,
            ),
        ),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _patients(url: str, count: int, now: datetime) -> None:
    engine = create_engine(url, keyring=BENCH_KEYRING)
    async with engine.begin() as connection:
        cohort_id = (await connection.scalars(select(Cohort.id))).one()
        await connection.execute(
            insert(Patient),
            [
                {
                    "cohort_id": cohort_id,
                    "label": f"P-{n:04d}",
                    "telegram_user_id": FIRST_USER + n,
                    "chat_id": FIRST_USER + n,
                    "status": "active",
                    "locale": "en",
                    "timezone": "UTC",
                    "checkin_time": "03:00",
                    "next_prompt_at": None,
                    "consented_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ],
        )
    await engine.dispose()


def _alerts(server: FakeBotApi) -> int:
    return sum(
        1
        for m in server.group(GROUP).messages
        if isinstance(m, BotMessage) and "Acknowledge" in m.labels
    )


async def _settle(bot: BotRuntime) -> None:
    await bot.processor.wait_idle()
    bot.worker.wake()
    await bot.worker.wait_idle()


async def _trial(
    server: FakeBotApi, bot: BotRuntime, clock: ManualClock, user: int, commands: int
) -> float:
    """One trial: a fresh minute, ``commands`` commands first (none: the quiet floor), then
    the crisis text; return seconds until the alert was accepted."""
    for _ in range(2):  # the last trial's waiting replies go, then a fresh minute
        clock.advance(timedelta(seconds=65))
        await _settle(bot)
    if commands:
        group = server.group(GROUP)
        nurse = group.member(NURSE, first_name="Nurse")
        before = len(group.messages)
        for n in range(commands):
            await nurse.send_text("/patients" if n % 2 == 0 else "/alerts")
        # The routine part of the minute is full: 16 replies went, the others wait.
        await server.wait_for(lambda: len(group.messages) - before >= 16, 60)
        await _settle(bot)
    seen = _alerts(server)
    started = time.monotonic()
    await server.user(user).send_text(CRISIS)
    await server.wait_for(lambda: _alerts(server) > seen, 60)
    return time.monotonic() - started


def _figures(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered)} p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


async def run(trials: int, commands: int) -> str:
    """Run the trials; return the line to print."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-busy-"))
    url = f"sqlite+aiosqlite:///{folder / 'busy.db'}"
    await asyncio.to_thread(upgrade, url)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))

    def virtual() -> float:
        return clock.now().timestamp()

    server = FakeBotApi(
        limits=SandboxLimits(global_per_second=100_000, private=(100, 1.0)),
        clock=virtual,
        request_log_limit=10_000,
    )
    await server.start()
    server.group(GROUP, title="busy")
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=server.token,
        database_url=url,
        telegram_base_url=server.base_url,
    )
    # Telegram's group limit (and the alert reserve) on the moved clock; the overall and
    # private limits are out of the way (the clock stands still within a trial).
    limits = Limits(overall=(100_000, 1.0), private=(100, 1.0))
    bot = build(
        settings, _config(), clock=clock, limits=limits, limiter_clock=virtual, scan_interval=None
    )
    await bot.start(poll_timeout=1)
    eventloop.keep_startup_objects()
    quiet: list[float] = []
    busy: list[float] = []
    try:
        await bot.services.cohorts.sync()
        await _patients(url, 2 * trials, clock.now())
        server.register_users(range(FIRST_USER, FIRST_USER + 2 * trials))
        for n in range(trials):
            quiet.append(await _trial(server, bot, clock, FIRST_USER + 2 * n, 0))
            busy.append(await _trial(server, bot, clock, FIRST_USER + 2 * n + 1, commands))
        stats = server.stats()
    finally:
        await bot.stop()
        await server.stop()
    over = sorted(busy)[min(len(busy) - 1, round(0.99 * (len(busy) - 1)))]
    return (
        f"busy-group alert latency (crisis text -> IMMEDIATE alert accepted), SQLite, "
        f"in-process sandbox at 20/min per group | quiet group: {_figures(quiet)} | "
        f"after {commands} commands in the minute: {_figures(busy)} | busy/quiet p50 "
        f"{statistics.median(busy) / statistics.median(quiet):.2f} | 429s "
        f"{stats['rate_limited']}, violations {stats['violations']} | target busy p99 < 2 s: "
        f"{'met' if over < 2.0 else 'NOT met'}"
    )


def main() -> None:
    """Parse arguments, run, print the load and one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--commands", type=int, default=21)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    print(eventloop.run(run(args.trials, args.commands)))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
