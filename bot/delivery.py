"""The delivery worker: sends what the outbox holds, within Telegram's limits, and never
loses a message.

Each round leases a batch (most urgent first, one chat's messages in order), sends it with
bounded concurrency, and writes every outcome in one transaction. A crash between a send and
that write can resend the messages of one round (at most ``batch_size``, and at most one per
chat and priority); it can never lose one, because nothing is marked sent before it was.

Two lanes run side by side: the main one takes every priority; the urgent one only crisis
cards, alerts and replies, so that those never wait for a round of routine prompts to end
(and the rate limiter lets them go first). On PostgreSQL a round keeps its claim's row locks
until its outcomes are written, so a worker that dies gives its messages back at once;
several workers each send to their own share of the chats (``bot.workers``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBUserWarning

from bot.domain.clock import Clock
from bot.domain.group_access import refusal_means_no_access
from bot.domain.message_text import content_rejection
from bot.logs import StateLog
from bot.ratelimit import SlidingWindowRateLimiter, retry_after_seconds, urgent_send
from bot.services.outbox import OnSent, Priority
from bot.workers import Partition, WorkerSlots
from storage.channel import MIGRATED_ERROR
from storage.db import is_unavailable
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard the worker tries."""

    batch_size: int = 64
    concurrency: int = 32
    """At most this many sends in flight, below the transport's connection limit
    (``bot/transport.py``), so a burst never waits for a free connection."""
    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 10
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    poll_interval: float = 1.0
    urgent_poll_interval: float = 0.25
    """The urgent lane looks this often for what another worker queued for its chats."""
    defer_after: float = 2.0
    """A message whose chat's window (a group's 20 a minute) would hold it longer than this
    goes back to the queue until then, instead of holding up its round."""
    refresh_interval: float = 3.0
    """How often the worker looks again at how many workers share the database."""


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    on_sent: str | None
    ref_id: int | None


@dataclass(slots=True)
class _Outcome:
    row: _Claimed
    kind: str  # sent | retry | deferred | dead | rejected | forbidden | migrated | released
    message_id: int | None = None
    delay: float = 0.0
    error: str | None = None
    counts_attempt: bool = True
    new_chat_id: int | None = None
    """For ``migrated``: the supergroup the chat became."""
    reason: str | None = None
    """For ``rejected``: why Telegram refused the content (``content_rejection``)."""


@dataclass(slots=True)
class DeliveryStats:
    """Counters for logs, benchmarks and /metrics (``bot/metrics.py``)."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    forbidden: int = 0
    rounds: int = 0
    by_error: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)
    """Messages Telegram refused for their content, by (reason, ``group`` or ``private``):
    dead-lettered at once (also counted in ``dead``)."""


RAW_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
"""Text messages and edits: the outbox holds their JSON already, and only the message id of
the answer is wanted."""


RAW_WARNING = r"Please use 'Bot\.(sendMessage|editMessageText|editMessageReplyMarkup)'"
"""PTB's ``do_api_request`` warns that a method it has a typed form of should use that form;
for :data:`RAW_METHODS` skipping the typed form is the point, so that warning (and only it)
is silenced. pyproject.toml's pytest ``filterwarnings`` lists the same exception."""
warnings.filterwarnings("ignore", message=RAW_WARNING, category=PTBUserWarning)


async def call_bot(bot: Bot, method: str, payload: dict[str, Any]) -> int | None:
    """Make one outbox row's Bot API call; return the message id.

    Text messages and edits go through PTB's public raw request (``Bot.do_api_request``:
    defaults, rate limiter and errors as any call) without its typed objects: building an
    ``InlineKeyboardMarkup`` from the stored JSON and parsing the returned ``Message`` with its
    keyboard nearly doubles the CPU a message costs (figures in docs/performance.md). The
    payload is stored in the Bot API's own form. Files still use the typed methods.
    """
    params = dict(payload)
    if method in RAW_METHODS:
        result = await bot.do_api_request(method, api_kwargs=params)
        if isinstance(result, dict):
            message_id = result.get("message_id")
            return message_id if isinstance(message_id, int) else None
        return None
    markup_raw = params.pop("reply_markup", None)
    markup = InlineKeyboardMarkup.de_json(markup_raw, bot) if markup_raw else None
    if method == "sendMessage":
        message = await bot.send_message(reply_markup=markup, **params)
        return message.message_id
    if method == "editMessageText":
        result = await bot.edit_message_text(reply_markup=markup, **params)
        return None if isinstance(result, bool) else result.message_id
    if method == "editMessageReplyMarkup":
        await bot.edit_message_reply_markup(reply_markup=markup, **params)
        return None
    if method == "sendDocument":
        content = base64.b64decode(params.pop("document_base64"))
        document = InputFile(content, filename=params.pop("filename"))
        message = await bot.send_document(document=document, reply_markup=markup, **params)
        return message.message_id
    if method == "sendPhoto":
        content = base64.b64decode(params.pop("photo_base64"))
        photo = InputFile(content, filename=params.pop("filename"))
        message = await bot.send_photo(photo=photo, reply_markup=markup, **params)
        return message.message_id
    raise UnknownMethodError(method)


