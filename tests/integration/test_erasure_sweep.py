"""The sweep of a cohort's chats for an erased patient's label (storage.erasure), on real
databases: messages that name several patients cannot carry one link."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storage.erasure import names
from storage.models import OutboxMessage, Patient
from storage.repositories.outbox import NewOutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.integration.test_storage import NOW, _patient, fx_uow  # noqa: F401 - fixture

GROUP = -1


def _row(text: str | None, status: str, *, document: bytes | None = None) -> NewOutboxMessage:
    payload: dict[str, Any] = {"chat_id": GROUP}
    method = "sendMessage"
    if document is not None:
        method = "sendDocument"
        payload["document_base64"] = base64.b64encode(document).decode()
    else:
        payload["text"] = text
    return {
        "chat_id": GROUP,
        "method": method,
        "payload": payload,
        "priority": 2,
        "status": status,
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    }


async def test_the_label_leaves_group_messages_and_others_stay(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow, 1001)  # label P-1001
    rows = [
        _row("<code>P-1001</code> sent a message", "sent"),
        _row("1. <code>P-1001</code> IMMEDIATE\n2. <code>P-10011</code> URGENT", "pending"),
        _row("<code>P-10011</code> only", "sent"),
        _row(None, "pending", document=b"label,value\nP-1001,7\n"),
        _row(None, "sent", document=b"label,value\nP-1001,7\n"),
        _row(None, "pending", document=b"label,value\nP-10011,7\n"),
    ]
    async with uow() as u:
        for row in rows:
            await u.outbox.enqueue(row)
        await u.commit()
    async with uow() as u:
        patient = await u.patients.get(patient_id)
        assert patient is not None
        await u.erasure.erase(patient, keep_person=False, chats=[GROUP], placeholder="(erased)")
        await u.commit()
    async with uow() as u:
        found = (await u.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert await u.session.scalar(select(Patient).where(Patient.id == patient_id)) is None
    finished, burst, other, pending_doc, sent_doc, other_doc = found
    assert finished.payload == {}  # sent: its content served its purpose
    # Still waiting: it goes out, with the other patient's event, the label replaced.
    assert burst.status == "pending"
    assert (
        burst.payload["text"]
        == "1. <code>(erased)</code> IMMEDIATE\n2. <code>P-10011</code> URGENT"
    )
    assert other.payload["text"] == "<code>P-10011</code> only"  # a longer label is not it
    assert (pending_doc.status, pending_doc.payload) == ("cancelled", {})
    assert sent_doc.payload == {}
    assert other_doc.status == "pending" and other_doc.payload != {}


@given(
    label=st.from_regex(r"[A-Z0-9][A-Z0-9-]{1,15}", fullmatch=True),
    before=st.sampled_from(["", " ", "<code>", ">", "\n", "A", "-", "9"]),
    after=st.sampled_from(["", " ", "</code>", "<", ",", "A", "-", "9"]),
)
def test_names_finds_a_label_only_as_a_whole_word(label: str, before: str, after: str) -> None:
    text = f"{before}{label}{after}"
    whole = not (before[-1:].isalnum() or before.endswith("-")) and not (
        after[:1].isalnum() or after.startswith("-")
    )
    assert (names(label).search(text) is not None) == whole
