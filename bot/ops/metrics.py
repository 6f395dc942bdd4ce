"""Prometheus metrics and the health check of one running bot.

Each ``BotRuntime`` has its own registry: tests and benchmarks build many bots in one process,
and a process-wide registry would refuse the second one's metrics. Counters come from this
process (the delivery worker's, the update processor's); gauges come from the database at
scrape time, so every worker behind a load balancer reports the same outbox and alert figures
(do not sum those across workers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.domain.clock import Clock
from bot.domain.message_text import CONTENT_REJECTIONS
from bot.services.outbox import Priority
from bot.transport.delivery_outcomes import DeliveryStats
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Rows that still need something: sent and cancelled rows only pile up.
_OUTBOX_STATUSES = ("pending", "dead", "failed")
_UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class DbFigures:
    """What a scrape read from the database."""

    up: bool = False
    outbox: dict[tuple[str, int], int] = field(default_factory=dict)
    oldest_due: dict[int, float] = field(default_factory=dict)
    """Seconds the oldest due pending message of each priority has been waiting."""
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    groups: dict[str, bool] = field(default_factory=dict)
    """Every cohort: can the bot post in its provider group."""


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of /healthz."""

    ok: bool
    database: str
    outbox_lag_seconds: float | None
    reason: str | None = None

    def body(self) -> dict[str, object]:
        """The JSON body: figures only, never patient data."""
        body: dict[str, object] = {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database,
            "outbox_lag_seconds": self.outbox_lag_seconds,
        }
        if self.reason is not None:
            body["reason"] = self.reason
        return body


