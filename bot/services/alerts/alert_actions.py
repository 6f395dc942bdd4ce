"""A provider's Acknowledge or Resolve on a group alert message.

The buttons carry an event's head alert id and act on every alert of that event. A press is
accepted only in the cohort's own group and on a message that shows that event (its
announcement, alone or shared with other events, or one of its re-raises); anything else is
refused and changes nothing. Pressing again changes nothing either: a refused or repeated
press writes nothing (bot/services/envelope.py). Resolve implies Acknowledge. Every message
that shows the event is then edited, each re-rendered with the status of every event it lists.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain import lifecycle as lc
from bot.domain.alerts import Tier
from bot.domain.callback_data import AlertButton, FollowUpButton
from bot.services.alerts.alerting import Alerting
from bot.services.alerts.announcer import MAX_NAME
from bot.services.envelope import Refuse, in_update
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort
from storage.uow import UnitOfWork


class AlertActions:
    """Acknowledges and resolves alert events from the provider group."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._announcer = alerting.announcer

    def _render(self, name: str, locale: str, **values: object) -> str:
        return self._rt.renderer.render(name, locale, **values)

    async def press(
        self,
        update_id: int,
        button: AlertButton,
        *,
        user_id: int,
        first_name: str,
        chat_id: int,
        message_id: int,
    ) -> str | None:
        """Handle a press; return the short answer shown to the provider."""

        async def press(uow: UnitOfWork, now: datetime) -> str:
            found = await self._load(uow, chat_id, message_id, button.alert_id)
            if found is None:
                raise Refuse(self._render("button_refused", "en"))
            cohort, alerts, posts = found
            resolve = button.action == "res"
            done = [a.resolved_at if resolve else a.acknowledged_at for a in alerts]
            if all(at is not None for at in done):
                raise Refuse(self._render("alert_already_toast", cohort.locale))
            # A provider's first name is shown in the group, never logged or audited.
            name = first_name[:MAX_NAME]
            move = lc.resolve if resolve else lc.acknowledge
            for alert in alerts:
                alert.next_reraise_at = None
                state = lc.AlertState(alert.status, alert.acknowledged_at, alert.resolved_at)
                try:
                    after = move(state, now)
                except lc.Refused:
                    continue  # this alert of the event is there already
                if alert.acknowledged_at is None:
                    alert.acknowledged_by, alert.acknowledged_by_name = user_id, name
                if resolve:
                    alert.resolved_by, alert.resolved_by_name = user_id, name
                alert.status = after.status
                alert.acknowledged_at, alert.resolved_at = after.acknowledged_at, after.resolved_at
            uow.audit.record(
                at=now,
                actor=f"provider:{user_id}",
                action="alert_resolved" if resolve else "alert_acknowledged",
                cohort_id=cohort.id,
                patient_id=alerts[0].patient_id,
                details={"alert_ids": [a.id for a in alerts], "message_id": message_id},
            )
            await uow.flush()
            await self._edit(uow, now, cohort, posts)
            toast = "alert_resolved_toast" if resolve else "alert_acknowledged_toast"
            return self._render(toast, cohort.locale)

        return await in_update(self._rt, update_id, press)

    async def follow_up(
        self,
        update_id: int,
        button: FollowUpButton,
        *,
        user_id: int,
        chat_id: int,
        message_id: int,
    ) -> str | None:
        """Record a follow-up action on an acknowledged IMMEDIATE or URGENT event (who and
        when); the messages showing it are redrawn with the action ticked. A refused tap
        writes nothing (``bot.services.envelope``)."""

        async def record(uow: UnitOfWork, now: datetime) -> str:
            found = await self._load(uow, chat_id, message_id, button.alert_id)
            config = None if found is None else self._announcer.cohort_config(found[0])
            if (
                found is None
                or config is None
                or button.action not in config.follow_up_actions
                or found[1][0].acknowledged_at is None
                or all(Tier(a.tier) is Tier.ROUTINE for a in found[1])
            ):
                raise Refuse(self._render("button_refused", "en"))
            cohort, alerts, posts = found
            head = next(a for a in alerts if a.id == button.alert_id)
            if head.patient_id is None:  # the patient's data was erased: nothing to follow up
                raise Refuse(self._render("button_refused", "en"))
            if head.resolved_at is not None or not await uow.team.record_follow_up(
                head.id, head.patient_id, button.action, user_id, now
            ):
                raise Refuse(self._render("alert_already_toast", cohort.locale))
            uow.audit.record(
                at=now,
                actor=f"provider:{user_id}",
                action="alert_follow_up",
                cohort_id=cohort.id,
                patient_id=head.patient_id,
                details={"alert_id": head.id, "follow_up": button.action},
            )
            await uow.flush()
            await self._edit(uow, now, cohort, posts)
            names = self._rt.config.follow_ups[button.action]
            name = names.get(cohort.locale) or names["en"]
            return self._render("follow_up_recorded_toast", cohort.locale, action=name)

        return await in_update(self._rt, update_id, record)

    async def _load(
        self, uow: UnitOfWork, chat_id: int, message_id: int, head_id: int
    ) -> tuple[Cohort, list[Alert], list[tuple[int, int, int]]] | None:
        """Return the cohort, the event's alerts and the sent messages that show it
        ((step, outbox id, message id)), or None to refuse the press."""
        head = await uow.alerts.get(head_id)
        if head is None or head.head_id != head.id:
            return None  # unknown id, or not an id that buttons carry
        cohort = await uow.cohorts.get(head.cohort_id)
        if cohort is None or cohort.provider_chat_id != chat_id:
            return None  # another group's alert
        posts = [
            (step, outbox_id, sent)
            for step, outbox_id, sent in await uow.alerts.posts_of(head.id)
            if sent is not None
        ]
        if message_id not in {sent for _, _, sent in posts}:
            return None  # not sent yet, or data copied onto another message
        alerts = list(await uow.alerts.of_events([head.id]))
        return cohort, alerts, posts

    async def _edit(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, posts: list[tuple[int, int, int]]
    ) -> None:
        """Re-render every message that shows the event, each with all the events it lists:
        an acknowledged event keeps only Resolve, a resolved one no button."""
        config = self._announcer.cohort_config(cohort)
        minutes = config.reraise_minutes if config is not None else ()
        out = self._rt.outbound(uow, now)
        for step, outbox_id, message_id in posts:
            on_post = await uow.alerts.on_post(outbox_id)
            events = await self._announcer.events(uow, [head for head, _ in on_post])
            if not events:
                continue
            if step == 0:
                text = self._announcer.announcement_text(cohort, events)
            else:
                steps = dict(on_post)
                for event in events:
                    event.minutes = reraise_minutes(event.tier, steps[event.head.id], minutes)
                text = self._announcer.reraise_text(cohort, events, on_call=[])
            await out.edit_group(
                cohort, message_id, text, keyboard=self._announcer.keyboard(cohort, events)
            )


def reraise_minutes(tier: Tier, step: int, minutes: tuple[int, ...]) -> int | None:
    """Return how many minutes after the alert re-raise ``step`` came (None: end of day)."""
    if tier is Tier.IMMEDIATE and 1 <= step <= len(minutes):
        return minutes[step - 1]
    return None
