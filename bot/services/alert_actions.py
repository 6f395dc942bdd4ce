"""A provider's Acknowledge or Resolve on a group alert message.

The buttons carry the head alert's id and act on every alert the message lists. A press is
accepted only in the cohort's own group and on that announcement's own messages (the original
or one of its re-raises); anything else is refused and changes nothing. Pressing again
changes nothing either. Resolve implies Acknowledge.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.alerts import Tier
from bot.domain.callback_data import AlertButton, encode
from bot.services.alerting import Alerting, Status, top_tier
from bot.services.outbox import Priority, queue_edit
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort
from storage.uow import UnitOfWork


class AlertActions:
    """Acknowledges and resolves alerts from the provider group."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._alerting = alerting

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
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            if not await uow.updates.claim(update_id, now):
                return None
            found = await self._load(uow, chat_id, message_id, button.alert_id)
            if found is None:
                return self._render("button_refused", "en")
            cohort, alerts = found
            resolve = button.action == "res"
            done = [a.resolved_at if resolve else a.acknowledged_at for a in alerts]
            if all(at is not None for at in done):
                await uow.commit()  # the claim: a replay stays a no-op
                return self._render("alert_already_toast", cohort.locale)
            for alert in alerts:
                alert.next_reraise_at = None
                if alert.acknowledged_at is None:
                    alert.acknowledged_at = now
                    alert.acknowledged_by = user_id
                    alert.status = "acknowledged"
                if resolve and alert.resolved_at is None:
                    alert.resolved_at = now
                    alert.resolved_by = user_id
                    alert.status = "resolved"
            uow.audit.record(
                at=now,
                actor=f"provider:{user_id}",
                action="alert_resolved" if resolve else "alert_acknowledged",
                cohort_id=cohort.id,
                patient_id=alerts[0].patient_id,
                details={"alert_ids": [a.id for a in alerts], "message_id": message_id},
            )
            when = self._alerting.local_time(cohort, now)
            status = (
                Status(resolved_by=first_name, resolved_at=when)
                if resolve
                else Status(acknowledged_by=first_name, acknowledged_at=when)
            )
            await self._edit(uow, now, cohort, alerts, status, resolved=resolve)
            await uow.commit()
        self._rt.wake_delivery()
        toast = "alert_resolved_toast" if resolve else "alert_acknowledged_toast"
        return self._render(toast, cohort.locale)

    async def _load(
        self, uow: UnitOfWork, chat_id: int, message_id: int, alert_id: int
    ) -> tuple[Cohort, list[Alert]] | None:
        """Return the cohort and the alerts a press acts on, or None to refuse it."""
        head = await uow.alerts.get(alert_id)
        if head is None or head.group_message_id is None or head.group_message_id <= 0:
            return None  # unknown id, or a message not yet sent
        cohort = await uow.cohorts.get(head.cohort_id)
        if cohort is None or cohort.provider_chat_id != chat_id:
            return None  # another group's alert
        alerts = list(await uow.alerts.of_message(cohort.id, head.group_message_id))
        if not alerts or alerts[0].id != head.id:
            return None  # not the id the buttons carry
        reraised = {mid for _, mid in await uow.alerts.reraise_messages(head.id)}
        if message_id != head.group_message_id and message_id not in reraised:
            return None  # data copied onto another message
        return cohort, alerts

    async def _edit(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohort: Cohort,
        alerts: list[Alert],
        status: Status,
        *,
        resolved: bool,
    ) -> None:
        """Show who acted in the original message and in its re-raises; after Acknowledge,
        only Resolve stays; after Resolve, no button."""
        head = alerts[0]
        assert head.group_message_id is not None  # noqa: S101 - checked by _load
        patient = await uow.patients.get(head.patient_id)
        label = patient.label if patient is not None else "?"
        keyboard = None
        if not resolved:
            keyboard = [
                [
                    {
                        "text": self._render("button_alert_res", cohort.locale),
                        "callback_data": encode(AlertButton(head.id, "res")),
                    }
                ]
            ]
        tier = top_tier(alerts)
        priority = Priority.INTERACTIVE
        await queue_edit(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            message_id=head.group_message_id,
            text=self._alerting.group_text(cohort, label, alerts, status),
            keyboard=keyboard,
            priority=priority,
        )
        config = self._alerting.cohort_config(cohort)
        minutes = config.reraise_minutes if config is not None else ()
        for step, message_id in await uow.alerts.reraise_messages(head.id):
            await queue_edit(
                uow,
                now=now,
                chat_id=cohort.provider_chat_id,
                message_id=message_id,
                text=self._render(
                    "alert_reraise",
                    cohort.locale,
                    tier=tier.value,
                    label=label,
                    time=self._alerting.local_time(cohort, head.created_at),
                    minutes=reraise_minutes(tier, step, minutes),
                    on_call=[],
                    **status.values(),
                ),
                keyboard=keyboard,
                priority=priority,
            )


def reraise_minutes(tier: Tier, step: int, minutes: tuple[int, ...]) -> int | None:
    """Return how many minutes after the alert re-raise ``step`` came (None: end of day)."""
    if tier is Tier.IMMEDIATE and 1 <= step <= len(minutes):
        return minutes[step - 1]
    return None
