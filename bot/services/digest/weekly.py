"""The weekly digest: one message to a cohort's provider group, a chart, and the full table.

``DigestScan.run`` (called with the other scans) queues each cohort's digest once per ISO
week, at the cohort's weekday and time in its time zone, and catches up later in the same
week if the bot was down then. The outbox dedup key ``digest:<cohort>:<ISO week>`` makes the
"once" hold across restarts and between several workers: the digest's four messages are
queued in one transaction, only if that key is new.

``DigestService.send_now`` builds the same digest on demand (the provider's ``/digest``).

Reading is a handful of set-based queries for the whole cohort (never one per patient); the
figures are pure (``bot.domain.digest``); drawing the chart and writing the attachments run
in a worker thread, so the event loop keeps serving patients meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.cohort_config import CohortConfig
from bot.config import ConfigError
from bot.domain.alerts import Tier
from bot.domain.digest import (
    DIGEST_INSTRUMENTS,
    INCLUDED_STATUSES,
    INSTRUMENT_QUESTIONNAIRES,
    build_digest,
    worth_posting,
)
from bot.domain.digest_model import AlertRow, DayRow, Digest, InstrumentRow, PatientRow
from bot.domain.digest_schedule import Period, digest_due, digest_slot, outcomes_included
from bot.domain.instruments import SPECS
from bot.domain.schedule import local_date, parse_hhmm
from bot.domain.weekly import not_asked_counts
from bot.services.alerts.alert_text import AlertText
from bot.services.digest.digest_chart import MAX_ROWS, chart_rows, render_chart
from bot.services.digest.digest_files import (
    chart_text,
    render_csv,
    render_html,
    render_reasons,
    summary_values,
)
from bot.services.digest.outcomes import DEFAULT_DAYS, OutcomesService
from bot.services.outbox import Priority, queue_document, queue_photo, queue_send
from bot.services.provider.provider_views import split_message
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

DAILY_ITEMS = ("mood", "anxiety", "safety")
INSTRUMENT_ITEMS = tuple(item for i in DIGEST_INSTRUMENTS for item in SPECS[i].item_ids())
DECLINED = "declined"
"""The safety question's "prefer not to answer" (prompts/questionnaires/daily.yaml)."""
INSTRUMENT_LOOKBACK = timedelta(weeks=12)
"""How far back the latest PHQ-9 / GAD-7 (and the one before it) are looked for."""
MESSAGE_LIMIT = 4096
ATTENTION_IN_MESSAGE = 25
"""Patients listed by name in the message; the rest are in the chart and the attachments."""
RAISED_IN_MESSAGE = 20
"""Alerts raised in the week listed in the message (most urgent first); /alerts lists every
open one."""


class DigestOutcome(StrEnum):
    """What asking for a digest did."""

    QUEUED = "queued"
    ALREADY_SENT = "already_sent"
    """This week's (or this request's) digest was queued before: nothing new was queued."""
    UNKNOWN_COHORT = "unknown_cohort"
    NOTHING_TO_REPORT = "nothing_to_report"
    """A scheduled digest of a cohort with no enrolled patient and no alert: not posted."""


@dataclass(frozen=True, slots=True)
class BuiltDigest:
    """A digest ready to queue: the figures and everything rendered from them."""

    digest: Digest
    message: str
    chart: bytes | None
    html: bytes | None
    csv: bytes | None
    captions: dict[str, str]
    tag: str
    """For file names: ``<cohort>-<first day>_<last day>``."""
    outcomes: tuple[str, ...] = ()
    """The monthly outcomes section (``outcomes_included``), in messages of its own."""


