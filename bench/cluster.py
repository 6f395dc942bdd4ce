"""Real processes for benchmarks and fault tests: the sandbox Bot API server and
``moodcheck run`` workers, each in its own process, on one database.

Nothing here reaches into a running bot: the workers are started the way an operator starts
them (environment variables, a cohort file) and observed from the outside, through the
sandbox's control endpoints and the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select

from bench.keys import BENCH_KEYRING, BENCH_KEYS
from bench.pgtemp import create_database, drop_database
from bot.app import BotRuntime, build
from bot.config import load_config
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Cohort, Patient

TOKEN = "123456:CLUSTER-TOKEN"
COHORT = "fanout"
PROVIDER_CHAT = -100999
FIRST_USER = 10_000_000
ROWS_PER_INSERT = 2000
"""Patients per INSERT: 2,000 rows x 12 columns stay under SQLite's 32,766 parameters."""

COHORT_TOML = f"""
[[cohort]]
name = "{COHORT}"
provider_chat_id = {PROVIDER_CHAT}
timezone = "UTC"
locale = "en"
region = "US"
coverage = "24/7"
# Out of the way: a digest (a chart drawn for seconds) is not what is measured here.
digest_weekday = "sun"
digest_time = "23:59"
"""


class Sandbox:
    """The sandbox Bot API server in a child process."""

    def __init__(self, *, limits: bool, extra: Sequence[str] = ()) -> None:
        args = [sys.executable, "-m", "bot.sandbox", "--port", "0", "--auto-register-chats"]
        # The bot checks at start-up that it can post in its cohort's group
        # (bot.transport.channel).
        args += ["--token", TOKEN, "--group", str(PROVIDER_CHAT), *extra]
        if not limits:
            args.append("--no-limits")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("SANDBOX_PORT="):
            self.process.kill()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.port = int(line.split("=", 1)[1])
        self.base_url = f"http://127.0.0.1:{self.port}/bot"

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def stats(self) -> dict[str, Any]:
        """The server's counters (``per_chat`` counts new messages per chat)."""
        result: dict[str, Any] = self._call("/sandbox/stats")
        return result

    def reset(self) -> None:
        """Forget messages, counts and rate windows (users and groups stay)."""
        self._call("/sandbox/reset", {})

    def faults(self, **body: Any) -> None:
        """Configure fault injection (see ``bot.sandbox.faults``)."""
        self._call("/sandbox/faults", body)

    def stop(self) -> None:
        """Terminate the server."""
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def temporary_postgres(base_url: str) -> Iterator[str]:
    """Create a PostgreSQL database on the server of ``base_url``, migrated; yield its URL;
    drop it at the end."""
    url = asyncio.run(create_database(base_url, f"moodcheck_bench_{os.getpid()}"))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(drop_database(base_url, url))


def write_config(folder: Path) -> Path:
    """Write the one-cohort file the workers read; return its path."""
    path = folder / "moodcheck.toml"
    path.write_text(COHORT_TOML)
    return path


@dataclass
class Worker:
    """One ``moodcheck run`` process."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls,
        *,
        database_url: str,
        sandbox: Sandbox,
        config: Path,
        log: Path,
        rate: int | None = None,
    ) -> Worker:
        """Start ``moodcheck run`` against the sandbox; ``rate``: overall messages/s."""
        env = dict(os.environ)
        env.update(
            MOODCHECK_TELEGRAM_TOKEN=TOKEN,
            MOODCHECK_DATA_KEYS=BENCH_KEYS,
            MOODCHECK_DATABASE_URL=database_url,
            MOODCHECK_TELEGRAM_BASE_URL=sandbox.base_url,
            MOODCHECK_CONFIG=str(config),
            MOODCHECK_BOT_USERNAME="moodcheck_test_bot",
            MOODCHECK_LOG_LEVEL="INFO",
        )
        if rate is not None:
            env["MOODCHECK_MAX_MESSAGES_PER_SECOND"] = str(rate)
        out: IO[bytes] = log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], env=env, stdout=out, stderr=out
        )
        out.close()
        return cls(process, log)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait (the round in progress finishes)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        """What the process logged."""
        return self.log.read_text(errors="replace")


async def sync_cohort(url: str, config: Path) -> int:
    """Create the cohort row the way a starting bot does; return its id."""
    settings = Settings(
        data_keys=BENCH_KEYS, telegram_token=TOKEN, database_url=url, config=config
    )
    runtime = build(settings, load_config(config), scan_interval=None)
    try:
        await runtime.services.cohorts.sync()
        async with runtime.engine.connect() as connection:
            cohort_id = await connection.scalar(select(Cohort.id).where(Cohort.name == COHORT))
    finally:
        await runtime.engine.dispose()
    assert cohort_id is not None
    return int(cohort_id)


async def seed_due_patients(
    url: str, cohort_id: int, n: int, now: datetime, *, first_user: int = FIRST_USER
) -> None:
    """Insert N active patients whose prompt is due this minute (bulk: enrolment is not
    what is measured)."""
    engine = create_engine(url, keyring=BENCH_KEYRING)
    rows = [
        {
            "cohort_id": cohort_id,
            "label": f"B-{i:06d}",
            "telegram_user_id": first_user + i,
            "chat_id": first_user + i,
            "status": "active",
            "locale": "en",
            "timezone": "UTC",
            "checkin_time": now.strftime("%H:%M"),
            "next_prompt_at": now.replace(second=0, microsecond=0),
            "consented_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    try:
        async with engine.begin() as connection:
            for start in range(0, n, ROWS_PER_INSERT):
                await connection.execute(insert(Patient), rows[start : start + ROWS_PER_INSERT])
    finally:
        await engine.dispose()


async def seed_cohort_due(
    bot: BotRuntime, url: str, cohort: str, n: int, now: datetime, *, first_user: int
) -> None:
    """As :func:`seed_due_patients`, into a cohort the bot has synced, found by its name."""
    async with bot.services.runtime.uow.reading() as uow:
        found = await uow.cohorts.by_name(cohort)
    assert found is not None
    await seed_due_patients(url, found.id, n, now, first_user=first_user)


def wait_for(
    sandbox: Sandbox, done: int, timeout: float, *, every: float = 0.02
) -> dict[str, Any]:
    """Poll the sandbox until ``done`` chats have at least one new message; return its stats
    (whatever they are when the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = sandbox.stats()
        if len(stats["per_chat"]) >= done or time.monotonic() > deadline:
            return stats
        time.sleep(every)


def duplicates(stats: dict[str, Any]) -> int:
    """New messages beyond the first in each chat."""
    return sum(max(0, int(count) - 1) for count in stats["per_chat"].values())
