"""End-to-end harness: the production-built bot, over HTTP, against the fake Bot API server.

Nothing of ours is mocked: the PTB Application polls the sandbox server, handlers call
services, services write the real database, and the delivery worker sends over HTTP. Time in
the bot comes from a ManualClock the test moves; the harness only ever *waits for work to
finish* (updates handled, outbox drained), never for time to pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import BotRuntime, build
from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from bot.transport.delivery import DeliveryPolicy
from bot.transport.processor import ChatOrderedUpdateProcessor
from bot.transport.ratelimit import Limits
from prompts.render import Renderer
from storage.db import create_engine, create_session_factory
from tests.support.keys import TEST_KEYRING, TEST_KEYS

T = TypeVar("T")
SETTLE_TIMEOUT = 15.0
WEBHOOK_SECRET = "harness-webhook-secret_0123"
PRODUCTION_SLOW_AFTER = ChatOrderedUpdateProcessor().slow_after
LOADED_MACHINE_SLOW_AFTER = 5.0
"""Tests whose database is healthy wait this long before an update counts as held up by it.
On a shared 2-core machine at a load of 20, an ordinary update can take over production's
0.5 s; the card would then also go out without the database, and a test that checks the
stored path would see two cards. Tests that take the database away (a fault proxy:
``bot_db_url``) keep production's figure: they are the tests of that path."""


@functools.cache
def shared_renderer() -> Renderer:
    """One renderer for every bot a test process builds: compiling all the templates is a
    noticeable cost per build (docs/performance.md, "Figures behind constants in the code"),
    and they do not change during a run."""
    return Renderer()


