"""Start and stop the sandbox: fake Bot API, the production-built bot, the page."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.app import build
from bot.config import AppConfig, load_config
from bot.data_keys import create_key_file
from bot.domain.clock import TravelClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from bot.tryout.web import make_app
from bot.tryout.world import World
from storage.migrate import upgrade_async

__all__ = ["CONFIG", "HOST", "open_world", "serve"]

HOST = "127.0.0.1"
BOT_USERNAME = "moodcheck_sandbox_bot"
CONFIG = Path(__file__).with_name("sandbox.toml")


def _with_instrument_day_today(config: AppConfig, clock: TravelClock) -> AppConfig:
    """The weekly instruments on the day the sandbox starts, so that the PHQ-9 can be tried
    at once (the cohort file's weekday otherwise)."""
    cohorts = tuple(
        cohort.model_copy(
            update={
                "instrument_weekday": clock.now().astimezone(cohort.zone).strftime("%a").lower()
            }
        )
        for cohort in config.cohorts
    )
    return dataclasses.replace(config, cohorts=cohorts)


@asynccontextmanager
async def open_world(
    database: Path | None = None, config_path: Path | None = None
) -> AsyncIterator[World]:
    """The running sandbox (bot and fake Bot API, no page); stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-sandbox-"))
    database = database or folder / "sandbox.db"
    url = f"sqlite+aiosqlite:///{database}"
    keys = database.with_name(f"{database.name}.keys")
    if not database.exists() and not keys.exists():
        # As `moodcheck db upgrade` on a new install: a data key file beside the database.
        create_key_file(keys)
    await upgrade_async(url)
    clock = TravelClock()

    def monotonic() -> float:
        # Rate windows (Telegram's, and the bot's own limiter) follow the jumps: a week
        # travelled in seconds does not crowd one real minute of the group's 20 messages.
        return time.monotonic() + clock.offset.total_seconds()

    config = load_config(config_path or CONFIG)
    if config_path is None:
        config = _with_instrument_day_today(config, clock)
    # Telegram's limits, but a private chat takes a scenario's quick taps (as the tests do).
    server = FakeBotApi(
        bot_username=BOT_USERNAME,
        limits=Limits(private=(10, 1.0)),
        clock=monotonic,
        wall_clock=lambda: clock.now().timestamp(),
        request_log_limit=10_000,  # a sandbox left open for days keeps a bounded log
    )
    await server.start()
    for cohort in config.cohorts:
        server.group(cohort.provider_chat_id, title=f"{cohort.name} care team")
    settings = Settings(
        telegram_token=server.token, database_url=url, telegram_base_url=server.base_url
    )
    bot = build(settings, config, clock=clock, limiter_clock=monotonic)
    try:
        await bot.start(poll_timeout=10)
        try:
            yield World(server, bot, clock, config, database)
        finally:
            await bot.stop()
    finally:
        await server.stop()


async def serve(port: int, database: Path | None = None, config_path: Path | None = None) -> None:
    """Run the sandbox and its page until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_world(database, config_path) as world:
        runner = web.AppRunner(
            make_app(world), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        bound = runner.addresses[0][1]
        print(  # noqa: T201 - the command's output
            f"moodcheck sandbox: open http://{HOST}:{bound}/ in your browser "
            f"(database {world.database}; Ctrl+C stops it). Nothing reaches Telegram.",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
