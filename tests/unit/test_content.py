"""Content in prompts/: questionnaires, rules and templates load, validate and render."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2 import UndefinedError

from bot.domain.alerts import Tier, evaluate_answer, top_priority_rules
from bot.domain.callback_data import ItemRef
from bot.domain.checkin import CheckinStatus, Tap, TapVerdict, judge_tap
from bot.domain.coverage import Coverage
from bot.domain.outcomes import outcomes
from bot.domain.questionnaire import QuestionnaireError
from bot.domain.team_hours import team_hours
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.render import Renderer
from prompts.rules import RulesError, check_rules_against, load_rules


def test_default_daily_questionnaire() -> None:
    q = load_questionnaire(questionnaire_path("daily"))
    assert [item.id for item in q.items] == [
        "mood",
        "anxiety",
        "sleep",
        "energy",
        "dose",
        "side_effects",
        "bother",
        "safety",
        "safety_now",
    ]
    mood = q.items[0]
    assert [o.value for o in mood.options] == [str(v) for v in range(11)]
    assert [len(row) for row in mood.keyboard_rows()] == [6, 5]
    safety = q.items[q.position("safety")]
    assert safety.accepts("yes")
    assert not safety.accepts("maybe")
    side_effects = q.items[q.position("side_effects")]
    assert side_effects.accepts_answer("nausea,headache")
    assert side_effects.accepts_answer("none")
    assert not side_effects.accepts_answer("none,nausea")
    assert not side_effects.accepts_answer("nausea,nausea")
    for item in q.items:  # every item speaks both languages
        assert set(item.texts) == {"en", "es"}, item.id
        for option in item.options:
            if item.kind != "scale":
                assert set(option.labels) == {"en", "es"}, (item.id, option.value)


def test_default_rules_fit_the_questionnaire() -> None:
    rules = load_rules()
    check_rules_against(rules, load_questionnaire(questionnaire_path("daily")))
    fired = evaluate_answer(rules, "safety", "yes")
    assert [(t.rule_id, t.tier, t.crisis_card) for t in fired] == [
        ("safety_thoughts", Tier.URGENT, True)
    ]
    assert evaluate_answer(rules, "safety", "no") == []
    assert evaluate_answer(rules, "mood", "0") == []
    unsafe = evaluate_answer(rules, "safety_now", "not_sure")
    assert [(t.rule_id, t.tier, t.stop_checkin) for t in unsafe] == [
        ("safety_unsafe_now", Tier.IMMEDIATE, True)
    ]
    # A multi-select answer fires every rule whose value it holds, most urgent first.
    fired = evaluate_answer(rules, "side_effects", "nausea,urinary_pain,red_flag")
    assert [(t.rule_id, t.tier) for t in fired] == [
        ("medical_red_flag", Tier.IMMEDIATE),
        ("urinary_pain_or_blood", Tier.URGENT),
    ]
    assert fired[0].emergency_card and not fired[0].crisis_card
    assert evaluate_answer(rules, "side_effects", "none") == []
    assert [t.rule_id for t in evaluate_answer(rules, "dose", "more")] == [
        "took_more_than_prescribed"
    ]
    assert [t.rule_id for t in evaluate_answer(rules, "bother", "severe")] == [
        "severe_side_effect"
    ]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items: []\nversion: 1", "no items"),
        ("- a\n- b", "mapping"),
        ("version: 1\nitems:\n  - {id: mood, type: slider, text: x}", "field 'type'"),
        ("version: 1\nitems:\n  - {id: mood, type: scale, min: 5, max: 1, text: x}", "min"),
        ("version: 1\nitems:\n  - {id: Mood, type: scale, min: 0, max: 3, text: x}", "id must"),
        (
            "version: 1\nitems:\n  - {id: a, type: choice, text: x, options: "
            "[{value: 'Yes!', label: y}]}",
            "option value",
        ),
        (
            "version: 1\nitems:\n  - {id: a, type: choice, text: x, options: "
            "[{value: y, label: y}, {value: y, label: z}]}",
            "share a value",
        ),
        ("version: 1\nitems:\n  - {id: a, type: scale, min: 0, max: 3, text: {es: hola}}", "'en'"),
        (
            "version: 1\nitems:\n  - {id: a, type: scale, min: 0, max: 3, text: x, rows: [9]}",
            "rows hold",
        ),
        ("version: one\nitems:\n  - {id: a, type: scale, min: 0, max: 3, text: x}", "version"),
        ("version: 1\nitems: {", "cannot be read"),
    ],
)
def test_bad_questionnaires_name_file_item_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(QuestionnaireError, match=message) as info:
        load_questionnaire(_write(tmp_path, text))
    assert "custom.yaml" in str(info.value)


def test_bad_rules_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {id: r, kind: item_value, item: safety, values: [maybe], tier: URGENT}\n"
    )
    with pytest.raises(RulesError, match="no value maybe"):
        check_rules_against(load_rules(path), load_questionnaire(questionnaire_path("daily")))
    path.write_text("rules:\n  - {id: r, kind: item_value, item: a, values: [x], tier: HIGH}\n")
    with pytest.raises(RulesError, match="tier"):
        load_rules(path)
    path.write_text("rules:\n  - {id: r, kind: vibes, item: a, values: [x], tier: URGENT}\n")
    with pytest.raises(RulesError, match="kind"):
        load_rules(path)


def test_judge_tap_table() -> None:
    q = load_questionnaire(questionnaire_path("daily"))
    end = len(q.items)

    def judge(
        status: CheckinStatus, window: bool, current: str | int, item: ItemRef, value: str
    ) -> TapVerdict:
        at = q.position(current) if isinstance(current, str) else current
        return judge_tap(
            q, status=status, window_open=window, current_position=at, tap=Tap(1, item, value)
        )

    assert judge(CheckinStatus.OPEN, True, "mood", "mood", "5") is TapVerdict.RECORD
    assert judge(CheckinStatus.OPEN, True, "anxiety", "mood", "5") is TapVerdict.ALREADY_ANSWERED
    assert judge(CheckinStatus.OPEN, True, "mood", "anxiety", "5") is TapVerdict.INVALID
    assert judge(CheckinStatus.OPEN, True, "mood", "mood", "11") is TapVerdict.INVALID
    assert judge(CheckinStatus.OPEN, True, "safety", "safety", "maybe") is TapVerdict.INVALID
    assert judge(CheckinStatus.OPEN, True, "mood", "no_such_item", "5") is TapVerdict.INVALID
    assert judge(CheckinStatus.OPEN, False, "mood", "mood", "5") is TapVerdict.CLOSED
    assert judge(CheckinStatus.COMPLETED, True, end, "safety", "no") is TapVerdict.CLOSED
    # A button sent before buttons named items by id carries the position.
    assert judge(CheckinStatus.OPEN, True, "mood", 0, "5") is TapVerdict.RECORD
    assert judge(CheckinStatus.OPEN, True, "anxiety", 0, "5") is TapVerdict.ALREADY_ANSWERED
    assert judge(CheckinStatus.OPEN, True, "mood", 1, "5") is TapVerdict.INVALID
    assert judge(CheckinStatus.OPEN, True, "mood", 99, "5") is TapVerdict.INVALID


_DIGEST_SUMMARY: dict[str, object] = {
    "cohort": "clinic-a",
    "start": "2026-01-05",
    "end": "2026-01-11",
    "previous_start": "2025-12-29",
    "previous_end": "2026-01-04",
    "active": 28,
    "paused": 1,
    "unreachable": 1,
    "adherence": "72%",
    "answered": 150,
    "due": 208,
    "opened": 4,
    "acknowledged": 3,
    "resolved": 2,
    "open_now": 5,
    "open_immediate": 1,
    "open_urgent": 3,
    "open_routine": 1,
    "median_ack": "35 min",
    "needing": 1,
    "not_asked": [{"instrument": "pcl5", "locale": "es", "count": 2}],
}
_DIGEST_REASONS = [
    {"kind": "urgent_alert", "value": "2", "band": "", "date": ""},
    {"kind": "safety_declined", "value": "1", "band": "", "date": ""},
    {"kind": "phq9_severe", "value": "17", "band": "moderately_severe", "date": "2026-01-05"},
    {"kind": "item9", "value": "1", "band": "", "date": "2026-01-05"},
    {"kind": "low_adherence", "value": "29%", "band": "", "date": ""},
]
_DIGEST_VALUES: dict[str, dict[str, object]] = {
    "digest_group": {
        **_DIGEST_SUMMARY,
        "attention": [{"label": "P-7Q3K", "reasons": "2 open URGENT alerts"}],
        "more": 3,
        "raised": [
            {"label": "P-7Q3K", "tier": "ROUTINE", "name": "Patient paused", "what": "until x"}
        ],
        "raised_more": 2,
        "unanswered_doses": [{"label": "P-7Q3K", "count": 2}],
        "unfollowed": [
            {"label": "P-7Q3K", "tier": "URGENT", "name": "PHQ-9 ≥ 20", "what": "PHQ-9 = 21"}
        ],
        "unfollowed_more": 1,
    },
    "digest_reasons": {"reasons": _DIGEST_REASONS},
    "digest_caption": {"kind": "chart", **_DIGEST_SUMMARY},
    "digest_chart_title": {"cohort": "clinic-a", "start": "2026-01-05", "end": "2026-01-11"},
    "digest_chart_more": {"more": 970, "more_attention": 90},
    "digest_table": {
        **_DIGEST_SUMMARY,
        "pcl5": True,
        "rows": [
            {
                "label": "P-7Q3K",
                "status": "active",
                "due": 7,
                "answered": 2,
                "adherence": "29%",
                "mood": "4.5",
                "mood_change": "\u22122.0",
                "mood_worse": True,
                "anxiety": "6.0",
                "anxiety_change": "+1.0",
                "anxiety_worse": True,
                "phq9": {
                    "total": "17",
                    "band": "moderately_severe",
                    "change": "+5",
                    "date": "2026-01-05",
                },
                "gad7": {"total": "\u2013", "band": "", "change": "\u2013", "date": ""},
                "pcl5": {"total": "30", "band": "", "change": "\u2013", "date": "2025-12-29"},
                "open_alerts": 2,
                "reasons": "2 open URGENT alerts",
            }
        ],
    },
}


# Values each template needs; a template that needs more fails StrictUndefined below.
_HOURS = team_hours(
    Coverage(frozenset(range(5)), time(9), time(17), ZoneInfo("America/New_York")),
    datetime(2026, 1, 11, 8, 0, tzinfo=UTC),  # 03:00 on a Sunday in New York
)
_CARD = {
    "emergency": "Call <b>911</b>.",
    "lines": ["Call or text <b>988</b>."],
    "team_notified": True,
    "hours": _HOURS,
    "hours_city": "New York",
    "other_zone": False,
    "back_at": {"day": 0, "at": "2026-01-12 09:00"},
    "review_by": {"day": 0, "at": "2026-01-12 12:00"},
    "followup": False,
}


TEMPLATE_VALUES: dict[str, dict[str, object]] = {
    **_DIGEST_VALUES,
    "provider_usage": {"command": "pause", "label": None, "status": None, "reason": "bad_days"},
    "provider_bad_label": {"command": "invite", "label": None, "status": None, "reason": "x"},
    "provider_label_taken": {
        "command": "invite",
        "label": "P-7Q3K",
        "status": None,
        "reason": "x",
    },
    "provider_unknown_label": {"command": "patient", "label": None, "status": None, "reason": "x"},
    "provider_not_clinician": {
        "command": "export",
        "label": None,
        "status": None,
        "reason": "not_group_admin",
    },
    "team_reply_not_clinician": {"reason": "membership_unknown"},
    "provider_help": {"listed": False},
    "provider_wrong_status": {
        "command": "resume",
        "label": "P-7Q3K",
        "status": "active",
        "reason": "x",
    },
    "provider_invite": {
        "label": "P-7Q3K",
        "url": "https://t.me/b?start=x",
        "expires": "2026-01-08",
    },
    "provider_paused": {"label": "P-7Q3K", "until": "2026-01-08 09:00", "timezone": "UTC"},
    "provider_resumed": {"label": "P-7Q3K"},
    "provider_oncall_on": {"provider": "Ana", "cohort": "clinic-a"},
    "provider_oncall_already": {"provider": "Ana", "cohort": "clinic-a"},
    "provider_oncall_off": {"provider": "Ana", "cohort": "clinic-a"},
    "provider_oncall_not_on": {"provider": "Ana", "cohort": "clinic-a"},
    "provider_oncall_start_first": {
        "provider": "Ana",
        "cohort": "clinic-a",
        "bot_username": "moodcheck_bot",
    },
    "provider_oncall_confirmed": {"cohort": "clinic-a"},
    "oncall_relay": {"cohort": "clinic-a"},
    "provider_group_back": {"count": 3},
    "provider_discharged": {"label": "P-7Q3K", "told": False},
    "provider_patient_paused": {"until": "2026-01-08 09:00"},
    "provider_patient_resumed": {"checkin_time": "09:00", "timezone": "Europe/London"},
    "provider_export_caption": {"cohort": "clinic-a", "rows": 3},
    "provider_export_fhir_caption": {"cohort": "clinic-a", "patients": 2, "resources": 40},
    "provider_export_too_large": {"cohort": "clinic-a"},
    "provider_outcomes": {
        "cohort": "clinic-a",
        "r": outcomes([], [], start=date(2026, 1, 1), end=date(2026, 12, 31)),
    },
    "provider_patients": {
        "cohort": "clinic-a",
        "patients": [
            {
                "label": "P-7Q3K",
                "status": "paused",
                "paused_until": "2026-01-08",
                "done": 5,
                "due": 6,
                "percent": 83,
                "last": "2026-01-07",
                "alerts": 1,
            }
        ],
    },
    "provider_alerts": {
        "alerts": [
            {
                "label": "P-7Q3K",
                "tier": "URGENT",
                "name": "Mood 2 or lower on two check-ins in a row",
                "what": "mood 1",
                "status": "open",
                "age_minutes": 90,
            }
        ],
        "undelivered_group": 1,
        "undelivered_patients": 2,
    },
    "provider_patient": {
        "label": "P-7Q3K",
        "status": "active",
        "paused_until": None,
        "timezone": "UTC",
        "checkin_time": "09:00",
        "columns": [
            {"label": "mood", "width": 4, "left": False},
            {"label": "se", "width": 3, "left": True},
            {"label": "safe", "width": None, "left": False},
        ],
        "notes": ["mood: 0-10."],
        "days": [
            {"date": "01-02", "status": "completed", "cells": ["7", "0", "YES!"]},
            {"date": "01-01", "status": "missed", "cells": None},
            {"date": "12-31", "status": None, "cells": None},
        ],
        "alerts": [],
        "dosing": {"days": ["mon", "thu"], "time": "19:00"},
        "course_started_on": "2026-01-01",
        "course_recorded": True,
        "optional": ["bp", "bladder"],
        "optional_default": False,
    },
    "side_check_question": {"kind": "post_dose", "question": "How?"},
    "side_check_done": {"kind": "optional", "team_notified": True},
    "provider_dosing_set": {
        "label": "P-7Q3K",
        "days": ["mon", "thu"],
        "time": "19:00",
        "timezone": "Europe/Madrid",
    },
    "provider_dosing_off": {"label": "P-7Q3K", "had": True},
    "provider_course_started": {"label": "P-7Q3K", "date": "2026-01-05"},
    "provider_optional": {"label": "P-7Q3K", "items": ["bp", "substance"], "default": False},
    "enrolled": {"checkin_time": "09:00", "timezone": "Europe/London"},
    "checkin_question": {"position": 1, "total": 4, "question": "How?"},
    "instruments_question": {"position": 1, "total": 17, "question": "How?"},
    "crisis_card": _CARD,
    "crisis_card_short": _CARD,
    "emergency_card": _CARD,
    "crisis_team": _CARD,
    "crisis_card_followup": {**_CARD, "followup": True},
    "settings_region": {
        "checkin_time": "09:00",
        "timezone": "Europe/London",
        "language": "x",
        "region": "Spain",
        "other": "Another country",
    },
    "settings_language": {"checkin_time": "09:00", "timezone": "Europe/London", "language": "x"},
    "settings_timezone": {"checkin_time": "09:00", "timezone": "Europe/London", "language": "x"},
    "settings_time": {"checkin_time": "09:00", "timezone": "Europe/London", "language": "x"},
    "settings_summary": {
        "checkin_time": "09:00",
        "timezone": "Europe/London",
        "language": "x",
        "region": "Spain",
    },
    "message_received": {"team_hours": "Mon-Fri 9:00-17:00", "shared": False},
    "media_not_read": {"team_hours": None},
    "team_message": {"text": "3pm?"},
    "team_message_preview": {
        "state": "draft",
        "label": "P-7Q3K",
        "language": "Español",
        "author": "Nora",
        "by": "",
        "time": "",
        "minutes": 30,
        "hours": 72,
        "message": "x",
    },
    "team_reply_refused": {"reason": "too_long", "limit": 4000, "length": 4090},
    "team_message_toast": {"state": "sent"},
    "button_follow_up": {"action": "OK", "done": True},
    "follow_up_recorded_toast": {"action": "OK"},
    "message_group": {
        "label": "P-7Q3K",
        "kind": "note",
        "time": "2026-01-01 09:00 GMT",
        "text": "hi",
        "cut": 3,
    },
    "provider_messages": {
        "label": "P-7Q3K",
        "days": 14,
        "timezone": "UTC",
        "items": [
            {"time": "2026-01-01 09:00", "kind": "note", "body": "hi", "crisis": False},
            {"time": "2026-01-01 08:00", "kind": "photo", "body": None, "crisis": True},
        ],
        "older": 2,
    },
    "button_pause_days": {"days": 3},
    "pause_ask": {"max_days": 7},
    "alert_values": {
        "d": {"kind": "baseline_shift", "item": "mood", "value": 1, "baseline": 6.2, "count": 2},
        "item": "mood",
        "answer": None,
        "instrument": None,
        "number": None,
    },
    "paused": {"until": "2026-01-08 09:00"},
    "checkin_paused": {"until": "2026-01-08 09:00"},
    "resumed": {"checkin_time": "09:00", "timezone": "Europe/London"},
    "stopped_group": {"label": "P-7Q3K"},
    "deleted_group": {"label": "P-7Q3K"},
    "confirmation_refused": {"command": "/delete"},
    "delete_ask": {"keep_audit": True},
    "deleted": {"keep_audit": False, "team_told": True},
    "stopped": {"team_told": True},
    "mydata_caption": {"format": "JSON"},
    "alert_group": {
        "tier": "URGENT",
        "label": "P-7Q3K",
        "rules": [{"name": "Safety question answered yes", "what": "safety question: Yes"}],
        "time": "2026-01-01 09:00 GMT",
        "after_hours": True,
        "coverage_days": ["mon", "fri"],
        "coverage_start": "09:00",
        "coverage_end": "17:00",
        "acknowledged_by": "Nora",
        "acknowledged_at": "2026-01-01 09:05 GMT",
        "resolved_by": None,
        "resolved_at": None,
    },
    "alert_reraise": {
        "tier": "IMMEDIATE",
        "label": "P-7Q3K",
        "time": "2026-01-01 09:00 GMT",
        "minutes": 30,
        "on_call": ["@dr_oncall"],
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_by": "Nora",
        "resolved_at": "2026-01-01 09:05 GMT",
    },
}


def test_every_template_renders_with_its_values() -> None:
    renderer = Renderer()
    renderer.check()
    for locale in renderer.locales:
        for name in renderer.template_names(locale):
            text = renderer.render(name, locale, **TEMPLATE_VALUES.get(name, {}))
            assert 1 <= len(text) <= 4096, name


@pytest.mark.parametrize("name", ["stopped", "deleted"])
@pytest.mark.parametrize(
    ("locale", "now", "later"),
    [
        ("en", "your care team is being notified", "will be told as soon as the bot can reach"),
        ("es", "se está avisando a su equipo", "Se avisará a su equipo de atención en cuanto"),
    ],
)
def test_after_stop_or_delete_the_team_promise_follows_the_group(
    name: str, locale: str, now: str, later: str
) -> None:
    """The notice to the team is queued with the patient's reply: "being notified" while the
    bot can post in the group, "will be told" while it cannot (the notice waits), in every
    locale; never "has been told", which the patient would read before the team does."""
    renderer = Renderer()
    told = renderer.render(name, locale, team_told=True, keep_audit=False)
    waiting = renderer.render(name, locale, team_told=False, keep_audit=False)
    assert now in told and later not in told
    assert later in waiting and now not in waiting
    for text in (told, waiting):
        assert "has been told" not in text and "se ha avisado" not in text


def test_strict_undefined_and_escaping() -> None:
    renderer = Renderer()
    with pytest.raises(UndefinedError):
        renderer.render("settings_summary", "en", checkin_time="09:00")
    text = renderer.render("checkin_question", "en", position=1, total=1, question="<b>&")
    assert "&lt;b&gt;&amp;" in text


def test_missing_locale_falls_back_to_english() -> None:
    assert Renderer().render("invite_expired", "xx") == Renderer().render("invite_expired", "en")


def test_phq9_item9_rules_and_follow_up() -> None:
    rules = load_rules()
    phq9 = load_questionnaire(questionnaire_path("phq9"))
    check_rules_against(rules, phq9)
    for value, rule in (("1", "phq9_item9_positive"), ("2", "phq9_item9_frequent")):
        [fired] = evaluate_answer(rules, "phq9_9", value)
        assert (fired.rule_id, fired.tier, fired.crisis_card) == (rule, Tier.URGENT, True)
    assert evaluate_answer(rules, "phq9_9", "0") == []
    assert top_priority_rules(rules) == frozenset({"phq9_item9_frequent"})
    for value in ("yes", "not_sure"):
        [unsafe] = evaluate_answer(rules, "phq9_9_now", value)
        assert (unsafe.tier, unsafe.stop_checkin) == (Tier.IMMEDIATE, True)
    follow_up = phq9.items[phq9.position("phq9_9_now")]
    assert follow_up.safety and follow_up.show_if is not None
    assert follow_up.show_if.any_of == frozenset({"1", "2", "3"})
    daily = load_questionnaire(questionnaire_path("daily"))
    assert follow_up.texts == daily.items[daily.position("safety_now")].texts  # D7b's words
    safety = [item.id for item in daily.items if item.safety]
    assert safety == ["safety", "safety_now"]
    [declined] = evaluate_answer(rules, "safety", "declined")
    assert (declined.rule_id, declined.tier) == ("safety_declined", Tier.ROUTINE)
