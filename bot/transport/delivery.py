"""The delivery worker: sends what the outbox holds, within Telegram's limits, and never
loses a message.

A pipeline, not rounds: at most ``window`` messages are in flight at once (sent or being
sent, their outcome not yet written), and as each answer comes back its place is given to
the next message due. A slow answer holds one place and its own chat (one chat's messages
go in order), never the others. Outcomes are written as they come, together with the claim
of the messages that take their places, in one short transaction
(``bot.transport.delivery_outcomes`` writes them).

A crash can resend what was in flight (at most ``window`` messages, at most one per chat and
priority) and never lose one: nothing is marked sent before Telegram said it was. Claims are
leased (``lease_until``): another worker leaves a leased message alone until the lease ends,
and a worker alone on its database takes a dead predecessor's leases back when it starts.

``urgent_reserve`` of the places are kept for crisis cards, alerts and replies, so that a
window full of slow routine answers never holds one up (and the rate limiter lets them go
first): a patient's edit after a tap goes ahead of other patients' prompts queued before it
(docs/performance.md, "Taps during a fan-out"). Several workers each send to their own share
of the chats (``bot.transport.workers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Bot

from bot.domain.clock import Clock
from bot.ops.logs import StateLog
from bot.services.outbox import Priority
from bot.transport.delivery_calls import PAID_METHODS, Backoff, Claimed, Outcome, send_row
from bot.transport.delivery_outcomes import DeliveryStats, OutcomeWriter
from bot.transport.ratelimit import SlidingWindowRateLimiter, urgent_send
from bot.transport.workers import Partition, WorkerSlots
from storage.db import is_unavailable
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard the worker tries."""

    window: int = 16
    """Messages in flight at once, from their claim until their outcome is written: what a
    crash can resend at most (``MOODCHECK_DELIVERY_WINDOW``). It also bounds throughput: at
    most ``window`` / (mean answer time) messages a second, so a Telegram whose answers are
    slow needs a wider window to keep its pace (docs/operations.md, "Delivery")."""
    urgent_reserve: int = 4
    """Places of the window that only crisis cards, alerts and replies may take."""
    settle_batch: int | None = None
    """Answers written together (a transaction each time; default half the window) ..."""
    settle_wait: float = 0.005
    """... unless the first of them has waited this long (seconds), or nothing else is in
    flight, or one is urgent."""
    claim_ahead: int | None = None
    """Messages claimed ahead of the window (default 3 windows), so that a freed place is
    filled at once."""
    lease: timedelta = timedelta(seconds=120)
    """Longer than a send can take (the rate limiter's wait below ``defer_after``, then the
    request's timeouts: ``bot.transport.aiohttp_backend.SEND_READ_TIMEOUT``)."""
    max_attempts: int = 10
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    poll_interval: float = 1.0
    """How often the worker looks for messages nobody rang about (retries coming due)."""
    urgent_poll_interval: float = 0.25
    """How often it looks for urgent ones that another worker queued for its chats."""
    defer_after: float = 2.0
    """A message whose chat's window (a group's 20 a minute) would hold it longer than this
    goes back to the queue until then, instead of holding a place in the window."""
    refresh_interval: float = 3.0
    """How often the worker looks again at how many workers share the database."""
    paid_broadcast: bool = False
    """Send scheduled prompts with ``allow_paid_broadcast`` (Telegram charges Stars for
    them; docs/operations.md, "Paid broadcast"): they may then go beyond the free overall
    rate, up to the rate limiter's paid limit."""


