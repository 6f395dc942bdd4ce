"""The shared template pieces render word for word as before, in every locale: each template
that shares a piece (tier icons, ages, statuses, weekdays, instruments, bands, languages,
who acknowledged or resolved an alert, optional items) rendered with values that reach every
branch, compared with ``golden/templates.txt``.

The story of ``tests/e2e/test_team_views_golden.py`` covers /patient and the alerts' values
lines through the bot; this covers the branches a story does not reach (every status, every
band, every weekday, every form of the group alert).

After an intended change of wording, ``MOODCHECK_WRITE_GOLDEN=1`` rewrites the file and fails
the run: read the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.coverage import Coverage
from bot.domain.team_hours import team_hours
from prompts.render import Renderer
from tests.unit.test_content import TEMPLATE_VALUES

GOLDEN = Path(__file__).with_name("golden") / "templates.txt"
STATUSES = ("active", "paused", "withdrawn", "discharged", "unreachable")
TIERS = ("IMMEDIATE", "URGENT", "ROUTINE")
BANDS = ("minimal", "mild", "moderate", "moderately_severe", "severe")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _alert(tier: str, status: str, minutes: int, what: str | None) -> dict[str, Any]:
    return {
        "label": "P-7Q3K",
        "tier": tier,
        "name": "Mood 2 or lower",
        "what": what,
        "status": status,
        "age_minutes": minutes,
    }


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "tier": "URGENT",
        "label": "P-7Q3K",
        "time": "2026-01-01 09:00 GMT",
        "rules": [{"name": "Mood low", "what": "mood 1"}, {"name": "No values", "what": None}],
        "review_by": None,
        "after_hours": False,
        "minutes": 15,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_by": None,
        "resolved_at": None,
    }
    return event | changes


_SINGLE = {k: v for k, v in _event().items() if k != "review_by"} | {
    "coverage_days": [],
    "coverage_start": "09:00",
    "coverage_end": "17:00",
    "on_call": [],
}
_EVENTS = [
    _event(tier="IMMEDIATE", top_priority=False, review_by="2026-01-01 09:30 GMT"),
    _event(top_priority=True, after_hours=True, acknowledged_by="Nora", acknowledged_at="09:05"),
    _event(tier="ROUTINE", minutes=None, resolved_by="Sam", resolved_at="09:10",
           acknowledged_by="Nora", acknowledged_at="09:05"),
]  # fmt: skip


def _hours(at: datetime, days: frozenset[int] = frozenset(range(5))) -> Any:
    zone = ZoneInfo("America/New_York")
    return team_hours(Coverage(days, time(9), time(17), zone), at)


_CARD = TEMPLATE_VALUES["crisis_card"]
CASES: list[tuple[str, dict[str, Any]]] = [
    ("provider_patients", {"cohort": "c", "patients": [
        {"label": "P-7Q3K", "status": s, "paused_until": until, "done": 1, "due": 2,
         "percent": percent, "last": last, "alerts": 0}
        for s in STATUSES
        for until, percent, last in ((None, None, None), ("2026-01-08", 50, "2026-01-01"))
    ]}),
    ("provider_patients", {"cohort": "c", "patients": []}),
    *(
        ("provider_wrong_status", {"label": "P-7Q3K", "status": s, "command": "pause"})
        for s in STATUSES
    ),
    ("provider_alerts", {
        "alerts": [
            _alert(tier, status, minutes, what)
            for tier in (*TIERS, "OTHER")
            for status, minutes, what in (("open", 0, None), ("acknowledged", 59, "mood 1"),
                                          ("open", 60, "x"), ("acknowledged", 1439, None),
                                          ("open", 1440, None), ("open", 4000, "<b>"))
        ],
        "undelivered_group": 0,
        "undelivered_patients": 0,
    }),
    ("provider_alerts", {"alerts": [], "undelivered_group": 0, "undelivered_patients": 3}),
    ("provider_dosing_set", {"label": "P-7Q3K", "days": list(WEEKDAYS), "time": "07:30",
                             "timezone": "UTC"}),
    ("provider_optional", {"label": "P-7Q3K", "items": ["bp", "substance", "substance_daily",
                                                         "bladder"], "default": True}),
    ("provider_optional", {"label": "P-7Q3K", "items": [], "default": False}),
    ("provider_messages", {"label": "P-7Q3K", "days": 14, "timezone": "UTC", "older": 0,
                           "items": [{"time": "t", "kind": kind, "body": None, "crisis": crisis}
                                     for kind in ("text", "note", "sticker", "photo", "voice",
                                                  "location", "other", "unknown")
                                     for crisis in (False, True)]}),
    ("alert_group", _SINGLE),
    ("alert_group", _SINGLE | {"tier": "IMMEDIATE", "top_priority": True,
                               "review_by": "2026-01-01 09:30 GMT", "after_hours": True,
                               "coverage_days": ["mon", "tue", "sat"],
                               "acknowledged_by": "Nora", "acknowledged_at": "09:05"}),
    ("alert_group", _SINGLE | {"tier": "ROUTINE", "top_priority": False, "after_hours": True,
                               "resolved_by": "Sam", "resolved_at": "09:10",
                               "acknowledged_by": "Nora", "acknowledged_at": "09:05"}),
    ("alert_group", {"events": _EVENTS}),
    ("alert_reraise", _SINGLE),
    ("alert_reraise", _SINGLE | {"tier": "IMMEDIATE", "top_priority": True, "minutes": None,
                                 "on_call": ["@a", "@b"], "acknowledged_by": "Nora",
                                 "acknowledged_at": "09:05"}),
    ("alert_reraise", _SINGLE | {"resolved_by": "Sam", "resolved_at": "09:10"}),
    ("alert_reraise", {"events": _EVENTS, "on_call": ["@a"]}),
    ("alert_reraise", {"events": _EVENTS[:1], "on_call": []}),
    ("digest_reasons", {"reasons": [
        {"kind": kind, "value": value, "band": band, "date": "2026-01-05"}
        for kind, value in (("immediate_alert", "1"), ("immediate_alert", "2"),
                            ("urgent_alert", "1"), ("urgent_alert", "3"),
                            ("safety_declined", "2"), ("item9", "1"), ("mood_drop", "-2.5"),
                            ("low_adherence", "29%"))
        for band in [""]
    ] + [{"kind": "phq9_severe", "value": "20", "band": b, "date": "2026-01-05"}
         for b in BANDS]}),
    ("digest_group", TEMPLATE_VALUES["digest_group"] | {
        "not_asked": [{"instrument": i, "locale": loc, "count": n}
                      for i, loc, n in (("phq9", "es", 1), ("gad7", "en", 2),
                                        ("pcl5", "es", 3), ("other", "fr", 1))],
        "raised": [_alert(t, "open", 0, w) for t in (*TIERS, "OTHER") for w in (None, "x")],
        "unfollowed": [_alert(t, "open", 0, w) for t in TIERS for w in (None, "x")],
    }),
    ("digest_group", TEMPLATE_VALUES["digest_group"] | {
        "attention": [], "raised": [], "unfollowed": [], "not_asked": [],
        "unanswered_doses": [], "active": 0, "paused": 0, "unreachable": 0,
    }),
    ("digest_group", TEMPLATE_VALUES["digest_group"] | {
        "attention": [], "raised": [], "unfollowed": [], "more": 0,
    }),
    ("digest_table", TEMPLATE_VALUES["digest_table"] | {
        "not_asked": [{"instrument": i, "locale": loc, "count": 1}
                      for i, loc in (("phq9", "es"), ("gad7", "en"), ("pcl5", "xx"))],
        "rows": [
            TEMPLATE_VALUES["digest_table"]["rows"][0] | {  # type: ignore[index]
                "status": status,
                "reasons": "" if status == "paused" else "x",
                "phq9": {"total": "9", "band": band, "change": "+1", "date": "2026-01-05"},
                "gad7": {"total": "9", "band": band, "change": "+1", "date": ""},
            }
            for status in ("active", "paused", "unreachable")
            for band in (*BANDS, "")
        ],
    }),
    ("digest_table", TEMPLATE_VALUES["digest_table"] | {"pcl5": False}),
    *(
        (name, _CARD | changes)
        for name in ("crisis_card", "crisis_card_short", "emergency_card", "crisis_card_followup")
        for changes in (
            {},
            {"team_notified": False, "other_zone": True},
            {"hours": _hours(datetime(2026, 1, 12, 15, 0, tzinfo=UTC)), "other_zone": True},
            {"hours": _hours(datetime(2026, 1, 10, 15, 0, tzinfo=UTC), frozenset({0, 2, 3, 5})),
             "back_at": {"day": 6, "at": "x"}, "review_by": {"day": 5, "at": "y"}},
            {"hours": _hours(datetime(2026, 1, 10, 15, 0, tzinfo=UTC), frozenset(range(7))),
             "review_by": None},
        )
    ),
]  # fmt: skip


def test_shared_pieces_render_as_before() -> None:
    renderer = Renderer()
    out = []
    for locale in renderer.locales:
        for n, (name, values) in enumerate(CASES):
            out.append(f"=== {locale} {name} #{n}")
            out.append(renderer.render(name, locale, **values))
    text = "\n".join(out) + "\n"
    if os.environ.get("MOODCHECK_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        pytest.fail(f"{GOLDEN} written: read its diff, then run again without the variable")
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    for n, (mine, theirs) in enumerate(zip(text.splitlines(), expected, strict=True)):
        assert mine == theirs, f"line {n + 1} differs"
