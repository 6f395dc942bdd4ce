"""The database schema (SQLAlchemy 2, typed with Mapped[]).

Unique constraints carry the product's promises: one check-in per patient per local date, one
answer per check-in and item, one outbox message per dedup key, one row per processed update.

One module per aggregate; every table is imported here, so ``Base.metadata`` is complete
whoever imports ``storage.models`` (Alembic, the unit of work, the tests).
"""

from __future__ import annotations

from storage.models.alerts import Alert, AlertFollowUp, AlertPost
from storage.models.audit import AuditChain, AuditEvent
from storage.models.base import Base
from storage.models.checkins import Answer, Checkin, SideCheck
from storage.models.cohorts import Cohort, OnCallProvider
from storage.models.messaging import OutboxMessage, ProcessedUpdate
from storage.models.patients import Confirmation, Invite, Patient, PatientMessage
from storage.models.team import TeamMessage, TeamPost

__all__ = [
    "Alert",
    "AlertFollowUp",
    "AlertPost",
    "Answer",
    "AuditChain",
    "AuditEvent",
    "Base",
    "Checkin",
    "Cohort",
    "Confirmation",
    "Invite",
    "OnCallProvider",
    "OutboxMessage",
    "Patient",
    "PatientMessage",
    "ProcessedUpdate",
    "SideCheck",
    "TeamMessage",
    "TeamPost",
]