class UnknownMethodError(ValueError):
    """An outbox row names a method this version cannot send (dead-lettered, not retried)."""


class DeliveryWorker:
    """Sends queued messages until stopped."""

    def __init__(  # noqa: PLR0917 - positional since the first version; slots is new
        self,
        bot: Bot,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        limiter: SlidingWindowRateLimiter | None = None,
        slots: WorkerSlots | None = None,
    ) -> None:
        self._bot = bot
        self._uow = uow
        self._clock = clock
        self.policy = policy or DeliveryPolicy()
        self._limiter = limiter
        self._slots = slots
        self.partition = Partition()
        """The chats this worker sends to (all of them unless several share the database)."""
        self._wake = asyncio.Event()
        self._wake_urgent = asyncio.Event()
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._epoch = 0
        self._main_idle_epoch = -1
        self._busy_lanes = 0
        self._task: asyncio.Task[None] | None = None
        self.stats = DeliveryStats()
        self.database = StateLog(logger, "database (delivery worker)")
        """The outbox's database: its loss and return are logged once each."""
        self.on_blocked: Callable[[UnitOfWork, int, datetime], Awaitable[None]] | None = None
        """Called in the outcome transaction when a private chat answers 403."""
        self.on_group_migrated: (
            Callable[[UnitOfWork, int, int, datetime], Awaitable[object]] | None
        ) = None
        """Called in the outcome transaction when a group answers ChatMigrated (old, new id):
        the row stays pending and is re-addressed there (bot.services.provider_channel)."""
        self.on_group_unreachable: (
            Callable[[UnitOfWork, int, datetime, str], Awaitable[object]] | None
        ) = None
        """Called in the outcome transaction when the bot cannot post in a group (403, or a
        400 saying it has no right to): the rows stay pending, held by the callback."""
        self._random = random.Random()  # noqa: S311 - jitter, not security

    def wake(self) -> None:
        """Say that new messages are waiting (called after a commit that queued some)."""
        self._epoch += 1
        self._idle.clear()
        self._wake.set()
        self._wake_urgent.set()

    async def wait_idle(self) -> None:
        """Return once both lanes found nothing due."""
        await self._idle.wait()

    def start(self) -> None:
        """Run the worker as a background task."""
        self._stopping = False
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="moodcheck-delivery")

    async def stop(self) -> None:
        """Finish the rounds in progress, then stop (and give the worker slot up)."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        self._wake_urgent.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            await self._join()
        except Exception:
            # Sending alone (full rate, every chat) beats not sending; the slot watcher
            # keeps trying to join.
            logger.exception("could not take a worker slot")
        tasks = [self._lane(urgent=False), self._lane(urgent=True)]
        if self._slots is not None:
            tasks.append(self._watch_slots())
        try:
            await asyncio.gather(*tasks)
        finally:
            if self._slots is not None:
                await self._slots.release()
            self._idle.set()

    async def _join(self) -> None:
        """Take a worker slot; as the only worker, take back what a dead run had leased."""
        if self._slots is None:
            return
        await self._slots.acquire()
        self._use(self._slots.partition)
        async with self._uow() as uow:
            released = await uow.outbox.release_leases() if self._slots.exclusive else 0
            dead, to_groups = await uow.outbox.count_dead()
            await uow.commit()
        if released:
            logger.warning("took back %d messages a previous run had claimed", released)
        if dead:
            logger.warning(
                "the outbox holds %d dead messages (%d to provider groups): see status 'dead'",
                dead,
                to_groups,
            )
        if self.partition.count > 1:
            # The workers already running keep their old share of the overall rate until
            # they next look: wait that long (and a little), so that together we keep to it.
            await self._pause(self.policy.refresh_interval * 1.5)

    async def _watch_slots(self) -> None:
        """Look again every few seconds at how many workers there are."""
        assert self._slots is not None  # noqa: S101 - only started with slots
        while not self._stopping:
            await self._pause(self.policy.refresh_interval)
            if self._stop.is_set():
                return
            try:
                partition = await self._slots.refresh()
            except Exception:
                logger.exception("worker slot refresh failed")
                continue
            if partition != self.partition:
                self._use(partition)
                self.wake()

    def _use(self, partition: Partition) -> None:
        if partition != self.partition:
            logger.info("delivery worker %d of %d", partition.rank + 1, partition.count)
        self.partition = partition
        if self._limiter is not None:
            self._limiter.share(partition.count)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _lane(self, *, urgent: bool) -> None:
        wake = self._wake_urgent if urgent else self._wake
        interval = self.policy.urgent_poll_interval if urgent else self.policy.poll_interval
        while not self._stopping:
            wake.clear()
            epoch = self._epoch
            self._busy_lanes += 1
            try:
                sent = await self.deliver_round(urgent=urgent)
            except Exception as exc:
                # The database may be briefly unreachable: say so once, back off, go on.
                if not is_unavailable(exc):
                    logger.exception("delivery round failed")
                self.database.failed(exc, time.monotonic())
                sent = 0
            else:
                self.database.ok(time.monotonic())
            finally:
                self._busy_lanes -= 1
            if sent:
                self._epoch += 1
                if urgent:
                    self._wake.set()  # the main lane says when all is done
                continue
            if self._stop.is_set():
                break
            self._mark_idle(urgent=urgent, epoch=epoch)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)

    def _mark_idle(self, *, urgent: bool, epoch: int) -> None:
        """Idle: the main lane (which sees every priority) found nothing, nothing was queued
        or sent since it looked, and neither lane is in the middle of a round."""
        if epoch != self._epoch:
            return
        if not urgent:
            self._main_idle_epoch = epoch
        if self._main_idle_epoch == self._epoch and not self._busy_lanes:
            self._idle.set()

    async def deliver_round(self, *, urgent: bool = False) -> int:
        """Lease, send and settle one batch; return how many messages it held.

        ``urgent``: only crisis cards, alerts and replies (the fast lane).
        """
        now = self._clock.now()
        async with self._uow() as uow:
            rows = await uow.outbox.claim(
                now,
                self.policy.batch_size,
                self.policy.lease,
                shard=self.partition.shard,
                max_priority=int(Priority.INTERACTIVE) if urgent else None,
            )
            claimed = [
                _Claimed(
                    r.id,
                    r.chat_id,
                    r.method,
                    dict(r.payload),
                    r.priority,
                    r.attempts,
                    r.on_sent,
                    r.ref_id,
                )
                for r in rows
            ]
            if not claimed:
                return 0
            self.stats.rounds += 1
            if uow.outbox.claims_hold_locks:
                # The row locks keep other workers off until the outcomes are written; if
                # this process dies first, the rows are free again at once.
                await self._settle(uow, await self._send_all(claimed))
                await uow.commit()
                return len(claimed)
            await uow.commit()
        outcomes = await self._send_all(claimed)
        async with self._uow() as uow:
            await self._settle(uow, outcomes)
            await uow.commit()
        return len(claimed)

    async def _send_all(self, claimed: Sequence[_Claimed]) -> list[_Outcome]:
        """Send a round in priority waves: crisis cards before the alerts they go with,
        and those before routine prompts; chats within a wave in parallel, each in order."""
        gate = asyncio.Semaphore(self.policy.concurrency)
        outcomes: list[_Outcome] = []
        stuck: set[int] = set()  # chats whose earlier message failed in this round

        async def one_chat(rows: list[_Claimed]) -> None:
            async with gate:
                for index, row in enumerate(rows):
                    outcome = await self._send(row)
                    outcomes.append(outcome)
                    if outcome.kind != "sent":
                        # Keep the chat's order: what follows waits for this one.
                        stuck.add(row.chat_id)
                        outcomes.extend(_Outcome(r, "released") for r in rows[index + 1 :])
                        return

        for priority in sorted({row.priority for row in claimed}):
            by_chat: dict[int, list[_Claimed]] = {}
            for row in sorted(claimed, key=lambda r: r.id):
                if row.priority != priority:
                    continue
                if row.chat_id in stuck:
                    outcomes.append(_Outcome(row, "released"))
                else:
                    by_chat.setdefault(row.chat_id, []).append(row)
            await asyncio.gather(*(one_chat(rows) for rows in by_chat.values()))
        return outcomes

    async def _send(self, row: _Claimed) -> _Outcome:
        # Crisis cards, replies and alerts; in a group, alerts only (``Priority``): they may
        # take the places of the group's minute the limiter keeps from routine messages.
        urgent = row.priority <= Priority.INTERACTIVE
        if self._limiter is not None:
            wait = self._limiter.chat_wait(row.chat_id, urgent=urgent)
            if wait > self.policy.defer_after:
                return _Outcome(row, "deferred", delay=wait, counts_attempt=False)
        token = urgent_send.set(urgent)
        try:
            return await self._call(row)
        finally:
            urgent_send.reset(token)

    async def _call(self, row: _Claimed) -> _Outcome:
        try:
            message_id = await call_bot(self._bot, row.method, row.payload)
        except RetryAfter as exc:
            return _Outcome(
                row, "retry", delay=retry_after_seconds(exc), error="429", counts_attempt=False
            )
        except Forbidden as exc:
            return self._refused(row, exc)
        except ChatMigrated as exc:
            if self.on_group_migrated is None:
                return _Outcome(row, "dead", error=MIGRATED_ERROR)
            return _Outcome(row, "migrated", error=MIGRATED_ERROR, new_chat_id=exc.new_chat_id)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return _Outcome(row, "sent")
            if row.chat_id < 0 and refusal_means_no_access(exc.message):
                return self._refused(row, exc)
            reason = content_rejection(exc.message)
            if reason is not None:
                # The same content would be refused forever: dead-letter it, visibly.
                return _Outcome(row, "rejected", error=_short(exc), reason=reason)
            return _Outcome(row, "dead", error=_short(exc))
        except NetworkError as exc:  # 5xx, dropped connections, timeouts
            return _Outcome(row, "retry", delay=self._backoff(row.attempts + 1), error=_short(exc))
        except (TelegramError, UnknownMethodError, KeyError, TypeError) as exc:
            # A payload this code cannot send would fail the same way forever: dead-letter
            # it rather than abort the round (and hold every other chat's messages back).
            return _Outcome(row, "dead", error=_short(exc))
        return _Outcome(row, "sent", message_id=message_id)

    def _refused(self, row: _Claimed, exc: TelegramError) -> _Outcome:
        """The bot may not post in the chat: a patient blocked it, or a provider group
        removed or restricted it (kept and held: ``on_group_unreachable``)."""
        lost = row.chat_id < 0 and self.on_group_unreachable is not None
        return _Outcome(row, "group_lost" if lost else "forbidden", error=_short(exc))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, so retries of a burst do not come back as one."""
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base**attempt)
        return max(0.5, self._random.uniform(0, ceiling))

    async def _settle(self, uow: UnitOfWork, outcomes: Sequence[_Outcome]) -> None:
        """Write a round's outcomes in the caller's transaction."""
        now = self._clock.now()
        changes: list[dict[str, Any]] = []
        checkin_messages: list[tuple[int, int]] = []
        alert_messages: list[tuple[int, int]] = []
        blocked_chats: set[int] = set()
        for outcome in outcomes:
            row = outcome.row
            change: dict[str, Any] = {"id": row.id, "lease_until": None}
            if outcome.kind == "sent":
                change.update(status="sent", sent_at=now, telegram_message_id=outcome.message_id)
                self.stats.sent += 1
                if row.on_sent == OnSent.CHECKIN_MESSAGE and row.ref_id and outcome.message_id:
                    checkin_messages.append((row.ref_id, outcome.message_id))
                if row.on_sent == OnSent.ALERT_MESSAGE and row.ref_id and outcome.message_id:
                    alert_messages.append((row.ref_id, outcome.message_id))
            elif outcome.kind == "retry":
                attempts = row.attempts + (1 if outcome.counts_attempt else 0)
                if attempts >= self.policy.max_attempts:
                    change.update(status="dead", attempts=attempts, last_error=outcome.error)
                    self.stats.dead += 1
                    logger.error(
                        "outbox message %d dead after %d attempts: %s",
                        row.id,
                        attempts,
                        outcome.error,
                    )
                else:
                    change.update(
                        attempts=attempts,
                        last_error=outcome.error,
                        next_attempt_at=now + timedelta(seconds=outcome.delay),
                    )
                    self.stats.retried += 1
            elif outcome.kind == "deferred":
                change.update(next_attempt_at=now + timedelta(seconds=outcome.delay))
                self.stats.deferred += 1
            elif outcome.kind == "forbidden":
                change.update(status="failed", last_error=outcome.error)
                blocked_chats.add(row.chat_id)
                self.stats.forbidden += 1
            elif outcome.kind in {"dead", "rejected"}:
                change.update(status="dead", attempts=row.attempts + 1, last_error=outcome.error)
                self._dead(outcome)
            if outcome.error:
                self.stats.by_error[outcome.error[:40]] = (
                    self.stats.by_error.get(outcome.error[:40], 0) + 1
                )
            changes.append(change)
        await uow.outbox.apply(changes)
        await uow.checkins.set_message_ids(checkin_messages)
        await uow.alerts.set_group_message_ids(alert_messages)
        for chat_id in blocked_chats:
            await self._blocked(uow, chat_id, now)
        # A provider group that moved or is lost: its rows stay pending (no branch above),
        # re-addressed or held by the hooks.
        await self._groups_changed(uow, outcomes, now)

    async def _groups_changed(
        self, uow: UnitOfWork, outcomes: Sequence[_Outcome], now: datetime
    ) -> None:
        """Tell bot.services.provider_channel, once per chat, of groups that moved or that
        the bot cannot post in (outcomes made only when the hooks are set)."""
        moved: dict[int, int] = {}
        lost: dict[int, str] = {}
        for outcome in outcomes:
            if outcome.kind == "migrated" and outcome.new_chat_id is not None:
                moved[outcome.row.chat_id] = outcome.new_chat_id
            elif outcome.kind == "group_lost":
                lost[outcome.row.chat_id] = outcome.error or "forbidden"
                self.stats.forbidden += 1
        for old, new in moved.items():
            if self.on_group_migrated is not None:
                await self.on_group_migrated(uow, old, new, now)
        for chat_id, error in lost.items():
            if self.on_group_unreachable is not None:
                await self.on_group_unreachable(uow, chat_id, now, error)

    def _dead(self, outcome: _Outcome) -> None:
        """Count and log a message given up on at once. One Telegram refused for its
        content: one line with the outbox id and the reason only (the row's ``last_error``
        keeps Telegram's words)."""
        row = outcome.row
        self.stats.dead += 1
        if outcome.kind != "rejected" or outcome.reason is None:
            logger.error("outbox message %d dead: %s", row.id, outcome.error)
            return
        reason = outcome.reason
        chat = "group" if row.chat_id < 0 else "private"
        key = (reason, chat)
        self.stats.rejected[key] = self.stats.rejected.get(key, 0) + 1
        logger.error(
            "outbox message %d to a %s chat refused by Telegram for its content (%s): "
            "dead-lettered, not retried",
            row.id,
            chat,
            reason,
            extra={"outbox_id": row.id, "reason": reason},
        )

    async def _blocked(self, uow: UnitOfWork, chat_id: int, now: datetime) -> None:
        """A 403: the chat blocked the bot (or removed it). Stop trying; say so."""
        await uow.outbox.cancel_pending_for_chat(chat_id, "chat blocked the bot")
        if chat_id > 0:
            if self.on_blocked is not None:
                await self.on_blocked(uow, chat_id, now)
        else:
            logger.error("the bot cannot post to group %s (removed from it?)", chat_id)


def _short(exc: Exception) -> str:
    """An error for the outbox row: the exception's kind and message, never a payload."""
    return f"{type(exc).__name__}: {exc}"[:200]
