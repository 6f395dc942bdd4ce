"""Following a cohort's provider group: where it is, and whether the bot can post there.

**Migration.** When Telegram turns a group into a supergroup (an admin changes a setting, or
the group grows), the group gets a new chat id: the old one answers every call with
``ChatMigrated`` and both chats get a service message (``migrate_to_chat_id`` in the old,
``migrate_from_chat_id`` in the new). Whichever is seen first (the error, the service
message, or the start-up check), the cohort's ``provider_chat_id`` moves to the new id
(``configured_chat_id`` keeps the configuration's starting point), the move is audited, and
what was waiting for the old id, or had been given up on because of the move, is sent to the
new one. Everything that asks "is this the provider group" reads ``provider_chat_id``.

**Lost group.** When the bot cannot post (403: removed, kicked; 400: no right to send;
``my_chat_member`` saying it left or was restricted), nothing is cancelled: the group's
messages are held in the outbox, ``/healthz`` answers 503 and the reachability gauge drops to
0, and every IMMEDIATE and URGENT alert message for the group is also sent to the private
chats of the providers who registered with ``/oncall``. When the bot can post again
(``my_chat_member`` re-adding it, the periodic probe, the start-up check, or a held message
going through), what was held is posted in the group too: the group stays the team's
record, and its buttons are where alerts are acknowledged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.services.envelope import in_update
from bot.services.outbox import Priority
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

HOLD = timedelta(minutes=10)
"""How long a lost group's messages wait before one is tried again (the probe and
``my_chat_member`` usually bring them back sooner)."""


class ProviderChannel:
    """Moves a cohort's group to its new id, and holds or relays its messages while lost."""

    def __init__(self, runtime: Runtime, *, hold: timedelta = HOLD) -> None:
        self._rt = runtime
        self.hold = hold

    # --- migration ------------------------------------------------------------------------

    async def migrated(
        self, uow: UnitOfWork, old: int, new: int, now: datetime, *, source: str
    ) -> Cohort | None:
        """Follow a group to its new chat id, in the caller's transaction; return the cohort
        (None when neither id is a cohort's group)."""
        cohort = await uow.channel.cohort_by_chat(old) or await uow.channel.cohort_by_chat(new)
        if cohort is None:
            logger.warning("chat %s moved to %s, which is no cohort's group", old, new)
            return None
        if cohort.provider_chat_id != new:
            previous = cohort.provider_chat_id
            cohort.provider_chat_id = new
            cohort.updated_at = now
            uow.audit.record(
                at=now,
                actor="system",
                action="provider_group_migrated",
                cohort_id=cohort.id,
                details={"from_chat_id": previous, "to_chat_id": new, "source": source},
            )
            logger.warning(
                "cohort %s: provider group %s became supergroup %s; followed (%s)",
                cohort.name,
                previous,
                new,
                source,
            )
        moved = await uow.channel.move_chat(old, new, now)
        if moved:
            logger.info("cohort %s: %d messages re-addressed to %s", cohort.name, moved, new)
        return cohort

    async def follow(self, update_id: int | None, old: int, new: int, *, source: str) -> None:
        """A migration seen outside delivery (service message, start-up): own transaction."""

        async def follow(uow: UnitOfWork, now: datetime) -> None:
            await self.migrated(uow, old, new, now, source=source)

        await in_update(self._rt, update_id, follow)

    # --- reachability ---------------------------------------------------------------------

    async def unreachable(
        self, uow: UnitOfWork, chat_id: int, now: datetime, reason: str
    ) -> Cohort | None:
        """The bot cannot post in ``chat_id``, in the caller's transaction: hold the group's
        messages and relay its IMMEDIATE and URGENT alerts to the on-call providers. Returns
        the cohort (None: not a cohort's current group, whose messages are cancelled)."""
        cohort = await uow.channel.cohort_by_chat(chat_id)
        if cohort is None or cohort.provider_chat_id != chat_id:
            await uow.outbox.cancel_pending_for_chat(chat_id, "bot cannot post in the chat")
            logger.error("the bot cannot post to group %s (%s)", chat_id, reason)
            return None
        if cohort.group_unreachable_since is None:
            cohort.group_unreachable_since = now
            cohort.group_unreachable_reason = reason[:64]
            uow.audit.record(
                at=now,
                actor="system",
                action="provider_group_unreachable",
                cohort_id=cohort.id,
                details={"chat_id": chat_id, "reason": reason[:64]},
            )
            on_call = await uow.channel.on_call(cohort.id)
            logger.error(
                "provider group unreachable: %s (%s); its messages are held, urgent alerts go "
                "to %d on-call provider(s)",
                cohort.name,
                reason,
                len(on_call),
            )
        await uow.channel.park(chat_id, now + self.hold)
        await self.relay(uow, cohort, now)
        return cohort

    async def relay(self, uow: UnitOfWork, cohort: Cohort, now: datetime) -> int:
        """Queue the group's waiting IMMEDIATE and URGENT alert messages to each on-call
        provider's private chat (once each: dedup keys); return how many were queued."""
        posts = await uow.channel.pending_alert_posts(
            cohort.provider_chat_id, int(Priority.INTERACTIVE)
        )
        on_call = await uow.channel.on_call(cohort.id) if posts else []
        if not posts or not on_call:
            return 0
        since = cohort.group_unreachable_since or now
        notice = self._rt.renderer.render("oncall_relay", cohort.locale, cohort=cohort.name)
        queued = 0
        out = self._rt.outbound(uow, now)
        for user_id in on_call:
            await out.text_to_chat(
                user_id,
                notice,
                priority=Priority.CRISIS,
                dedup_key=f"oncall_notice:{cohort.id}:{since.isoformat()}:{user_id}",
            )
            for outbox_id, payload, priority in posts:
                # The alert as the group would see it, without its buttons: they act on
                # the group's message, which is where the team acknowledges.
                queued += await out.text_to_chat(
                    user_id,
                    str(payload.get("text", "")),
                    priority=Priority(priority),
                    dedup_key=f"oncall:{outbox_id}:{user_id}",
                )
        return queued

    async def lost(self, chat_id: int, reason: str) -> None:
        """The bot learnt outside delivery (``my_chat_member``, the probe) that it cannot post
        in a group: own transaction."""
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            cohort = await uow.channel.cohort_by_chat(chat_id)
            if cohort is None or cohort.provider_chat_id != chat_id:
                return  # some other group (or a group's old id): nothing of ours there
            await self.unreachable(uow, chat_id, now, reason)
            await uow.commit()
        self._rt.wake_delivery()

    async def reachable(self, chat_id: int, *, source: str) -> bool:
        """The bot can post in ``chat_id`` again: post what was held; True if it was lost."""
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            cohort = await uow.channel.cohort_by_chat(chat_id)
            if (
                cohort is None
                or cohort.provider_chat_id != chat_id
                or cohort.group_unreachable_since is None
            ):
                return False
            lost_for = (now - cohort.group_unreachable_since).total_seconds()
            cohort.group_unreachable_since = None
            cohort.group_unreachable_reason = None
            held = await uow.channel.unpark(chat_id, now)
            uow.audit.record(
                at=now,
                actor="system",
                action="provider_group_reachable_again",
                cohort_id=cohort.id,
                details={"chat_id": chat_id, "source": source, "held": held},
            )
            await self._rt.outbound(uow, now).to_group(cohort, "provider_group_back", count=held)
            await uow.commit()
            name = cohort.name
        logger.warning(
            "provider group reachable again: %s after %.0f s (%s); %d held messages posted",
            name,
            lost_for,
            source,
            held,
        )
        self._rt.wake_delivery()
        return True

    @property
    def configured(self) -> frozenset[str]:
        """Names of the cohorts in the configuration file."""
        return frozenset(c.name for c in self._rt.config.cohorts)

    async def groups(self) -> list[tuple[str, int, bool]]:
        """(cohort name, current chat id, lost) of every cohort: what the probe looks at."""
        async with self._rt.uow.reading() as uow:
            cohorts = await uow.cohorts.all()
            return [
                (c.name, c.provider_chat_id, c.group_unreachable_since is not None)
                for c in cohorts
            ]
