"""The composition root: builds the database, services, PTB Application and workers."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

import handlers
from bot.config import AppConfig
from bot.data_keys import load_keyring
from bot.domain.clock import Clock, SystemClock
from bot.ops.logs import StateLog
from bot.ops.metrics import Metrics, OpsReader
from bot.services.container import Services
from bot.services.provider.commands import COMMANDS as PROVIDER_COMMANDS
from bot.services.runtime import Runtime
from bot.settings import Settings, Webhook
from bot.transport.aiohttp_backend import SEND_READ_TIMEOUT, AiohttpRequest
from bot.transport.channel import GroupAccess
from bot.transport.delivery import DeliveryPolicy, DeliveryWorker
from bot.transport.offline import OfflineResponder
from bot.transport.polling import Poller
from bot.transport.processor import ChatOrderedUpdateProcessor
from bot.transport.ratelimit import Limits, SlidingWindowRateLimiter
from bot.transport.web import WebhookEndpoint, WebServer
from bot.transport.workers import slots_for
from handlers.context import SERVICES_KEY, BotContext
from prompts.render import Renderer
from storage.db import create_engine, create_session_factory, is_unavailable
from storage.directory import Directory
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,  # a message edited to add crisis words is read again (only for that)
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,  # the bot removed from, restricted in or added back to a group
]
PATIENT_COMMANDS = (
    "start",
    "checkin",
    "settings",
    "pause",
    "resume",
    "stop",
    "mydata",
    "delete",
    "help",
)
# APScheduler silently skips a job that starts over 1 s late unless told otherwise.
JOB_KWARGS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


@dataclass(slots=True)
class BotRuntime:
    """A built bot: start it, stop it, reach its parts (tests and benchmarks do)."""

    application: BotApplication
    services: Services
    worker: DeliveryWorker
    processor: ChatOrderedUpdateProcessor
    engine: AsyncEngine
    limiter: SlidingWindowRateLimiter | None
    metrics: Metrics | None = None
    web: WebServer | None = None
    """The webhook, /healthz and /metrics listener (None: not configured)."""
    webhook: Webhook | None = None
    """Set in webhook mode: updates arrive through ``web``, not getUpdates."""
    group_access: GroupAccess | None = None
    """Asks Telegram whether the bot can post in each cohort's group (start-up, probe)."""
    poller: Poller | None = None
    """Set in polling mode: getUpdates, confirming only what is stored."""
    offline: OfflineResponder | None = None
    """What the patient is shown while the database is down."""
    directory: Directory | None = None
    """Patients' locales and check-ins' questionnaires, kept for ``offline``."""

    async def on_startup(self, _app: object = None) -> None:
        """Everything after the bot is initialised and before updates flow."""
        await self.services.cohorts.sync()
        if self.group_access is not None:
            # Stops the start (bot.transport.channel.GroupCheckError) when a group is out of reach.
            await self.group_access.check_at_start()
        if self.directory is not None:
            await self.directory.warm(self.services.runtime.clock.now())
        renderer = self.services.runtime.renderer
        for locale in renderer.locales:
            commands = [
                BotCommand(name, renderer.render(f"command_{name}", locale))
                for name in PATIENT_COMMANDS
            ]
            await self.application.bot.set_my_commands(
                commands,
                scope=BotCommandScopeAllPrivateChats(),
                language_code=None if locale == "en" else locale,
            )
            group_commands = [
                BotCommand(name, renderer.render(f"provider_command_{name}", locale))
                for name in PROVIDER_COMMANDS
            ]
            await self.application.bot.set_my_commands(
                group_commands,
                scope=BotCommandScopeAllGroupChats(),
                language_code=None if locale == "en" else locale,
            )
        self.worker.start()

    async def on_stop(self, _app: object = None) -> None:
        """After updates stop: finish the delivery round in progress."""
        await self.worker.stop()

    async def on_shutdown(self, _app: object = None) -> None:
        """Last: close the database pool."""
        await self.engine.dispose()

    async def start(self, *, poll_timeout: int = 10) -> None:
        """Start the job queue, the delivery worker, the web server, then updates: a webhook
        (registered with Telegram; never deleted on stop, other workers keep receiving) or
        polling."""
        await self.application.initialize()
        await self.on_startup()
        await self.application.start()
        if self.web is not None:
            await self.web.start()
        if self.webhook is not None:
            await self.application.bot.set_webhook(
                url=self.webhook.url,
                secret_token=self.webhook.secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=self.webhook.max_connections,
            )
        elif self.poller is not None:
            self.poller.timeout = poll_timeout
            self.poller.start()

    async def stop(self) -> None:
        """Stop in the reverse order of :meth:`start`."""
        if self.web is not None:
            await self.web.stop()
        if self.poller is not None:
            await self.poller.stop()
        if self.application.running:
            await self.application.stop()
        await self.on_stop()
        await self.application.shutdown()
        await self.on_shutdown()


