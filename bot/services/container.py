"""The application services, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.checkins import CheckinService
from bot.services.cohorts import CohortSync
from bot.services.enrolment import EnrolmentService
from bot.services.replies import ReplyService
from bot.services.runtime import Runtime
from bot.services.scanner import DueScan


@dataclass(frozen=True, slots=True)
class Services:
    """Everything handlers and jobs may call."""

    runtime: Runtime
    enrolment: EnrolmentService
    checkins: CheckinService
    due_scan: DueScan
    replies: ReplyService
    cohorts: CohortSync

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        """Wire the services around a runtime."""
        checkins = CheckinService(runtime)
        return cls(
            runtime=runtime,
            enrolment=EnrolmentService(runtime),
            checkins=checkins,
            due_scan=DueScan(runtime),
            replies=ReplyService(runtime),
            cohorts=CohortSync(runtime),
        )
