"""The application services, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.alerts.alert_actions import AlertActions
from bot.services.alerts.alert_scan import AlertScan
from bot.services.alerts.alerting import Alerting
from bot.services.alerts.announcer import Announcer
from bot.services.checkin.checkins import CheckinService
from bot.services.checkin.history import PatientRules
from bot.services.checkin.scanner import DueScan
from bot.services.checkin.side_check_scan import SideCheckScan
from bot.services.checkin.side_checks import SideCheckService
from bot.services.checkin.windows import WindowScan
from bot.services.digest.weekly import DigestScan, DigestService
from bot.services.housekeeping import Housekeeping
from bot.services.patient.enrolment import EnrolmentService
from bot.services.patient.lifecycle import LifecycleService
from bot.services.patient.messages import MessageService
from bot.services.patient.reachability import Reachability
from bot.services.patient.replies import ReplyService
from bot.services.patient.settings import SettingsService
from bot.services.patient.strangers import StrangerService
from bot.services.provider.audit_trail import AuditTrail
from bot.services.provider.cohorts import CohortSync
from bot.services.provider.commands import ProviderService
from bot.services.provider.provider_channel import ProviderChannel
from bot.services.provider.team_messages import TeamMessages
from bot.services.runtime import Runtime


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
    announcer: Announcer
    housekeeping: Housekeeping
    settings: SettingsService
    messages: MessageService
    lifecycle: LifecycleService
    digest: DigestService
    digest_scan: DigestScan
    provider: ProviderService
    alert_actions: AlertActions
    alert_scan: AlertScan
    patient_rules: PatientRules
    provider_channel: ProviderChannel
    strangers: StrangerService
    audit_trail: AuditTrail
    side_checks: SideCheckService
    side_check_scan: SideCheckScan
    team_messages: TeamMessages

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        """Wire the services around a runtime."""
        announcer = Announcer(runtime)
        alerting = Alerting(runtime, announcer)
        patient_rules = PatientRules(runtime, alerting)
        reachability = Reachability(runtime, alerting)
        checkins = CheckinService(runtime, alerting, patient_rules, reachability)
        settings = SettingsService(runtime)
        side_checks = SideCheckService(runtime, alerting)
        team_messages = TeamMessages(runtime)
        messages = MessageService(
            runtime, settings, alerting, checkins, side_checks, team=team_messages
        )
        strangers = StrangerService(runtime, messages.is_crisis)
        enrolment = EnrolmentService(runtime, settings, strangers.invite_refused)
        return cls(
            runtime=runtime,
            enrolment=enrolment,
            checkins=checkins,
            due_scan=DueScan(runtime),
            window_scan=WindowScan(runtime, checkins, patient_rules),
            reachability=reachability,
            replies=ReplyService(runtime),
            cohorts=CohortSync(runtime),
            alerting=alerting,
            announcer=announcer,
            housekeeping=Housekeeping(runtime),
            settings=settings,
            messages=messages,
            lifecycle=LifecycleService(runtime, alerting),
            digest=(digest := DigestService(runtime)),
            digest_scan=DigestScan(runtime, digest),
            provider=ProviderService(runtime, enrolment, digest),
            alert_actions=AlertActions(runtime, alerting),
            alert_scan=AlertScan(runtime, alerting),
            patient_rules=patient_rules,
            provider_channel=ProviderChannel(runtime),
            strangers=strangers,
            audit_trail=AuditTrail(runtime),
            side_checks=side_checks,
            side_check_scan=SideCheckScan(runtime, side_checks),
            team_messages=team_messages,
        )
