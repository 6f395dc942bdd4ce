"""The digest's words and attachments: the group message's values, the HTML table and the CSV.

Every word comes from the cohort's templates (``digest_*.j2``); this module only turns the
pure figures into template values (numbers formatted for the locale) and writes the CSV,
whose column names are fixed identifiers and whose numbers use a decimal point whatever the
locale, so that spreadsheets and scripts read it the same everywhere.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from markupsafe import Markup

from bot.domain.digest_format import (
    DASH,
    format_duration,
    format_number,
    format_percent,
    format_signed,
)
from bot.domain.digest_model import Digest, InstrumentResult, PatientFigures, Reason
from bot.domain.instruments import Band
from bot.services.digest.digest_chart import ChartText
from prompts.render import Renderer

CSV_COLUMNS = (
    "label",
    "status",
    "days_due",
    "days_answered",
    "adherence_pct",
    "mood_mean",
    "mood_prev_mean",
    "mood_change",
    "anxiety_mean",
    "anxiety_prev_mean",
    "anxiety_change",
    "phq9_date",
    "phq9_total",
    "phq9_band",
    "phq9_change",
    "phq9_item9",
    "gad7_date",
    "gad7_total",
    "gad7_band",
    "gad7_change",
    "pcl5_date",
    "pcl5_total",
    "pcl5_change",
    "open_alerts",
    "open_immediate",
    "open_urgent",
    "needs_attention",
)


def reason_values(patient: PatientFigures, locale: str) -> list[dict[str, str]]:
    """Return a patient's reasons as template values (kind, value, band)."""
    values = []
    for reason in patient.reasons:
        value, band, day = "", "", ""
        if reason is Reason.IMMEDIATE_ALERT:
            value = str(patient.open_by_tier.get("IMMEDIATE", 0))
        elif reason is Reason.URGENT_ALERT:
            value = str(patient.open_by_tier.get("URGENT", 0))
        elif reason is Reason.ITEM9 and patient.phq9 is not None:
            value = str(patient.phq9.item9)
            day = patient.phq9.day.isoformat()
        elif reason is Reason.PHQ9_SEVERE and patient.phq9 is not None:
            value = str(patient.phq9.total)
            day = patient.phq9.day.isoformat()
            band = patient.phq9.band.value if patient.phq9.band is not None else ""
        elif reason is Reason.SAFETY_DECLINED:
            value = str(patient.safety_declined)
        elif reason is Reason.MOOD_DROP:
            value = format_signed(patient.mood.change, locale)
        elif reason is Reason.LOW_ADHERENCE:
            value = format_percent(patient.adherence, locale)
        values.append({"kind": reason.value, "value": value, "band": band, "date": day})
    return values


def summary_values(digest: Digest, cohort: str, locale: str) -> dict[str, Any]:
    """Return the cohort summary as template values."""
    s = digest.summary
    period = digest.period
    return {
        "cohort": cohort,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "previous_start": period.previous.start.isoformat(),
        "previous_end": period.previous.end.isoformat(),
        "active": s.active,
        "paused": s.paused,
        "unreachable": s.unreachable,
        "adherence": format_percent(s.adherence, locale),
        "answered": s.answered,
        "due": s.due,
        "opened": s.alerts_opened,
        "open_now": s.alerts_open,
        "open_immediate": s.open_by_tier.get("IMMEDIATE", 0),
        "open_urgent": s.open_by_tier.get("URGENT", 0),
        "open_routine": s.open_by_tier.get("ROUTINE", 0),
        "acknowledged": s.alerts_acknowledged,
        "resolved": s.alerts_resolved,
        "median_ack": format_duration(s.median_to_acknowledge),
        "needing": s.needing_attention,
        "not_asked": [
            {"instrument": instrument, "locale": lang, "count": count}
            for instrument, lang, count in digest.not_asked
        ],
    }


def _instrument(result: InstrumentResult | None) -> dict[str, str]:
    """An instrument's cells: total, band, change, and the date it was answered."""
    if result is None:
        return {"total": DASH, "band": "", "change": DASH, "date": ""}
    change = result.change
    shown = DASH if change is None else (f"+{change}" if change > 0 else str(change))
    return {
        "total": str(result.total),
        "band": result.band.value if result.band else "",
        "change": shown,
        "date": result.day.isoformat(),
    }