class DigestService:
    """Builds a cohort's digest and queues it for the provider group."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._text = AlertText(runtime)

    async def send_now(
        self,
        cohort_name: str,
        *,
        now: datetime | None = None,
        request_key: str | None = None,
        actor: str = "system",
    ) -> DigestOutcome:
        """Queue a digest of the 7 days that ended yesterday (cohort time), now.

        Args:
            cohort_name: The cohort (as configured).
            now: The instant to build for (default: the clock's).
            request_key: Something unique to the request (e.g. the update id of ``/digest``)
                so that a replayed request queues nothing twice; None: no such guard.
            actor: Who asked (audited with every patient the digest shows).
        """
        now = now or self._rt.clock.now()
        try:
            config = self._rt.config.cohort(cohort_name)
        except ConfigError:
            return DigestOutcome.UNKNOWN_COHORT
        period = Period.ending(local_date(now, config.zone) - timedelta(days=1), config.zone)
        key = None if request_key is None else f"digest-now:{cohort_name}:{request_key}"
        return await self.send_period(config, period, now, key, actor=actor)

    async def send_period(
        self,
        config: CohortConfig,
        period: Period,
        now: datetime,
        dedup_key: str | None,
        *,
        scheduled: bool = False,
        actor: str = "system",
    ) -> DigestOutcome:
        """Build a cohort's digest of a period and queue it, unless ``dedup_key`` was used.

        ``scheduled``: nobody asked for it, so a digest with nothing to say is not posted
        (``bot.domain.digest.worth_posting``)."""
        async with self._rt.uow() as uow:
            cohort = await uow.cohorts.by_name(config.name)
            if cohort is None:
                return DigestOutcome.UNKNOWN_COHORT
            if dedup_key is not None and await uow.outbox.queued_id(dedup_key) is not None:
                return DigestOutcome.ALREADY_SENT
            cohort_id, chat_id = cohort.id, cohort.provider_chat_id
            digest = await self.figures(uow, cohort, period)
            digest = await self._with_not_asked(uow, cohort.id, config, digest)
            raised = await self.raised(uow, cohort, period, config.locale)
            doses = await unanswered_dose_days(uow, cohort, period)
            unfollowed = await self.unfollowed(uow, cohort, config, period)
            outcomes: tuple[str, ...] = ()
            if outcomes_included(period):
                # The month's first digest carries the outcomes of the year to its last day.
                reports = OutcomesService(self._rt)
                start = period.end - timedelta(days=DEFAULT_DAYS)
                report = await reports.report(uow, cohort, start, period.end)
                outcomes = tuple(split_message(reports.render(report, config.name, config.locale)))
        if scheduled and not worth_posting(digest):
            return DigestOutcome.NOTHING_TO_REPORT
        built = await asyncio.to_thread(
            self.render,
            digest,
            config.name,
            config.locale,
            raised=raised,
            doses=doses,
            unfollowed=unfollowed,
            pcl5=config.pcl5_every_weeks is not None,
        )
        built = dataclasses.replace(built, outcomes=outcomes)
        async with self._rt.uow() as uow:
            queued = await self._queue(uow, now, chat_id, built, dedup_key)
            if not queued:
                return DigestOutcome.ALREADY_SENT
            uow.audit.record(
                at=now,
                actor="system",
                action="digest_queued",
                cohort_id=cohort_id,
                details={
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                    "patients": digest.summary.patients,
                    "needing_attention": digest.summary.needing_attention,
                },
            )
            # The digest's table shows every patient of the week: each one's data was read.
            uow.audit.record_reads(
                at=now,
                actor=actor,
                action="patient_in_digest",
                cohort_id=cohort_id,
                patient_ids=[patient.id for patient in digest.patients],
                details={"start": period.start.isoformat(), "end": period.end.isoformat()},
            )
            await uow.commit()
        self._rt.wake_delivery()
        logger.info("digest queued for cohort %s (%s)", config.name, built.tag)
        return DigestOutcome.QUEUED

    async def figures(self, uow: UnitOfWork, cohort: Cohort, period: Period) -> Digest:
        """Load a cohort's rows with a few set-based queries and compute the digest."""
        repo = uow.digest
        patients = [PatientRow(*row) for row in await repo.patients(cohort.id)]
        previous = period.previous
        day_rows = [
            DayRow(
                patient_id=patient_id,
                day=day,
                status=status,
                mood=_score(answers.get("mood")),
                anxiety=_score(answers.get("anxiety")),
                safety_declined=answers.get("safety") == DECLINED,
            )
            for patient_id, day, status, questionnaire, answers in await repo.daily_checkins(
                cohort.id, previous.start, period.end, DAILY_ITEMS
            )
            # A check-in that only holds a weekly instrument is not a daily one.
            if questionnaire not in INSTRUMENT_QUESTIONNAIRES
        ]
        instruments = await self._instruments(uow, cohort.id, period)
        alerts = [AlertRow(*row) for row in await repo.alerts(cohort.id, previous.start_at)]
        return build_digest(period, patients, day_rows, instruments, alerts)

    async def _with_not_asked(
        self, uow: UnitOfWork, cohort_id: int, config: CohortConfig, digest: Digest
    ) -> Digest:
        """Add how many patients are not asked an instrument for want of a validated
        translation in their language (the digest says so rather than stay silent)."""
        if not config.instruments:
            return digest
        locales = await uow.digest.locales(cohort_id, sorted(INCLUDED_STATUSES))
        counts = not_asked_counts(config.instruments, locales, self._rt.config.untranslated)
        return dataclasses.replace(digest, not_asked=counts)

    @staticmethod
    async def _instruments(uow: UnitOfWork, cohort_id: int, period: Period) -> list[InstrumentRow]:
        """The check-ins of the look-back that hold an instrument, one row per instrument (the
        bot asks the PHQ-9 and the GAD-7, and the PCL-5, in one check-in), with answers."""
        first_items = {SPECS[i].item_ids()[0]: i for i in DIGEST_INSTRUMENTS}
        rows = await uow.digest.instrument_checkins(
            cohort_id,
            INSTRUMENT_ITEMS,
            tuple(first_items),
            since=period.end - INSTRUMENT_LOOKBACK,
            until=period.end,
        )
        return [
            InstrumentRow(patient_id, instrument, day, answers)
            for patient_id, day, answers in rows
            for first, instrument in first_items.items()
            if first in answers
        ]

    async def raised(
        self, uow: UnitOfWork, cohort: Cohort, period: Period, locale: str
    ) -> list[dict[str, object]]:
        """The alerts raised in the period, most urgent first, each by its display name and
        what fired it: ROUTINE ones (a self-pause, a single low day) are only seen here
        (docs/clinical.md §3.2: weekly digest)."""
        rows = await uow.digest.raised(cohort.id, period.start_at, period.end_at)
        ordered = sorted(enumerate(rows), key=lambda r: (Tier(r[1][1]).rank, r[0]))
        return [
            {"label": label, "tier": tier, **self._text.view(rule, details, locale)}
            for _, (label, tier, rule, details, _) in ordered
        ]

    async def unfollowed(
        self, uow: UnitOfWork, cohort: Cohort, config: CohortConfig, period: Period
    ) -> list[dict[str, object]]:
        """The IMMEDIATE and URGENT events resolved in the period with no follow-up action
        recorded (none when the cohort offers no checklist), by display name."""
        if not config.follow_up_actions:
            return []
        rows = await uow.digest.resolved_without_follow_up(
            cohort.id, period.start_at, period.end_at
        )
        return [
            {"label": label, "tier": tier, **self._text.view(rule, details, config.locale)}
            for label, tier, rule, details in rows
        ]

    def render(
        self,
        digest: Digest,
        cohort: str,
        locale: str,
        *,
        raised: Sequence[Mapping[str, object]] = (),
        doses: Sequence[Mapping[str, object]] = (),
        unfollowed: Sequence[Mapping[str, object]] = (),
        pcl5: bool = False,
    ) -> BuiltDigest:
        """Render the message, the chart and the attachments (CPU work: call in a thread).
        ``doses``: patients with dose days whose post-dose check went unanswered; ``pcl5``:
        the cohort asks the PCL-5, so the table shows it."""
        renderer = self._rt.renderer
        reasons = render_reasons(renderer, digest, locale)
        summary = {**summary_values(digest, cohort, locale), "unanswered_doses": list(doses)}
        message = self._message(digest, summary, reasons, locale, raised, unfollowed=unfollowed)
        period = digest.period
        tag = f"{cohort}-{period.start.isoformat()}_{period.end.isoformat()}"
        captions = {
            kind: renderer.render("digest_caption", locale, kind=kind, **summary)
            for kind in ("chart", "html", "csv")
        }
        if not digest.patients:
            return BuiltDigest(digest, message, None, None, None, captions, tag)
        shown = len(chart_rows(digest, MAX_ROWS))
        chart = render_chart(
            digest, chart_text(renderer, digest, cohort, locale, shown), locale, MAX_ROWS
        )
        html = render_html(renderer, digest, cohort, locale, reasons, pcl5=pcl5)
        return BuiltDigest(digest, message, chart, html, render_csv(digest), captions, tag)

    def _message(
        self,
        digest: Digest,
        summary: Mapping[str, object],
        reasons: Mapping[int, object],
        locale: str,
        raised: Sequence[Mapping[str, object]],
        *,
        unfollowed: Sequence[Mapping[str, object]] = (),
    ) -> str:
        attention = digest.attention
        limit = ATTENTION_IN_MESSAGE
        raised_limit = RAISED_IN_MESSAGE
        while True:
            listed = [{"label": p.label, "reasons": reasons[p.id]} for p in attention[:limit]]
            text = self._rt.renderer.render(
                "digest_group",
                locale,
                attention=listed,
                more=len(attention) - len(listed),
                raised=list(raised[:raised_limit]),
                raised_more=max(0, len(raised) - raised_limit),
                unfollowed=list(unfollowed[:raised_limit]),
                unfollowed_more=max(0, len(unfollowed) - raised_limit),
                **summary,
            )
            if len(text) <= MESSAGE_LIMIT or (limit == 0 and raised_limit == 0):
                return text
            limit //= 2
            raised_limit //= 2

    @staticmethod
    async def _queue(
        uow: UnitOfWork, now: datetime, chat_id: int, built: BuiltDigest, dedup_key: str | None
    ) -> bool:
        """Queue the message, chart and files in order; nothing if the dedup key was used."""
        if not await queue_send(
            uow,
            now=now,
            chat_id=chat_id,
            text=built.message,
            priority=Priority.NOTICE,
            dedup_key=dedup_key,
        ):
            return False
        for part in built.outcomes:
            await queue_send(uow, now=now, chat_id=chat_id, text=part, priority=Priority.NOTICE)
        if built.chart is not None:
            await queue_photo(
                uow,
                now=now,
                chat_id=chat_id,
                content=built.chart,
                filename=f"digest-{built.tag}.png",
                caption=built.captions["chart"],
                priority=Priority.NOTICE,
            )
        for kind, content in (("html", built.html), ("csv", built.csv)):
            if content is not None:
                await queue_document(
                    uow,
                    now=now,
                    chat_id=chat_id,
                    content=content,
                    filename=f"digest-{built.tag}.{kind}",
                    caption=built.captions[kind],
                    priority=Priority.NOTICE,
                )
        return True


def _score(value: str | None) -> int | None:
    """A daily item's stored answer as a number (None: not answered, or not a number)."""
    return int(value) if value is not None and value.isdigit() else None


async def unanswered_dose_days(
    uow: UnitOfWork, cohort: Cohort, period: Period
) -> list[dict[str, object]]:
    """Patients with dose days in the period whose post-dose check closed unanswered
    (bot.services.checkin.side_check_scan), as label and count, by label."""
    labels = {pid: label for pid, label, _ in await uow.digest.patients(cohort.id)}
    counts = await uow.side_checks.unanswered_doses(list(labels), period.start, period.end)
    return [
        {"label": labels[pid], "count": n}
        for pid, n in sorted(counts.items(), key=lambda c: labels[c[0]])
    ]


class DigestScan:
    """Queues each cohort's weekly digest when its time has come (once per ISO week)."""

    def __init__(self, runtime: Runtime, service: DigestService) -> None:
        self._rt = runtime
        self._service = service

    async def run(self, now: datetime | None = None) -> int:
        """Queue the digests that are due and not yet queued; return how many were queued."""
        now = now or self._rt.clock.now()
        queued = 0
        for config in self._rt.config.cohorts:
            slot = digest_slot(
                now, config.zone, config.digest_weekday, parse_hhmm(config.digest_time)
            )
            if not digest_due(slot, now):
                continue
            key = slot.dedup_key(config.name)
            async with self._rt.uow() as uow:
                if await uow.outbox.queued_id(key) is not None:
                    continue  # the common case: checked before any figure is built
            try:
                outcome = await self._service.send_period(
                    config, slot.period, now, key, scheduled=True
                )
            except Exception:
                # One cohort's failure must not hold back the others; the next scan retries.
                logger.exception("digest for cohort %s failed", config.name)
                continue
            queued += outcome is DigestOutcome.QUEUED
        return queued
