"""The weekly digest's pure figures, its schedule, formatting, chart and files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digest import build_digest
from bot.domain.digest_format import format_duration, format_number, format_percent, format_signed
from bot.domain.digest_model import (
    AlertRow,
    DayRow,
    DayState,
    Digest,
    InstrumentRow,
    PatientRow,
    Reason,
)
from bot.domain.digest_schedule import Period, digest_due, digest_slot
from bot.domain.instruments import Band, Instrument
from bot.services.digest.digest_chart import MAX_ROWS, chart_rows, png_size, render_chart
from bot.services.digest.digest_files import (
    CSV_COLUMNS,
    chart_text,
    render_csv,
    render_html,
    render_reasons,
)
from prompts.render import Renderer

NY = ZoneInfo("America/New_York")
PERIOD = Period.ending(date(2026, 1, 11), NY)  # Mon 5 - Sun 11 January 2026


def _phq9(patient_id: int, day: date, items: list[int]) -> InstrumentRow:
    answers = {f"phq9_{n}": str(v) for n, v in enumerate(items, start=1)}
    return InstrumentRow(patient_id, Instrument.PHQ9, day, answers)


def _week(
    patient_id: int, moods: list[int | None], start: date, status: str = "completed"
) -> list[DayRow]:
    return [
        DayRow(patient_id, start + timedelta(days=n), status if m is not None else "missed", m, m)
        for n, m in enumerate(moods)
    ]


def test_period_days_and_instants() -> None:
    assert PERIOD.start == date(2026, 1, 5)
    assert PERIOD.days[-1] == date(2026, 1, 11)
    assert PERIOD.previous.end == date(2026, 1, 4)
    assert PERIOD.start_at == datetime(2026, 1, 5, 5, 0, tzinfo=UTC)
    assert PERIOD.end_at == datetime(2026, 1, 12, 5, 0, tzinfo=UTC)


def test_figures_and_reasons() -> None:
    patients = [
        PatientRow(1, "P-AAAA", "active"),  # fine
        PatientRow(2, "P-BBBB", "active"),  # mood down 2.5, adherence 3/7
        PatientRow(3, "P-CCCC", "paused"),  # PHQ-9 item 9
        PatientRow(4, "P-DDDD", "withdrawn"),  # left out
        PatientRow(5, "P-EEEE", "unreachable"),  # nothing due, open URGENT alert
    ]
    days = [
        *_week(1, [6, 6, 7, 7, 6, 6, 7], PERIOD.start),
        *_week(1, [6] * 7, PERIOD.previous.start),
        *_week(2, [4, None, 3, None, None, 5, None], PERIOD.start),
        *_week(2, [6, 6, 6, 6, 7, 7, 7], PERIOD.previous.start),
        *_week(3, [5, 5], PERIOD.start),
        *_week(4, [0] * 7, PERIOD.start),
    ]
    instruments = [
        _phq9(3, date(2026, 1, 6), [1, 1, 1, 1, 1, 1, 1, 1, 1]),
        _phq9(3, date(2025, 12, 30), [0] * 9),
        _phq9(1, date(2026, 1, 6), [1, 1, 1, 1, 1, 1, 1, 1]),  # incomplete: not scored
        _phq9(1, date(2026, 1, 13), [3] * 9),  # after the period: not "latest"
    ]
    created = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
    alerts = [
        AlertRow(5, "URGENT", "open", created),
        AlertRow(2, "ROUTINE", "acknowledged", created, created + timedelta(minutes=30)),
        AlertRow(1, "URGENT", "resolved", created, created + timedelta(minutes=10), created),
        AlertRow(1, "IMMEDIATE", "resolved", created - timedelta(days=30), None, created),
    ]
    digest = build_digest(PERIOD, patients, days, instruments, alerts)
    by_label = {p.label: p for p in digest.patients}
    assert set(by_label) == {"P-AAAA", "P-BBBB", "P-CCCC", "P-EEEE"}
    a, b, c, e = (by_label[x] for x in ("P-AAAA", "P-BBBB", "P-CCCC", "P-EEEE"))
    assert (a.due, a.answered, a.reasons) == (7, 7, ())
    assert a.mood.mean == pytest.approx(45 / 7)
    assert a.phq9 is None  # the only complete one is after the period
    assert (b.due, b.answered) == (7, 3)
    assert b.mood.change == pytest.approx(4 - 45 / 7)
    assert b.reasons == (Reason.MOOD_DROP, Reason.LOW_ADHERENCE)
    assert [cell.state for cell in b.days][:2] == [DayState.ANSWERED, DayState.MISSED]
    assert c.phq9 is not None
    assert (c.phq9.total, c.phq9.band, c.phq9.item9, c.phq9.change) == (9, Band.MILD, 1, 9)
    assert c.reasons == (Reason.ITEM9,)
    assert c.days[-1].state is DayState.NONE
    assert (e.due, e.adherence, e.open_alerts, e.reasons) == (0, None, 1, (Reason.URGENT_ALERT,))
    # Most urgent first: item 9 before an URGENT alert before a mood drop; then the rest.
    assert [p.label for p in digest.patients] == ["P-CCCC", "P-EEEE", "P-BBBB", "P-AAAA"]
    s = digest.summary
    assert (s.active, s.paused, s.unreachable, s.patients) == (2, 1, 1, 4)
    assert (s.due, s.answered) == (16, 12)
    assert (s.alerts_opened, s.alerts_acknowledged, s.alerts_resolved) == (3, 2, 2)
    assert s.median_to_acknowledge == timedelta(minutes=20)
    assert s.needing_attention == 3
    assert digest.strip[0].due == 3 and digest.strip[0].answered == 3
    assert digest.strip[1].answered == 2


def test_mood_drop_is_exact_at_two_points() -> None:
    patients = [PatientRow(1, "P-1", "active")]
    # 3 answers averaging 4, previous 3 averaging 6: exactly -2.
    days = [*_week(1, [3, 4, 5], PERIOD.start), *_week(1, [5, 6, 7], PERIOD.previous.start)]
    digest = build_digest(PERIOD, patients, days, [], [])
    assert Reason.MOOD_DROP in digest.patients[0].reasons
    days = [*_week(1, [3, 4, 6], PERIOD.start), *_week(1, [5, 6, 7], PERIOD.previous.start)]
    assert Reason.MOOD_DROP not in build_digest(PERIOD, patients, days, [], []).patients[0].reasons


def test_severe_band_and_no_instruments_yet() -> None:
    patients = [PatientRow(1, "P-1", "active"), PatientRow(2, "P-2", "active")]
    instruments = [_phq9(1, date(2026, 1, 5), [2, 2, 2, 2, 2, 2, 2, 2, 0])]
    digest = build_digest(PERIOD, patients, [], instruments, [])
    first, second = digest.patients
    assert first.phq9 is not None and first.phq9.band is Band.MODERATELY_SEVERE
    assert first.reasons == (Reason.PHQ9_SEVERE,)
    assert second.phq9 is None and second.gad7 is None and second.reasons == ()
    assert digest.summary.adherence is None


def test_empty_cohort() -> None:
    digest = build_digest(PERIOD, [], [], [], [])
    assert digest.patients == () and digest.summary.patients == 0


@pytest.mark.parametrize(
    ("now", "due", "week"),
    [
        (datetime(2026, 1, 12, 12, 59, tzinfo=UTC), False, "2026-W03"),  # 07:59 New York
        (datetime(2026, 1, 12, 13, 0, tzinfo=UTC), True, "2026-W03"),  # 08:00 on the dot
        (datetime(2026, 1, 18, 23, 0, tzinfo=UTC), True, "2026-W03"),  # Sunday: catch up
        (datetime(2026, 1, 19, 5, 0, tzinfo=UTC), False, "2026-W04"),  # next Monday 00:00
    ],
)
def test_slot(now: datetime, due: bool, week: str) -> None:
    slot = digest_slot(now, NY, "mon", time(8, 0))
    assert digest_due(slot, now) is due
    assert slot.week == week
    assert slot.dedup_key("clinic-a") == f"digest:clinic-a:{week}"
    if week == "2026-W03":
        assert slot.period.start == date(2026, 1, 5) and slot.period.end == date(2026, 1, 11)


def test_slot_across_dst_and_other_weekdays() -> None:
    # 8 March 2026: New York springs forward at 02:00; a Sunday 02:30 digest moves to 03:00.
    slot = digest_slot(datetime(2026, 3, 8, 12, tzinfo=UTC), NY, "sun", time(2, 30))
    assert slot.scheduled_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert slot.period.end == date(2026, 3, 7)


def test_formatting() -> None:
    assert format_number(4.25, "en") == "4.2"
    assert format_number(4.25, "es", 2) == "4,25"
    assert format_number(None, "en") == "\u2013"
    assert format_signed(-2.0, "es") == "\u22122,0"
    assert format_signed(1.55, "en") == "+1.6"
    assert format_signed(0.01, "en") == "\u00b10.0"
    assert format_percent(0.725, "en") == "72%"
    assert format_percent(0.5, "es") == "50\u00a0%"
    assert format_duration(timedelta(minutes=35)) == "35 min"
    assert format_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert format_duration(timedelta(days=3, hours=4)) == "3 d 4 h"


def _big_digest(n: int) -> Digest:
    patients = [PatientRow(i, f"P-{i:04d}", "active") for i in range(n)]
    days = [
        DayRow(i, day, "completed" if (i + k) % 3 else "missed", (i + k) % 11, (i * k) % 11)
        for i in range(n)
        for k, day in enumerate(PERIOD.days)
    ]
    return build_digest(PERIOD, patients, days, [], [])


def test_chart_is_a_phone_sized_png_and_caps_rows() -> None:
    renderer = Renderer()
    digest = _big_digest(200)
    shown = chart_rows(digest)
    assert len(shown) == MAX_ROWS
    assert list(shown) == sorted(shown, key=lambda p: (not p.needs_attention,))
    text = chart_text(renderer, digest, "clinic-a", "es", len(shown))
    assert "170" in text.more
    png = render_chart(digest, text, "es")
    width, height = png_size(png)
    assert width == 1200 and 1000 < height < 2000
    assert len(png) < 1_000_000


def test_html_and_csv_hold_every_patient_escaped() -> None:
    renderer = Renderer()
    patients = [PatientRow(1, "<b>&x", "active"), PatientRow(2, "=SUM(A1)", "active")]
    digest = build_digest(PERIOD, patients, _week(1, [5] * 7, PERIOD.start), [], [])
    html = render_html(renderer, digest, "clinic-a", "es", render_reasons(renderer, digest, "es"))
    page = html.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;b&gt;&amp;x" in page and "<b>&x" not in page
    assert "<script" not in page.lower()
    assert "5,0" in page  # decimal comma
    rows = list(csv.reader(io.StringIO(render_csv(digest).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    by_label = {r[0]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert by_label["'=SUM(A1)"]["days_due"] == "0"  # a formula stays text
    assert by_label["<b>&x"]["mood_mean"] == "5.00"
    assert by_label["<b>&x"]["adherence_pct"] == "100.0"
