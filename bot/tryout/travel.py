"""Time travel: move the bot's clock forward and run its scans as the JobQueue would have.

A real bot scans every 30 s. Jumping a day at once and scanning only at the end would show
a day that never happened (a prompt opened and closed in the same instant), so the clock
moves in steps and every scan runs at each one, with the messages it queued sent before the
next: prompts, reminders, missed days, re-raised alerts and digests come in their order,
each dated at its step. Steps are short for short jumps (re-raises after 15 and 30 minutes
show) and an hour for long ones (a week stays a few seconds of work).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.app import run_scans
from bot.domain.digest_schedule import digest_slot
from bot.domain.schedule import parse_hhmm
from bot.tryout.world import ActionError, World

__all__ = ["Jump", "travel"]


class Jump(StrEnum):
    """The page's time-travel buttons."""

    NEXT_CHECKIN = "next-checkin"
    HOUR = "hour"
    DAY = "day"
    DIGEST = "digest"


SHORT_STEP = timedelta(minutes=5)
LONG_STEP = timedelta(hours=1)
# Just past the instant, so that "due at" is "due now" for the scan.
PAST = timedelta(seconds=5)


async def next_checkin(world: World) -> datetime | None:
    """The earliest scheduled prompt of the sandbox's patients (None: nobody is scheduled)."""
    due: list[datetime] = []
    async with world.bot.services.runtime.uow() as uow:
        for phone in world.phones:
            patient = await uow.patients.by_telegram_user(phone.chat_id)
            if patient is not None and patient.next_prompt_at is not None:
                due.append(patient.next_prompt_at)
    return min(due) if due else None


def next_digest(world: World, now: datetime) -> datetime:
    """When the next weekly digest of any cohort is due."""
    times = []
    for cohort in world.config.cohorts:
        at = parse_hhmm(cohort.digest_time)
        slot = digest_slot(now, cohort.zone, cohort.digest_weekday, at)
        if slot.scheduled_at <= now:
            slot = digest_slot(now + timedelta(days=7), cohort.zone, cohort.digest_weekday, at)
        times.append(slot.scheduled_at)
    return min(times)


async def target_of(world: World, jump: Jump) -> datetime:
    """Where a jump goes from the bot's now."""
    now = world.clock.now()
    if jump is Jump.HOUR:
        return now + timedelta(hours=1)
    if jump is Jump.DAY:
        return now + timedelta(days=1)
    if jump is Jump.DIGEST:
        return next_digest(world, now) + PAST
    due = await next_checkin(world)
    if due is None:
        raise ActionError("No patient has a check-in scheduled: add one and finish enrolling.")
    return max(now, due + PAST)


async def travel_to(world: World, target: datetime) -> None:
    """Move the clock to ``target`` in steps, running the scans and sending at each one."""
    clock = world.clock
    step = SHORT_STEP if target - clock.now() <= timedelta(hours=2) else LONG_STEP
    while True:
        now = clock.now()
        if now < target:
            clock.set(min(target, now + step))
        await run_scans(world.bot.services)
        await world.settle()
        if clock.now() >= target:
            return


async def travel(world: World, jump: Jump) -> datetime:
    """Make a jump; return the bot's new now."""
    await travel_to(world, await target_of(world, jump))
    return world.clock.now()