def row_values(patient: PatientFigures, locale: str, reasons: Markup) -> dict[str, Any]:
    """Return one patient's table row as template values."""
    mood_change = patient.mood.change
    anxiety_change = patient.anxiety.change
    return {
        "label": patient.label,
        "status": patient.status,
        "due": patient.due,
        "answered": patient.answered,
        "adherence": format_percent(patient.adherence, locale),
        "mood": format_number(patient.mood.mean, locale),
        "mood_change": format_signed(mood_change, locale),
        "mood_worse": mood_change is not None and mood_change <= -1,
        "anxiety": format_number(patient.anxiety.mean, locale),
        "anxiety_change": format_signed(anxiety_change, locale),
        "anxiety_worse": anxiety_change is not None and anxiety_change >= 1,
        "phq9": _instrument(patient.phq9),
        "gad7": _instrument(patient.gad7),
        "pcl5": _instrument(patient.pcl5),
        "open_alerts": patient.open_alerts,
        "reasons": reasons,
    }


def render_reasons(renderer: Renderer, digest: Digest, locale: str) -> dict[int, Markup]:
    """Render each patient's reasons once (the message and the table both show them)."""
    rendered: dict[int, Markup] = {}
    for patient in digest.patients:
        if patient.reasons:
            # The template escaped its values: mark the result safe so it is not escaped twice.
            rendered[patient.id] = Markup(  # noqa: S704 - rendered by an autoescaping template
                renderer.render("digest_reasons", locale, reasons=reason_values(patient, locale))
            )
        else:
            rendered[patient.id] = Markup("")
    return rendered


def render_html(
    renderer: Renderer,
    digest: Digest,
    cohort: str,
    locale: str,
    reasons: dict[int, Markup],
    *,
    pcl5: bool = False,
) -> bytes:
    """Return the full table as a self-contained HTML page (no scripts, inline style);
    ``pcl5``: the cohort asks the PCL-5, so it has a column."""
    rows = [row_values(p, locale, reasons[p.id]) for p in digest.patients]
    page = renderer.render(
        "digest_table", locale, rows=rows, pcl5=pcl5, **summary_values(digest, cohort, locale)
    )
    return (page + "\n").encode("utf-8")


def _csv_text(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: keep labels inert.
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _band(band: Band | None) -> str:
    return "" if band is None else band.value


def render_csv(digest: Digest) -> bytes:
    """Return every patient's figures as CSV (UTF-8, comma-separated, decimal point)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in digest.patients:
        phq9, gad7, pcl5 = p.phq9, p.gad7, p.pcl5
        writer.writerow(
            [
                _csv_text(p.label),
                p.status,
                p.due,
                p.answered,
                _num(None if p.adherence is None else p.adherence * 100, 1),
                _num(p.mood.mean),
                _num(p.mood.previous),
                _num(p.mood.change),
                _num(p.anxiety.mean),
                _num(p.anxiety.previous),
                _num(p.anxiety.change),
                "" if phq9 is None else phq9.day.isoformat(),
                "" if phq9 is None else phq9.total,
                "" if phq9 is None else _band(phq9.band),
                "" if phq9 is None or phq9.change is None else phq9.change,
                "" if phq9 is None else phq9.item9,
                "" if gad7 is None else gad7.day.isoformat(),
                "" if gad7 is None else gad7.total,
                "" if gad7 is None else _band(gad7.band),
                "" if gad7 is None or gad7.change is None else gad7.change,
                "" if pcl5 is None else pcl5.day.isoformat(),
                "" if pcl5 is None else pcl5.total,
                "" if pcl5 is None or pcl5.change is None else pcl5.change,
                p.open_alerts,
                p.open_by_tier.get("IMMEDIATE", 0),
                p.open_by_tier.get("URGENT", 0),
                ";".join(r.value for r in p.reasons),
            ]
        )
    return out.getvalue().encode("utf-8")


def chart_text(
    renderer: Renderer, digest: Digest, cohort: str, locale: str, shown: int
) -> ChartText:
    """Return the chart's words for a locale (plain text: the chart is no HTML)."""
    more = len(digest.patients) - shown
    more_attention = max(0, len(digest.attention) - shown)

    def render(name: str, **values: Any) -> str:
        return html.unescape(renderer.render(name, locale, **values))

    return ChartText(
        title=render(
            "digest_chart_title",
            cohort=cohort,
            start=digest.period.start.isoformat(),
            end=digest.period.end.isoformat(),
        ),
        mood=render("digest_chart_mood"),
        anxiety=render("digest_chart_anxiety"),
        cohort_mean=render("digest_chart_cohort"),
        answered=render("digest_chart_answered"),
        legend=render("digest_chart_legend"),
        more=(
            render("digest_chart_more", more=more, more_attention=more_attention)
            if more > 0
            else ""
        ),
        weekdays=render("digest_weekdays").split(),
    )