_JOBS_DATABASE = StateLog(logger, "database (scheduled jobs)")


def _quiet_when_unavailable(job: Any) -> Any:
    """A job that fails because the database is down logs that once (and its return once),
    not a traceback every few seconds; any other failure goes to the error handler."""

    async def run(context: BotContext) -> None:
        try:
            await job(context)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            _JOBS_DATABASE.failed(exc, time.monotonic())
            return
        _JOBS_DATABASE.ok(time.monotonic())

    run.__name__ = job.__name__
    run.__doc__ = job.__doc__
    return run


async def due_scan_job(context: BotContext) -> None:
    """JobQueue trigger for the scans: the state is in the database, not in the job."""
    await run_scans(context.services)


async def run_scans(services: Services) -> None:
    """Every scan, at the clock's now: what the JobQueue runs every 30 s (and the sandbox's
    time travel at each step). Ended pauses first, so that a patient back from a pause is
    prompted in the same scan."""
    await services.lifecycle.resume_due()
    await services.due_scan.run()
    await services.window_scan.run()
    await services.side_check_scan.run()
    await services.digest_scan.run()
    await services.alert_scan.run()


async def announce_job(context: BotContext) -> None:
    """Every few seconds: post alert events that waited for room in their group's minute."""
    await context.services.announcer.flush_all()


async def group_probe_job(context: BotContext) -> None:
    """Every minute: ask again about the provider groups the bot could not post in."""
    access = context.application.bot_data.get(GROUP_ACCESS_KEY)
    if isinstance(access, GroupAccess):
        await access.probe()


GROUP_ACCESS_KEY = "group_access"


async def housekeeping_job(context: BotContext) -> None:
    """Hourly: scrub finished outbox rows, forget old processed-update ids, erase the data
    of patients discharged long enough ago (bot.services.housekeeping, docs/privacy.md), and
    prune audit records past their cohort's retention."""
    await context.services.housekeeping.run()
    await context.services.audit_trail.prune()


def _follow_groups(
    application: BotApplication, worker: DeliveryWorker, services: Services, runtime: Runtime
) -> GroupAccess:
    """Wire the provider groups' health (bot.services.provider.provider_channel): the delivery
    worker reports migrations and refusals; GroupAccess asks Telegram (start-up check,
    probe)."""
    channel = services.provider_channel
    worker.on_group_migrated = lambda uow, old, new, now: channel.migrated(
        uow, old, new, now, source="send"
    )
    worker.on_group_unreachable = channel.unreachable
    group_access = GroupAccess(application.bot, channel)
    runtime.private_chat_open = group_access.private_chat_open
    runtime.member_status = group_access.member_status
    application.bot_data[GROUP_ACCESS_KEY] = group_access
    return group_access