def _urgent(row: Claimed) -> bool:
    """Crisis cards, replies and alerts; in a group, alerts only (``Priority``): they may
    take the places kept from routine messages, in the window and in the rate limiter."""
    return row.priority <= Priority.INTERACTIVE


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
        self._backoff = Backoff(self.policy.backoff_base, self.policy.backoff_cap)
        self._wake = asyncio.Event()
        """Rung when messages were queued, an answer came back, or the worker must stop."""
        self._rung = False
        """Messages were queued since the last claim."""
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._done: list[Outcome] = []
        """Answers back, outcomes not yet written: their places are still taken."""
        self._held = 0
        """Places taken: messages claimed whose outcome is not written yet."""
        self._held_routine = 0
        self._ahead: list[Claimed] = []
        """Claimed (leased) and not sent yet, most urgent first: a freed place takes the
        next one without a trip to the database. Not in flight: a crash resends none."""
        self._done_since = 0.0
        """When the oldest answer not yet written came back."""
        self._urgent_done = False
        """An urgent message's answer waits to be written (no waiting for more then)."""
        self._drained = False
        """The last claim of everything found less than it asked for."""
        self.stats = DeliveryStats()
        self._outcomes = OutcomeWriter(self.policy.max_attempts, self.stats, self)
        """Writes outcomes, calling the hooks below (the worker is their holder)."""
        self.database = StateLog(logger, "database (delivery worker)")
        """The outbox's database: its loss and return are logged once each."""
        self.on_blocked: Callable[[UnitOfWork, int, datetime], Awaitable[None]] | None = None
        """Called in the outcome transaction when a private chat answers 403."""
        self.on_group_migrated: (
            Callable[[UnitOfWork, int, int, datetime], Awaitable[object]] | None
        ) = None
        """Called in the outcome transaction when a group answers ChatMigrated (old, new id):
        the row stays pending and is re-addressed there
        (bot.services.provider.provider_channel)."""
        self.on_group_unreachable: (
            Callable[[UnitOfWork, int, datetime, str], Awaitable[object]] | None
        ) = None
        """Called in the outcome transaction when the bot cannot post in a group (403, or a
        400 saying it has no right to): the rows stay pending, held by the callback."""

    @property
    def in_flight(self) -> int:
        """Messages claimed whose outcome is not written yet (at most ``policy.window``)."""
        return self._held

    def wake(self) -> None:
        """Say that new messages are waiting (called after a commit that queued some)."""
        self._rung = True
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once nothing is in flight and the last look found nothing due."""
        await self._idle.wait()

    def start(self) -> None:
        """Run the worker as a background task."""
        self._stopping = False
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="moodcheck-delivery")

    async def stop(self) -> None:
        """Claim nothing more, write the outcomes of what is in flight, then stop (and give
        the worker slot up)."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
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
        tasks = [self._pump()]
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

    async def _pump(self) -> None:
        """Write outcomes as answers come back, claim ahead, and start the next message as
        soon as a place is free; until stopped and nothing is left in flight."""
        policy = self.policy
        next_poll = next_urgent_poll = time.monotonic()
        while not (self._stopping and not self._held and not self._ahead):
            self._wake.clear()
            now = time.monotonic()
            poll = not self._stopping and now >= next_poll
            urgent_poll = not self._stopping and now >= next_urgent_poll
            short = len(self._ahead) < policy.window and not self._drained
            if self._settle_due(now) or self._rung or poll or urgent_poll or short:
                rung, self._rung = self._rung, False
                try:
                    everything = await self._cycle(rung=rung or poll, urgent_poll=urgent_poll)
                except Exception as exc:
                    # The database may be briefly unreachable: say so once, keep the answers
                    # (their places stay taken), try again shortly.
                    if not is_unavailable(exc):
                        logger.exception("delivery cycle failed")
                    self.database.failed(exc, time.monotonic())
                    if self._stopping:
                        return  # what is in flight is taken back at the next start
                    self._rung = self._rung or rung
                    await asyncio.sleep(policy.urgent_poll_interval)
                    continue
                self.database.ok(time.monotonic())
                now = time.monotonic()
                if everything:
                    next_poll = now + policy.poll_interval
                next_urgent_poll = now + policy.urgent_poll_interval
            if not (self._held or self._ahead or self._rung or self._done):
                self._idle.set()
            wake_at = min(next_poll, next_urgent_poll)
            if self._done:
                wake_at = min(wake_at, self._done_since + policy.settle_wait)
            wait = max(0.0, wake_at - time.monotonic())
            if self._stopping:
                wait = 1.0  # only answers matter now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _settle_due(self, now: float) -> bool:
        """Whether to write the answers back now: several together cost little more than
        one (a transaction each), but each waiting answer keeps its place in the window."""
        done = len(self._done)
        return bool(done) and (
            done >= (self.policy.settle_batch or max(1, self.policy.window // 2))
            or done >= self._held  # nothing else is in flight
            or self._urgent_done
            or self._stopping
            or now >= self._done_since + self.policy.settle_wait
        )

    async def _cycle(self, *, rung: bool, urgent_poll: bool) -> bool:
        """In one transaction: write the outcomes that came back (which frees their places)
        and claim ahead what is due; then start what the free places allow. Return whether
        everything due was looked for (not only the urgent messages)."""
        outcomes, self._done = self._done, []
        self._urgent_done = False
        policy = self.policy
        now = self._clock.now()
        claimed: list[Claimed] = []
        released: list[Claimed] = []
        if self._stopping:
            # Give back what was claimed ahead and never sent: it is due again at once.
            released, self._ahead = self._ahead, []
        ahead = policy.claim_ahead or 3 * policy.window
        room = 0 if self._stopping else ahead - len(self._ahead)
        # Everything when something was queued, at the poll, when the messages claimed ahead
        # run short, or when an answer came back with nothing claimed ahead (a chat's next
        # message waits for its previous one); between those, only what is urgent.
        short = len(self._ahead) < policy.window and not self._drained
        everything = room > 0 and (rung or short or (bool(outcomes) and self._drained))
        urgent = not self._stopping and (rung or urgent_poll)
        if not (outcomes or released or everything or urgent):
            return False
        try:
            async with self._uow() as uow:
                if outcomes or released:
                    changes = outcomes + [Outcome(row, "released") for row in released]
                    await self._outcomes.write(uow, changes, self._clock.now())
                if everything:
                    claimed = await self._claim(uow, now, room, urgent=False)
                    self._drained = len(claimed) < room
                if urgent and not (everything and self._drained):
                    # However full the claimed-ahead list, urgent messages join it at once.
                    claimed += await self._claim(uow, now, policy.window, urgent=True)
                await uow.commit()
        except BaseException:
            self._done = outcomes + self._done  # written next time
            self._ahead = released + self._ahead
            raise
        for outcome in outcomes:
            self._release(outcome.row)
        if claimed:
            self.stats.rounds += 1
            self._ahead = sorted(self._ahead + claimed, key=lambda r: (r.priority, r.id))
        self._start_next()
        return everything

    async def _claim(
        self, uow: UnitOfWork, now: datetime, limit: int, *, urgent: bool
    ) -> list[Claimed]:
        rows = await uow.outbox.claim(
            now,
            limit,
            self.policy.lease,
            shard=self.partition.shard,
            max_priority=int(Priority.INTERACTIVE) if urgent else None,
        )
        return [
            Claimed(
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

    def _start_next(self) -> None:
        """Send claimed-ahead messages, most urgent first, while the window has places (and
        a routine one only while it leaves the urgent reserve free)."""
        policy = self.policy
        routine_places = max(1, policy.window - policy.urgent_reserve)
        waiting: list[Claimed] = []
        for row in self._ahead:
            if self._held >= policy.window or (
                not _urgent(row) and self._held_routine >= routine_places
            ):
                waiting.append(row)
            else:
                self._launch(row)
        self._ahead = waiting

    def _launch(self, row: Claimed) -> None:
        self._held += 1
        if not _urgent(row):
            self._held_routine += 1
        task = asyncio.create_task(self._send_one(row))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _release(self, row: Claimed) -> None:
        self._held -= 1
        if not _urgent(row):
            self._held_routine -= 1

    async def _send_one(self, row: Claimed) -> None:
        try:
            outcome = await self._send(row)
        except Exception as exc:
            # A bug, not Telegram's answer: try again later rather than lose the message.
            logger.exception("sending outbox message %d failed", row.id)
            delay = self._backoff(row.attempts + 1)
            outcome = Outcome(row, "retry", delay=delay, error=type(exc).__name__)
        if not self._done:
            self._done_since = time.monotonic()
        self._done.append(outcome)
        if _urgent(row):
            self._urgent_done = True
        self._wake.set()

    async def _send(self, row: Claimed) -> Outcome:
        urgent = _urgent(row)
        if self._limiter is not None:
            wait = self._limiter.chat_wait(row.chat_id, urgent=urgent)
            if wait > self.policy.defer_after:
                return Outcome(row, "deferred", delay=wait, counts_attempt=False)
        if (
            self.policy.paid_broadcast
            and row.priority >= Priority.ROUTINE
            and row.method in PAID_METHODS
            and row.chat_id > 0
        ):
            row = Claimed(
                row.id,
                row.chat_id,
                row.method,
                {**row.payload, "allow_paid_broadcast": True},
                row.priority,
                row.attempts,
                row.on_sent,
                row.ref_id,
            )
        token = urgent_send.set(urgent)
        try:
            return await send_row(
                self._bot,
                row,
                self._backoff,
                groups_followed=(
                    self.on_group_migrated is not None,
                    self.on_group_unreachable is not None,
                ),
            )
        finally:
            urgent_send.reset(token)
