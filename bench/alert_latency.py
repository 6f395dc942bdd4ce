"""Time to alert: from a patient's tap on "Yes" (the safety question) to the alert message
accepted by the (sandbox) Bot API, with the delivery worker idle and while it sends a fan-out.

The sandbox runs in this process (its clock must be the bot's: monotonic clocks are not
comparable across processes), enforcing Telegram's limits; that makes the figures pessimistic,
since the server's work competes with the bot's for the same core. Each cohort's group gets
its alerts one after another, within its 20 messages a minute.

Usage: ``python -m bench.alert_latency [--cohorts 4] [--per-cohort 12] [--fanout 2000]``.
Prints one line. Targets (issue "Escalation and provider triage"): p99 under 1 s idle and
under 5 s during a 2,000-prompt fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from bench.keys import BENCH_KEYRING, BENCH_KEYS
from bot.app import build
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import SystemClock
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from bot.transport import eventloop
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Checkin, Cohort, Patient

FIRST_USER = 20_000_000


def _config(cohorts: int) -> AppConfig:
    return AppConfig(
        cohorts=tuple(
            CohortConfig(
                name=f"c{n}",
                provider_chat_id=-1000 - n,
                timezone="UTC",
                locale="en",
                region="US",
                coverage="24/7",
                reminder_after_hours=None,
            )
            for n in range(cohorts)
        ),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _patients(url: str, cohort_ids: list[int], per_cohort: int, fanout: int) -> None:
    now = datetime.now(UTC)
    engine = create_engine(url, keyring=BENCH_KEYRING)
    rows: list[tuple[int, int, datetime | None]] = []
    user = FIRST_USER
    for cohort_id in cohort_ids:
        for _ in range(per_cohort):
            rows.append((cohort_id, user, None))  # alerting patients: no prompt due
            user += 1
    for _ in range(fanout):
        rows.append((cohort_ids[0], user, now.replace(second=0, microsecond=0)))
        user += 1
    async with engine.begin() as connection:
        values = [
            {
                "cohort_id": c,
                "label": f"L-{u % 10**6:06d}",
                "telegram_user_id": u,
                "chat_id": u,
                "status": "active",
                "locale": "en",
                "timezone": "UTC",
                "checkin_time": now.strftime("%H:%M"),
                "next_prompt_at": due,
                "consented_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for c, u, due in rows
        ]
        for start in range(0, len(values), 5000):
            await connection.execute(insert(Patient), values[start : start + 5000])
    await engine.dispose()


async def _to_safety_question(server: FakeBotApi, users: list[int], url: str) -> None:
    """Open each alerting patient's check-in at the safety question (what earlier taps do)."""
    for user_id in users:
        await server.user(user_id).send_text("/checkin")
    await server.wait_for(lambda: all(server.user(u).last_message for u in users), 60)
    engine = create_engine(url, keyring=BENCH_KEYRING)
    async with engine.begin() as connection:
        await connection.execute(update(Checkin).values(item="safety"))
    await engine.dispose()
    for user_id in users:
        await server.user(user_id).send_text("/checkin")  # re-ask: the safety keyboard
    await server.wait_for(
        lambda: all(
            "Yes"
            in (
                server.user(u).last_message.labels  # type: ignore[union-attr]
                if server.user(u).last_message
                else []
            )
            for u in users
        ),
        60,
    )


async def _measure(server: FakeBotApi, groups: dict[int, list[int]]) -> list[float]:
    """Each group's patients tap Yes one after another; all groups at once."""

    async def one_group(group: int, users: list[int]) -> list[float]:
        latencies = []
        for user_id in users:
            seen = len(server.group(group).messages)
            started = time.monotonic()
            await server.user(user_id).press("Yes")

            def arrived(g: int = group, s: int = seen) -> bool:
                return len(server.group(g).messages) > s

            await server.wait_for(arrived, 30)
            latencies.append(server.group(group).messages[seen].sent_at - started)
        return latencies

    results = await asyncio.gather(*(one_group(g, u) for g, u in groups.items()))
    return [latency for group in results for latency in group]


def _figures(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered)} p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


async def run(cohorts: int, per_cohort: int, fanout: int) -> str:
    """Run both scenarios; return the line to print."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-latency-"))
    url = f"sqlite+aiosqlite:///{folder / 'latency.db'}"
    await asyncio.to_thread(upgrade, url)
    server = FakeBotApi(auto_register_chats=True, request_log_limit=10_000)
    await server.start()
    config = _config(cohorts)
    for cohort in config.cohorts:
        server.group(cohort.provider_chat_id, title=cohort.name)
    settings = Settings(
        data_keys=BENCH_KEYS,
        telegram_token=server.token,
        database_url=url,
        telegram_base_url=server.base_url,
    )
    bot = build(settings, config, clock=SystemClock(), scan_interval=None)
    await bot.start(poll_timeout=1)
    eventloop.keep_startup_objects()  # as `moodcheck run` does
    try:
        await bot.services.cohorts.sync()
        engine = create_engine(url, keyring=BENCH_KEYRING)
        async with engine.connect() as connection:
            ids = list((await connection.scalars(select(Cohort.id).order_by(Cohort.id))).all())
        await engine.dispose()
        await _patients(url, ids, per_cohort * 2, fanout)
        users = list(range(FIRST_USER, FIRST_USER + len(ids) * per_cohort * 2))
        server.register_users(users)
        await _to_safety_question(server, users, url)
        group_of = {cohort.provider_chat_id: n for n, cohort in enumerate(config.cohorts)}
        idle_groups = {
            chat: users[n * per_cohort * 2 : n * per_cohort * 2 + per_cohort]
            for chat, n in group_of.items()
        }
        busy_groups = {
            chat: users[n * per_cohort * 2 + per_cohort : (n + 1) * per_cohort * 2]
            for chat, n in group_of.items()
        }
        idle = await _measure(server, idle_groups)
        await asyncio.sleep(61)  # let each group's 20-a-minute window empty
        server.register_users(range(users[-1] + 1, users[-1] + 1 + fanout))
        queued = await bot.services.due_scan.run()
        busy = await _measure(server, busy_groups)
        sent_by_then = bot.worker.stats.sent
    finally:
        await bot.stop()
        await server.stop()
    return (
        f"alert latency (tap -> group message accepted), SQLite, in-process sandbox with "
        f"Telegram's limits | idle: {_figures(idle)} | during a {queued}-prompt fan-out "
        f"({sent_by_then} messages sent by then): {_figures(busy)}"
    )


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=4)
    parser.add_argument("--per-cohort", type=int, default=12)
    parser.add_argument("--fanout", type=int, default=2000)
    args = parser.parse_args()
    print(eventloop.run(run(args.cohorts, args.per_cohort, args.fanout)))


if __name__ == "__main__":
    main()