def build(
    settings: Settings,
    config: AppConfig,
    *,
    clock: Clock | None = None,
    limits: Limits | None = None,
    limiter_clock: Callable[[], float] | None = None,
    rate_limited: bool = True,
    delivery: DeliveryPolicy | None = None,
    scan_interval: float | None = 30.0,
    renderer: Renderer | None = None,
    webhook: bool = False,
) -> BotRuntime:
    """Build the whole bot from settings and configuration (no I/O until started).

    ``webhook``: take updates on the web server (settings.webhook() says what is missing).
    ``limiter_clock``: the rate limiter's monotonic clock (tests and benchmarks that move
    time themselves); default ``time.monotonic``.
    """
    hook = settings.webhook() if webhook else None
    # PTB 22 warns on every 429 unless durations are opted into timedelta (its documented
    # migration switch); bot.transport.ratelimit.retry_after_seconds reads either form.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    clock = clock or SystemClock()
    renderer = renderer or Renderer()
    renderer.check()
    engine = create_engine(settings.database_url, keyring=load_keyring(settings))
    sessions = create_session_factory(engine)
    directory = Directory()
    directory.watch(sessions)
    uow = UnitOfWorkFactory(sessions)
    runtime = Runtime(uow=uow, clock=clock, config=config, renderer=renderer)
    processor = ChatOrderedUpdateProcessor()
    limits = limits or Limits(
        overall=(settings.max_messages_per_second, 1.0),
        paid=(settings.paid_messages_per_second, 1.0) if settings.paid_broadcast else None,
    )
    delivery = delivery or DeliveryPolicy(window=settings.window)
    if settings.paid_broadcast:
        delivery = replace(delivery, paid_broadcast=True)
    limiter = (
        SlidingWindowRateLimiter(limits, limiter_clock or time.monotonic) if rate_limited else None
    )
    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(settings.telegram_base_url)
        .defaults(Defaults(parse_mode="HTML"))
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(processor)
        # A slow Telegram's answer (seconds, under load) is waited for: one taken for a
        # timeout is sent again, and the patient gets it twice (docs/operations.md).
        .request(AiohttpRequest(read_timeout=SEND_READ_TIMEOUT))
        # getUpdates long-polls: its read budget must outlast the poll timeout.
        .get_updates_request(AiohttpRequest(connection_limit=1, read_timeout=70.0))
        # bot.transport.polling.Poller instead of PTB's Updater, which confirms updates before they
        # are handled (and so loses them when the database is down).
        .updater(None)
    )
    if limiter is not None:
        builder = builder.rate_limiter(limiter)
    application: BotApplication = builder.build()
    worker = DeliveryWorker(application.bot, uow, clock, delivery, limiter, slots_for(engine))
    runtime.wake_delivery = worker.wake
    services = Services.build(runtime)
    worker.on_blocked = services.reachability.blocked
    group_access = _follow_groups(application, worker, services, runtime)
    application.bot_data[SERVICES_KEY] = services
    handlers.register(application)
    metrics = Metrics(
        lambda: worker.stats,
        OpsReader(uow, clock),
        max_outbox_lag=settings.health_max_outbox_lag,
        dropped=lambda: services.strangers.dropped,
    )
    processor.observe = metrics.observe_update
    offline = OfflineResponder(
        application.bot,
        renderer,
        config,
        services.messages.matcher,
        directory=directory,
        cards_shown=runtime.cards_shown,
    )
    processor.unstored = offline.unstored
    processor.slow = offline.slow
    listen = settings.listen_address(webhook=webhook)
    endpoint = WebhookEndpoint(hook.path, hook.secret) if hook is not None else None
    web = (
        WebServer(application, metrics, *listen, endpoint, processor=processor)
        if listen is not None
        else None
    )
    poller = (
        Poller(application, processor, allowed_updates=ALLOWED_UPDATES) if hook is None else None
    )
    bot_runtime = BotRuntime(
        application,
        services,
        worker,
        processor,
        engine,
        limiter,
        metrics,
        web,
        hook,
        group_access=group_access,
        poller=poller,
        offline=offline,
        directory=directory,
    )
    application.post_init = bot_runtime.on_startup
    application.post_stop = bot_runtime.on_stop
    application.post_shutdown = bot_runtime.on_shutdown
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")
    if scan_interval is not None:  # tests trigger the scans themselves, on their own clock
        job_queue.run_repeating(
            _quiet_when_unavailable(housekeeping_job),
            interval=3600.0,
            first=60.0,
            name="housekeeping",
            job_kwargs=JOB_KWARGS,
        )
        job_queue.run_repeating(
            _quiet_when_unavailable(due_scan_job),
            interval=scan_interval,
            first=1.0,
            name="due-scan",
            job_kwargs=JOB_KWARGS,
        )
        job_queue.run_repeating(
            _quiet_when_unavailable(announce_job),
            interval=3.0,
            first=3.0,
            name="announce",
            job_kwargs=JOB_KWARGS,
        )
        job_queue.run_repeating(
            group_probe_job, interval=60.0, first=60.0, name="group-probe", job_kwargs=JOB_KWARGS
        )
    return bot_runtime