class Harness:
    """A running bot plus the sandbox server and the simulated people in it."""

    def __init__(
        self,
        server: FakeBotApi,
        db_url: str,
        config: AppConfig,
        clock: ManualClock,
        *,
        limits: Limits | None = None,
        delivery: DeliveryPolicy | None = None,
        webhook: bool = False,
        limiter_clock: Callable[[], float] | None = None,
        bot_db_url: str | None = None,
        slow_after: float | None = None,
    ) -> None:
        self.server = server
        self.db_url = db_url
        self.bot_db_url = bot_db_url or db_url
        """The bot's own way to the database (through a fault proxy in outage tests); the
        harness inspects through ``db_url``."""
        self.config = config
        self.clock = clock
        self._limits = limits
        self._limiter_clock = limiter_clock
        """The bot's rate limiter's monotonic clock (default: the real one)."""
        self._delivery = delivery or DeliveryPolicy(poll_interval=0.2)
        self.bot: BotRuntime | None = None
        self._engine: AsyncEngine = create_engine(db_url, keyring=TEST_KEYRING)
        self._sessions = create_session_factory(self._engine)
        self.update_ids: list[int] = []
        self.webhook = webhook
        """Updates reach the bot by the server posting them to its webhook, not by polling."""
        if slow_after is None:
            slow_after = PRODUCTION_SLOW_AFTER if bot_db_url else LOADED_MACHINE_SLOW_AFTER
        self.slow_after = slow_after
        """Seconds after which an unfinished update counts as held up by the database, and the
        crisis card goes out without it (``bot.transport.processor``,
        ``bot.transport.offline``)."""

    @property
    def runtime(self) -> BotRuntime:
        """The running bot (fails if it is stopped)."""
        assert self.bot is not None, "the bot is not running"
        return self.bot

    async def start_bot(self, *, add_groups: bool = True) -> BotRuntime:
        """Build the bot the way production does and start it.

        ``add_groups``: first make sure every configured cohort's group exists in the sandbox
        with the bot in it (the bot refuses to start otherwise: bot.transport.channel).
        """
        if add_groups:
            self.add_groups()
        hook: dict[str, Any] = {}
        if self.webhook:
            # Port 0 here; the URL gets the real port once the web server listens (below).
            hook = {
                "listen": "127.0.0.1:0",
                "webhook_url": "http://127.0.0.1/telegram",
                "webhook_secret": WEBHOOK_SECRET,
            }
        settings = Settings(
            telegram_token=self.server.token,
            database_url=self.bot_db_url,
            telegram_base_url=self.server.base_url,
            data_keys=TEST_KEYS,
            **hook,
        )
        bot = build(
            settings,
            self.config,
            clock=self.clock,
            limits=self._limits,
            limiter_clock=self._limiter_clock,
            delivery=self._delivery,
            scan_interval=None,
            renderer=shared_renderer(),
            webhook=self.webhook,
        )
        bot.processor.slow_after = self.slow_after
        self.bot = bot
        if bot.web is not None and bot.webhook is not None:
            await bot.web.start()
            url = f"http://127.0.0.1:{bot.web.port}/telegram"
            bot.webhook = dataclasses.replace(bot.webhook, url=url)
        await bot.start(poll_timeout=1)
        return bot

    def add_groups(self) -> None:
        """Make sure every configured cohort's group exists in the sandbox, the bot in it."""
        for cohort in self.config.cohorts:
            self.server.group(cohort.provider_chat_id, title=f"{cohort.name} providers")

    async def stop_bot(self) -> None:
        """Stop the bot (the database and the server stay)."""
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None
        # A new bot starts with a new update processor: only later updates are awaited.
        self.update_ids.clear()

    async def close(self) -> None:
        """Stop everything the harness started."""
        await self.stop_bot()
        await self._engine.dispose()

    def track(self, update_id: int) -> int:
        """Remember an update the test caused, so settle() waits for it."""
        self.update_ids.append(update_id)
        return update_id

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every update sent so far is handled and the outbox has nothing due."""
        async with asyncio.timeout(timeout):
            runtime = self.runtime
            while True:
                if self.server.undelivered_update_count() == 0 and set(self.update_ids) <= (
                    runtime.processor.completed
                ):
                    await runtime.processor.wait_idle()
                    runtime.worker.wake()
                    await runtime.worker.wait_idle()
                    if set(self.update_ids) <= runtime.processor.completed:
                        return
                await asyncio.sleep(0.005)

    # --- what simulated people do; each waits until the bot has finished reacting ---

    async def send(self, who: Any, text: str) -> None:
        """A user (or a group member) sends a text message."""
        self.track(await who.send_text(text))
        await self.settle()

    async def edit(self, who: Any, text: str, message_id: int | None = None) -> None:
        """A user edits a text message they sent (by default their newest)."""
        self.track(await who.edit_text(text, message_id=message_id))
        await self.settle()

    async def press(self, who: Any, label: str, message_id: int | None = None) -> None:
        """A user presses the button with this label (in the newest message that has it)."""
        self.track(await who.press(label, message_id=message_id))
        await self.settle()

    async def press_data(self, who: Any, message_id: int, data: str) -> None:
        """A user's client sends callback data of its own making (forged or stale)."""
        self.track(await who.press_data(message_id, data))
        await self.settle()

    async def advance(self, delta: timedelta) -> None:
        """Move the bot's clock forward and let due retries go out."""
        self.clock.advance(delta)
        await self.settle()

    async def due_scan(self) -> int:
        """Run the due scan now (the JobQueue does this every 30 s in production)."""
        queued = await self.runtime.services.due_scan.run()
        await self.settle()
        return queued

    # --- database inspection (a separate connection, like an operator's) ---

    async def scalar(self, stmt: Select[T]) -> T | None:
        """Run a query that returns one value (or one entity)."""
        async with self._sessions() as session:
            result: T | None = await session.scalar(stmt)
            return result

    async def rows(self, stmt: Any) -> list[Any]:
        """Run a query and return its rows as ORM objects or tuples."""
        async with self._sessions() as session:
            result = await session.execute(stmt)
            if len(stmt.column_descriptions) == 1:  # one entity or one column
                return list(result.scalars().all())
            return list(result.all())

    async def execute(self, stmt: Any) -> None:
        """Change the database directly, as an operator (or a test's setup) would."""
        async with self._sessions() as session:
            await session.execute(stmt)
            await session.commit()

    async def count(self, model: type[Any], *where: Any) -> int:
        """Count rows of a model matching conditions."""
        stmt = select(func.count()).select_from(model).where(*where)
        return int(await self.scalar(stmt) or 0)
