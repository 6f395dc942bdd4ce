"""Server-side confirmations of destructive patient actions (/delete, /stop).

The question's buttons carry a token the bot issued with it (``y|<action>|<step>|<token>``).
Only its hash is stored, with the patient, the action, the message that asked and the steps
confirmed so far. A press counts only if the token is known, unused and under 10 minutes
old, the patient and the message are the ones it was issued for, and the press is the next
step: a forged ``y|delete|2``, a replayed or skipped step, another patient's or an expired
button change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.callback_data import ConfirmButton, encode
from bot.domain.invites import code_hash, new_code
from bot.services.outbound import Outbound
from bot.services.outbox import Keyboard
from storage.models import Confirmation, Patient
from storage.uow import UnitOfWork

CONFIRMATION_TTL = timedelta(minutes=10)


def keyboard(action: str, token: str, buttons: list[tuple[str, int]]) -> Keyboard:
    """Return one row per (button text, step), each carrying the token."""
    return [
        [{"text": text, "callback_data": encode(ConfirmButton(action, step, token))}]
        for text, step in buttons
    ]


async def ask(
    out: Outbound,
    patient: Patient,
    action: str,
    template: str,
    buttons: list[tuple[str, int]],
    **values: Any,
) -> None:
    """Queue the question (``template``) whose buttons ((text, step)) confirm ``action``, and
    store the token they carry."""
    token = new_code()
    token_hash = code_hash(token)
    dedup_key = f"confirm:{token_hash[:40]}"
    await out.to_patient(
        patient,
        template,
        keyboard=keyboard(action, token, buttons),
        dedup_key=dedup_key,
        **values,
    )
    await out.uow.confirmations.issue(
        patient_id=patient.id,
        action=action,
        token_hash=token_hash,
        dedup_key=dedup_key,
        now=out.now,
        expires_at=out.now + CONFIRMATION_TTL,
    )


async def take(
    uow: UnitOfWork, now: datetime, patient: Patient, message_id: int, button: ConfirmButton
) -> Confirmation | None:
    """Return the confirmation a press is a valid next step of (its step moved on), or None
    to refuse it. A cancel (step 0) with a valid token ends the token."""
    if not button.token:
        return None
    found = await uow.confirmations.find(code_hash(button.token))
    if found is None:
        return None
    confirmation, asked_in = found
    if (
        confirmation.patient_id != patient.id
        or confirmation.action != button.action
        or confirmation.used_at is not None
        or confirmation.expires_at <= now
        or asked_in != message_id
        or button.step not in {0, confirmation.step + 1}
    ):
        return None
    confirmation.step = button.step
    return confirmation


def finish(confirmation: Confirmation, now: datetime) -> None:
    """Use the token up: no later press of any of its buttons counts."""
    confirmation.used_at = now
