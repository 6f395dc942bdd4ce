"""Pure helpers of the provider commands: adherence, day rows, splitting, export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.message_text import utf16_len
from bot.services.provider.provider_views import (
    EXPORT_HEADER,
    TABLE_DAYS,
    Adherence,
    adherence,
    data_dictionary_csv,
    day_rows,
    export_csv,
    parse_days,
    split_message,
)
from prompts.questionnaires import load_questionnaire, questionnaire_path

TODAY = date(2026, 1, 12)
DAILY = load_questionnaire(questionnaire_path("daily"))
NOTE = load_questionnaire(questionnaire_path("daily_note"))


def test_adherence_counts_final_days_in_the_last_seven() -> None:
    days = [
        (TODAY - timedelta(days=7), "completed"),  # outside the window
        (TODAY - timedelta(days=6), "completed"),
        (TODAY - timedelta(days=5), "missed"),
        (TODAY - timedelta(days=4), "partial"),
        (TODAY - timedelta(days=3), "skipped"),
        (TODAY - timedelta(days=2), "stopped"),
        (TODAY, "open"),  # not final yet: neither way
    ]
    score = adherence(days, TODAY)
    assert score == Adherence(done=3, due=5)
    assert score.percent == 60
    assert adherence([], TODAY).percent is None
    assert adherence([(TODAY, "completed")], TODAY) == Adherence(1, 1)


def test_day_rows_cover_fourteen_days_newest_first() -> None:
    rows = day_rows([(TODAY - timedelta(days=1), "missed", {})], TODAY)
    assert len(rows) == 14
    assert rows[0].day == TODAY and rows[0].status is None
    assert rows[1].status == "missed"
    assert rows[-1].day == TODAY - timedelta(days=13)


def test_parse_days() -> None:
    assert [parse_days(t) for t in ("1", "60", "07")] == [1, 60, 7]
    assert [parse_days(t) for t in ("0", "61", "999", "ten", "-3", "1.5", "٣", "")] == [None] * 8


@given(st.lists(st.text(alphabet="ab😀 <>", min_size=0, max_size=300), max_size=80))
def test_split_never_cuts_a_line_and_stays_below_the_limit(lines: list[str]) -> None:
    text = "\n".join(lines)
    parts = split_message(text, limit=500)
    for part in parts:
        assert utf16_len(part) <= 500 or "\n" not in part
    kept = [line for part in parts for line in part.split("\n") if line.strip()]
    assert kept == [line for line in lines if line.strip()]


def test_split_keeps_a_pre_block_whole() -> None:
    text = "head\n<pre>a\nb\nc</pre>\n" + "\n".join(["x" * 40] * 5)
    parts = split_message(text, limit=60)
    assert any("<pre>a\nb\nc</pre>" in part for part in parts)
    assert all(part.count("<pre>") == part.count("</pre>") for part in parts)


def test_export_csv_rows() -> None:
    rows = [
        ("P-1", TODAY, "UTC", "completed", "mood", "7"),
        ("P-1", TODAY, "UTC", "completed", "side_effects", "nausea,headache"),
        ("P-1", TODAY - timedelta(days=1), "UTC", "missed", None, None),
        ("P-1", TODAY - timedelta(days=2), "UTC", "skipped", None, None),
        ("P-2", TODAY, "UTC", "open", None, None),  # nothing answered yet: no row
        ("P-3", TODAY, "UTC", "completed", "note", "note:17"),  # free text: not exported
    ]
    items = {i.id: i for q in (DAILY, NOTE) for i in q.items}
    table = list(csv.reader(io.StringIO(export_csv(rows, items))))
    assert table == [
        ["label", "local_date", "timezone", "checkin_status", "item", "value", "value_number"],
        ["P-1", "2026-01-12", "UTC", "completed", "mood", "7", "7"],
        ["P-1", "2026-01-12", "UTC", "completed", "side_effects", "nausea", ""],
        ["P-1", "2026-01-12", "UTC", "completed", "side_effects", "headache", ""],
        ["P-1", "2026-01-11", "UTC", "missed", "", "", ""],
        ["P-1", "2026-01-10", "UTC", "skipped", "", "", ""],
    ]


def test_the_data_dictionary_names_every_column_and_item() -> None:
    table = list(csv.reader(io.StringIO(data_dictionary_csv([DAILY, NOTE]))))
    assert table[0] == ["name", "kind", "description", "values"]
    columns = [row[0] for row in table if row[1] == "column"]
    assert tuple(columns) == EXPORT_HEADER
    items = {row[0]: row for row in table if row[1].startswith("item")}
    assert set(items) == {i.id for i in DAILY.items}  # the note's free text is not exported
    assert "7=7" in items["mood"][3] and "4=Good" in items["sleep"][3]


def test_day_rows_start_at_enrolment() -> None:
    today = date(2026, 1, 12)
    assert [r.day for r in day_rows([], today, today)] == [today]
    rows = day_rows([(date(2026, 1, 10), "missed", {})], today, date(2026, 1, 11))
    # A check-in before the enrolment date (a provider's import) is still shown.
    assert [r.day.day for r in rows] == [12, 11, 10]
    assert len(day_rows([], today, date(2025, 1, 1))) == TABLE_DAYS
    assert len(day_rows([], today)) == TABLE_DAYS
