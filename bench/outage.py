"""A 20-s database outage (issue 13, item 2): what the patients see, and what is stored after.

50 patients tap an answer, one answers the safety question "Yes", one writes crisis words,
all while the database is away; then it comes back. Printed: how long the two crisis cards
took (the goal is under 2 s, without the database), how many taps were told "could not save",
whether anything was stored or posted to the group during the outage, how long the bot took
to store everything once the database was back, and the counts after it (each update stored
exactly once, the two alerts raised).

The scenario is the end-to-end test's (``tests/support/outage.py``), with the real bot, the
sandbox Bot API and a real database taken away for real (``tests/support/faults.py``): SQLite
by its write lock held from another connection, PostgreSQL by a proxy that cuts and refuses
connections.

Usage: ``python -m bench.outage [--seconds 20] [--postgres URL] [--webhook]``. Prints one
JSON line per database.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot.config import load_config
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from storage.migrate import upgrade
from tests.conftest import CONFIG
from tests.support.databases import postgres_database
from tests.support.faults import DatabaseOutage, SqliteLock, TcpProxy
from tests.support.harness import Harness
from tests.support.outage import run_outage

GROUP = -100111


async def _run(url: str, folder: Path, seconds: float, *, webhook: bool) -> dict[str, object]:
    config_path = folder / "moodcheck.toml"
    config_path.write_text(CONFIG)
    config = load_config(config_path)
    clock = ManualClock(datetime(2026, 1, 12, 13, 0, tzinfo=UTC))
    server = FakeBotApi(limits=Limits(private=(10, 1.0)), webhook_per_chat=webhook)
    await server.start()
    proxy: TcpProxy | None = None
    if url.startswith("postgresql"):
        proxy = TcpProxy.for_url(url)
        await proxy.start()
        outage = DatabaseOutage(proxy=proxy)
        bot_url = proxy.url(url)
    else:
        outage = DatabaseOutage(lock=SqliteLock(url))
        bot_url = url
    server.group(GROUP, title="Clinic A providers")
    harness = Harness(server, url, config, clock, webhook=webhook, bot_db_url=bot_url)
    await harness.start_bot()
    try:
        result = await run_outage(harness, outage, GROUP, seconds=seconds)
    finally:
        await outage.end()
        await harness.close()
        if proxy is not None:
            await proxy.stop()
        await server.stop()
    return {
        "database": "postgresql" if proxy else "sqlite",
        "mode": "webhook" if webhook else "polling",
        **dataclasses.asdict(result),
    }


def main() -> None:
    """Entry point: ``python -m bench.outage``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--postgres", default=os.environ.get("MOODCHECK_TEST_POSTGRES_URL"))
    parser.add_argument("--webhook", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.webhook:
            url = f"sqlite+aiosqlite:///{folder / 'moodcheck.db'}"
            upgrade(url)
            print(json.dumps(asyncio.run(_run(url, folder, args.seconds, webhook=False))))
        if args.postgres:
            with postgres_database(args.postgres) as url:
                line = asyncio.run(_run(url, folder, args.seconds, webhook=args.webhook))
                print(json.dumps(line))


if __name__ == "__main__":
    main()
