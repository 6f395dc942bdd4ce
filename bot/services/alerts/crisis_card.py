"""The one builder of the crisis cards (docs/clinical.md §3.3): the full card, the short one for
URGENT events that are not about safety, and the emergency card for a medical red flag.

A pure function of the patient's locale and region, the cohort's coverage and the time (plus
template rendering): no database, so it also serves when the database is down. The region's
lines come from ``prompts/regions.yaml``; what is said about the team from
``bot.domain.team_hours``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.alerts import Trigger
from bot.domain.regions import Regions
from bot.domain.team_hours import CardCoverage, review_time, team_hours
from bot.domain.timezones import city_of
from prompts.render import DEFAULT_LOCALE, Renderer

CardKind = Literal["crisis_card", "crisis_card_short", "emergency_card", "crisis_card_followup"]
"""``crisis_card_followup``: sent instead of a card the patient already saw while the
database was down (bot/transport/offline.py): what is said about the team, not the numbers
again."""


def card_of(triggers: Sequence[Trigger]) -> CardKind | None:
    """Return the card an answer's triggers call for: the crisis card before the emergency
    card; None if no trigger asks for one."""
    if any(trigger.crisis_card for trigger in triggers):
        return "crisis_card"
    if any(trigger.emergency_card for trigger in triggers):
        return "emergency_card"
    return None


def _in(texts: Mapping[str, str], locale: str) -> str:
    """A text in the locale; the start-up check makes sure every template locale has one."""
    return texts.get(locale) or texts[DEFAULT_LOCALE]


def _moment(instant: datetime, zone: ZoneInfo) -> dict[str, object]:
    local = instant.astimezone(zone)
    return {"day": local.weekday(), "at": local.strftime("%Y-%m-%d %H:%M")}


def crisis_card(
    renderer: Renderer,
    regions: Regions,
    *,
    kind: CardKind,
    locale: str,
    region: str | None,
    coverage: CardCoverage,
    now: datetime,
    zone: ZoneInfo | None = None,
    team_notified: bool,
    urgent: bool = False,
) -> str:
    """Render a card for a patient.

    Args:
        kind: Which card.
        locale: The patient's language.
        region: The patient's region (unknown or None: the card that works anywhere).
        coverage: The cohort's coverage (``Coverage``, ``"24/7"``, or None when unknown).
        now: When the card is shown.
        zone: The patient's time zone, for the times the card gives (default: the
            coverage's zone, else UTC).
        team_notified: An alert went to the care team (only then does the card say so).
        urgent: The event is URGENT: the card says by when the team will review it (a time
            inside the team's hours).
    """
    chosen = regions.get(region)
    hours = team_hours(coverage, now)
    zone = zone or (ZoneInfo(hours.zone) if hours.zone else ZoneInfo("UTC"))
    review = review_time(coverage, now) if urgent and team_notified else None
    lines = chosen.lines[:1] if kind == "crisis_card_short" else chosen.lines
    return renderer.render(
        kind,
        locale,
        emergency=_in(chosen.emergency.text, locale),
        lines=[_in(line.text, locale) for line in lines],
        team_notified=team_notified,
        hours=hours,
        hours_city=city_of(hours.zone) if hours.zone else "",
        other_zone=bool(hours.zone) and hours.zone != zone.key,
        back_at=_moment(hours.back_at, zone) if hours.back_at else None,
        review_by=_moment(review, zone) if review else None,
        followup=kind == "crisis_card_followup",
    )


def card_without_team(
    renderer: Renderer, regions: Regions, kind: CardKind, locale: str, region: str | None
) -> str:
    """Render a card that says nothing about a care team: for someone no team follows (not
    enrolled, or no longer), and for a card shown while the database is down
    (bot/transport/offline.py: the alert is raised only once the update is stored, and
    nothing is promised about the team's hours from memory)."""
    return crisis_card(
        renderer,
        regions,
        kind=kind,
        locale=locale,
        region=region,
        coverage=None,
        now=datetime.now(UTC),  # unused without coverage: nothing here depends on the time
        team_notified=False,
    )


def patient_region(regions: Regions, stored: str | None, zone: str, cohort_region: str) -> str:
    """Return a patient's region: the one stored (set at onboarding or in /settings), else
    the one their time zone gives, else the cohort's (``Regions.for_zone``)."""
    if stored:
        return regions.get(stored).code
    return regions.for_zone(zone, cohort_region)
