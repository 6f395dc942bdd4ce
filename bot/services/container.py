"""The application services, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.alerting import Alerting
from bot.services.checkins import CheckinService
from bot.services.cohorts import CohortSync
from bot.services.enrolment import EnrolmentService
from bot.services.lifecycle import LifecycleService
from bot.services.messages import MessageService
from bot.services.reachability import Reachability
from bot.services.replies import ReplyService
from bot.services.runtime import Runtime
from bot.services.scanner import DueScan
from bot.services.settings import SettingsService
from bot.services.windows import WindowScan


@dataclass(frozen=True, slots=True)
class Services:
    """Everything handlers and jobs may call."""

    runtime: Runtime
    enrolment: EnrolmentService
    checkins: CheckinService
    due_scan: DueScan
    window_scan: WindowScan
    reachability: Reachability
    replies: ReplyService
    cohorts: CohortSync
    alerting: Alerting
    settings: SettingsService
    messages: MessageService
    lifecycle: LifecycleService

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        """Wire the services around a runtime."""
        alerting = Alerting(runtime)
        checkins = CheckinService(runtime, alerting)
        settings = SettingsService(runtime)
        return cls(
            runtime=runtime,
            enrolment=EnrolmentService(runtime, settings),
            checkins=checkins,
            due_scan=DueScan(runtime),
            window_scan=WindowScan(runtime, checkins),
            reachability=Reachability(runtime, alerting),
            replies=ReplyService(runtime),
            cohorts=CohortSync(runtime),
            alerting=alerting,
            settings=settings,
            messages=MessageService(runtime, settings, alerting, checkins),
            lifecycle=LifecycleService(runtime),
        )
