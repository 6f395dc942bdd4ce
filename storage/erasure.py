"""Erasure: every row that names or carries a patient, found and removed or stripped.

One place knows the whole list (docs/privacy.md). A row is found by its link to the patient
(``patient_id`` on outbox rows, alerts, invites, processed updates, confirmations, audit
events) or by the patient's chat; messages that name several patients at once (an alert
burst, ``/patients``, a digest) cannot carry one link, so the cohort's chats are also swept
for the label. Nothing here commits.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, delete, literal, or_, select, update
from sqlalchemy import cast as cast_

from storage.models import (
    Alert,
    AlertFollowUp,
    Answer,
    AuditEvent,
    Checkin,
    Confirmation,
    Invite,
    OutboxMessage,
    Patient,
    PatientMessage,
    ProcessedUpdate,
    SideCheck,
    TeamMessage,
    TeamPost,
)
from storage.repositories.base import Repository

DOCUMENT_METHODS = frozenset({"sendDocument", "sendPhoto"})
"""Outbox methods whose content is a file (base64 in the payload)."""


def names(label: str) -> re.Pattern[str]:
    """Return a pattern that finds a label as a whole word ("P-1" not inside "P-12")."""
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(label)}(?![A-Za-z0-9-])")


def _document_names(payload: dict[str, Any], label: str) -> bool:
    encoded = payload.get("document_base64") or payload.get("photo_base64")
    if not isinstance(encoded, str):
        return False
    try:
        return (
            names(label).search(base64.b64decode(encoded).decode("utf-8", "replace")) is not None
        )
    except (binascii.Error, ValueError):
        return True  # unreadable: treat as naming, so it is blanked rather than kept


class ErasureRepository(Repository):
    """Erase one patient's data (their export reads it with AnswerQueries.of_patient and
    PatientHistoryQueries)."""

    async def erase(
        self,
        patient: Patient,
        *,
        keep_person: bool,
        chats: Sequence[int],
        placeholder: str,
    ) -> None:
        """Remove the patient's answers, check-ins, messages, confirmations, processed
        updates and every outbox row to or about them; strip their alerts to what the
        clinic's counts need.

        Args:
            keep_person: the patient row stays (the caller makes it pseudonymous) with its
                accepted invite and its audit events; otherwise they go, and the row too.
            chats: the chats that may hold messages naming the patient by label (the cohort's
                group, past and present, and its on-call providers' private chats).
            placeholder: the word that replaces the label in a message still waiting to be
                sent to one of ``chats`` (a burst of several patients' alerts goes out).
        """
        pid = patient.id
        checkin_ids = select(Checkin.id).where(Checkin.patient_id == pid)
        # The care-team loop's rows (storage/repositories/team.py) refer to alerts, messages
        # and outbox rows, so they go first; team messages before the patient messages they
        # answer.
        for model in (TeamPost, TeamMessage, AlertFollowUp, SideCheck):
            await self.session.execute(delete(model).where(model.patient_id == pid))
        await self._strip_alerts(pid)
        await self.session.execute(delete(Answer).where(Answer.checkin_id.in_(checkin_ids)))
        await self.session.execute(delete(Checkin).where(Checkin.patient_id == pid))
        await self.session.execute(delete(PatientMessage).where(PatientMessage.patient_id == pid))
        await self.session.execute(delete(Confirmation).where(Confirmation.patient_id == pid))
        await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.patient_id == pid)
        )
        # Messages to the patient's chat, and notices about them, name the chat and hold
        # what was said.
        await self.session.execute(
            delete(OutboxMessage).where(
                or_(OutboxMessage.patient_id == pid, OutboxMessage.chat_id == patient.chat_id)
            )
        )
        await self._sweep_label(patient.label, chats, placeholder)
        # Their invites: the one accepted, and any other for their label in the cohort (an
        # expired first one; while the label is a patient's, /invite refuses it).
        accepted = or_(
            Invite.patient_id == pid,
            Invite.claimed_by_user_id == patient.telegram_user_id,
            and_(Invite.cohort_id == patient.cohort_id, Invite.label == patient.label),
        )
        if keep_person:
            await self.session.execute(
                update(Invite).where(accepted).values(claimed_by_user_id=None)
            )
        else:
            await self.session.execute(delete(Invite).where(accepted))
        if not keep_person:
            await self.session.delete(patient)
        await self.session.flush()

    async def audit_naming(self, patient: Patient) -> list[int]:
        """Audit records of the patient's cohort that name their label without being linked
        to them (an invite's creation, a command refused for that label): the audit trail
        scrubs these with the linked ones (``AuditRepository.scrub_patient``)."""
        pattern = names(patient.label)
        rows = (
            await self.session.execute(
                select(AuditEvent.id, AuditEvent.details).where(
                    AuditEvent.cohort_id == patient.cohort_id,
                    or_(AuditEvent.patient_id.is_(None), AuditEvent.patient_id != patient.id),
                    cast_(AuditEvent.details, String).contains(patient.label),
                )
            )
        ).all()
        return [
            row.id
            for row in rows
            if any(isinstance(v, str) and pattern.search(v) for v in (row.details or {}).values())
        ]

    async def _strip_alerts(self, patient_id: int) -> None:
        """Keep that each alert existed (cohort, rule, tier, times, who acted: outcomes and
        metrics count them) and nothing that leads to the person: no patient, check-in,
        details or event key. An event not yet in any group message is never announced."""
        await self.session.execute(
            update(Alert)
            .where(Alert.patient_id == patient_id, Alert.group_message_id.is_(None))
            .values(head_id=None)
        )
        await self.session.execute(
            update(Alert)
            .where(Alert.patient_id == patient_id)
            .values(
                patient_id=None,
                checkin_id=None,
                details=None,
                event_key=None,
                next_reraise_at=None,
                dedup_key=literal("erased:") + cast_(Alert.id, String),
            )
        )

    async def _sweep_label(self, label: str, chats: Sequence[int], placeholder: str) -> None:
        """Strip the label from messages in ``chats`` that name it: a finished message loses
        its payload; one still waiting keeps its place with the label replaced (a file that
        names it is cancelled: its content cannot be edited)."""
        if not chats:
            return
        pattern = names(label)
        word = json.dumps(placeholder, ensure_ascii=False)[1:-1]  # JSON-safe
        rows = (
            await self.session.scalars(
                # Payloads are encrypted at rest (storage/crypto.py): each is read and
                # searched here, not in SQL. A blanked one is a plain {} and is skipped.
                select(OutboxMessage).where(
                    OutboxMessage.chat_id.in_(chats),
                    cast_(OutboxMessage.payload, String) != "{}",
                )
            )
        ).all()
        for row in rows:
            if not row.payload:
                continue
            if row.method in DOCUMENT_METHODS:
                if not _document_names(row.payload, label):
                    continue
            elif pattern.search(json.dumps(row.payload, ensure_ascii=False)) is None:
                continue
            if row.status != "pending":
                row.payload = {}
            elif row.method in DOCUMENT_METHODS:
                row.status, row.payload, row.last_error = "cancelled", {}, "patient erased"
            else:
                text = pattern.sub(lambda _: word, json.dumps(row.payload, ensure_ascii=False))
                row.payload = json.loads(text)