class OpsReader:
    """Read-only queries for health and metrics (no write lock on SQLite)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def ping(self) -> None:
        """``SELECT 1``; raises when the database does not answer."""
        async with self._uow.reading() as uow:
            await uow.ops.ping()

    async def urgent_lag(self) -> float:
        """Seconds the oldest due crisis or interactive message has waited (0: none waits).

        Routine prompts are left out: a large fan-out legitimately takes many minutes at
        Telegram's 30 messages a second, while an urgent message waiting means delivery is
        stuck.
        """
        now = self._clock.now()
        async with self._uow.reading() as uow:
            due = await uow.ops.oldest_due_by_priority(now)
        urgent = [oldest for priority, oldest in due.items() if priority <= Priority.INTERACTIVE]
        return _seconds(now, min(urgent)) if urgent else 0.0

    async def figures(self) -> DbFigures:
        """Outbox depth by status and priority, oldest due age by priority, alerts by tier."""
        now = self._clock.now()
        figures = DbFigures(up=True)
        async with self._uow.reading() as uow:
            figures.outbox = await uow.ops.outbox_depth(_OUTBOX_STATUSES)
            due = await uow.ops.oldest_due_by_priority(now)
            figures.oldest_due = {p: _seconds(now, oldest) for p, oldest in due.items()}
            figures.alerts = await uow.ops.alerts_by_tier_and_status()
            figures.groups = await uow.channel.reachability()
        return figures

    async def unreachable_groups(self) -> list[str]:
        """Names of the cohorts whose provider group the bot cannot post in."""
        async with self._uow.reading() as uow:
            return [c.name for c in await uow.channel.unreachable()]


def _seconds(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())


class _Collector(Collector):
    """Turns the worker's counters and the last database read into metric families."""

    def __init__(
        self,
        stats: Callable[[], DeliveryStats],
        dropped: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self._stats = stats
        self._dropped = dropped
        self.db = DbFigures()

    def collect(self) -> Iterator[Metric]:
        """Yield every family (called by ``generate_latest``)."""
        stats = self._stats()
        for name, value, doc in (
            ("sent", stats.sent, "Messages Telegram accepted."),
            ("retried", stats.retried, "Sends rescheduled after a 429, 5xx or network error."),
            ("dead", stats.dead, "Messages given up on (attempts used up, or unsendable)."),
            ("forbidden", stats.forbidden, "Sends refused with 403 (the chat blocked the bot)."),
        ):
            yield CounterMetricFamily(f"moodcheck_messages_{name}", doc, value=value)
        yield CounterMetricFamily(
            "moodcheck_delivery_rounds", "Delivery rounds that held messages.", value=stats.rounds
        )
        rejected = CounterMetricFamily(
            "moodcheck_messages_rejected",
            "Messages Telegram refused for their content (too long, bad markup, empty): "
            "dead-lettered, never retried. Any increase needs an operator.",
            labels=["reason", "chat"],
        )
        for reason in CONTENT_REJECTIONS:
            for chat in ("group", "private"):
                rejected.add_metric([reason, chat], stats.rejected.get((reason, chat), 0))
        yield rejected
        if self._dropped is not None:
            dropped = CounterMetricFamily(
                "moodcheck_stranger_messages_dropped",
                "Messages from people not enrolled left unanswered over the limits, by kind "
                "(message, invite, crisis); nothing of them was stored.",
                labels=["kind"],
            )
            for kind, count in sorted(self._dropped().items()):
                dropped.add_metric([kind], count)
            yield dropped
        db = self.db
        yield GaugeMetricFamily(
            "moodcheck_database_up", "1 when the last scrape could read the database.", int(db.up)
        )
        depth = GaugeMetricFamily(
            "moodcheck_outbox_messages",
            "Outbox rows by status and priority (all workers).",
            labels=["status", "priority"],
        )
        for (status, priority), count in sorted(db.outbox.items()):
            depth.add_metric([status, str(priority)], count)
        yield depth
        oldest = GaugeMetricFamily(
            "moodcheck_outbox_oldest_due_seconds",
            "How long the oldest due pending message of each priority has waited.",
            labels=["priority"],
        )
        for priority in Priority:
            oldest.add_metric([str(int(priority))], db.oldest_due.get(priority, 0.0))
        yield oldest
        alerts = GaugeMetricFamily(
            "moodcheck_alerts",
            "Alerts raised, by tier and status (all workers).",
            labels=["tier", "status"],
        )
        for (tier, status), count in sorted(db.alerts.items()):
            alerts.add_metric([tier, status], count)
        yield alerts
        groups = GaugeMetricFamily(
            "moodcheck_provider_group_reachable",
            "1 when the bot can post in the cohort's provider group, 0 while it cannot.",
            labels=["cohort"],
        )
        for cohort, reachable in sorted(db.groups.items()):
            groups.add_metric([cohort], int(reachable))
        yield groups


class Metrics:
    """One bot's metrics: a registry, the update-time histogram and the scrape."""

    def __init__(
        self,
        stats: Callable[[], DeliveryStats],
        reader: OpsReader,
        *,
        max_outbox_lag: float = 300.0,
        db_timeout: float = 2.0,
        dropped: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reader = reader
        self.max_outbox_lag = max_outbox_lag
        self.db_timeout = db_timeout
        self._collector = _Collector(stats, dropped)
        self.registry.register(self._collector)
        self.update_seconds = Histogram(
            "moodcheck_update_handling_seconds",
            "Time from an update's start of handling to the end of its handlers.",
            buckets=_UPDATE_BUCKETS,
            registry=self.registry,
        )
        self.webhook_requests = Counter(
            "moodcheck_webhook_requests",
            "Webhook requests by outcome (accepted, unauthorized, forbidden, bad_request, ...).",
            ["outcome"],
            registry=self.registry,
        )

    def observe_update(self, seconds: float) -> None:
        """Record how long one update took to handle."""
        self.update_seconds.observe(seconds)

    async def scrape(self) -> bytes:
        """Read the database figures and render every metric in Prometheus text format."""
        try:
            figures = await asyncio.wait_for(self.reader.figures(), self.db_timeout)
        except Exception as exc:  # noqa: BLE001 - an unreachable database is a figure, too
            logger.warning("metrics: database not readable", extra={"reason": type(exc).__name__})
            figures = DbFigures(up=False)
        self._collector.db = figures
        return generate_latest(self.registry)

    async def health(self) -> Health:
        """Database reachable within the timeout, and urgent messages not stuck."""
        try:
            async with asyncio.timeout(self.db_timeout):
                await self.reader.ping()
                lag = await self.reader.urgent_lag()
                lost = await self.reader.unreachable_groups()
        except TimeoutError:
            return Health(False, "timeout", None, "database did not answer in time")
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            logger.warning("health: database unreachable", extra={"reason": type(exc).__name__})
            return Health(False, "unreachable", None, "database unreachable")
        lag = round(lag, 3)
        if lost:
            # Alerts go to on-call providers only: someone must bring the bot back.
            return Health(False, "ok", lag, f"provider group unreachable: {', '.join(lost)}")
        if self.max_outbox_lag and lag > self.max_outbox_lag:
            return Health(False, "ok", lag, f"outbox lag over {self.max_outbox_lag:g} s")
        return Health(True, "ok", lag)
