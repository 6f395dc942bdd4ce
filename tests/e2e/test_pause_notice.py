"""A patient's own pause is visible to the care team (issue 12, item 9): a ROUTINE notice in
the group (label, until when), in /alerts, /patient and the digest; pauses longer than the
cohort's ``max_self_pause_days`` are not offered and need the team's /pause."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.domain.callback_data import SettingButton, encode
from storage.models import Alert, Patient
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness

TUESDAY = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)  # 10:00 in New York (clinic-a)
NOTICE = "Patient paused their check-ins"
UNTIL = "until 2026-01-16 10:00 (America/New_York), 3 days"


def _nurse(h: Harness) -> Any:
    return h.server.group(GROUP_A).member(9201, first_name="Nurse", status="administrator")


async def test_a_self_pause_posts_a_routine_notice_seen_in_alerts_patient_and_digest(
    harness: Harness,
) -> None:
    h = harness
    pam = h.server.user(4101, first_name="Pamela", username="pam_real")
    await enrol(h, pam, "P-PAU1")
    h.clock.set(TUESDAY)
    await h.send(pam, "/pause")
    assert "goes to your care team" not in last(pam).text  # the question, not the outcome
    assert "notice" in last(pam).text and "longer than 7 days" in last(pam).text
    await h.press(pam, "3 days")
    assert "A notice that you paused, and until when, goes to your care team" in last(pam).text

    [alert] = await h.rows(select(Alert).where(Alert.rule == "self_pause"))
    assert (alert.tier, alert.status) == ("ROUTINE", "open")
    [notice] = h.server.group(GROUP_A).messages
    assert "🟢 ROUTINE" in notice.text and "P-PAU1" in notice.text
    assert NOTICE in notice.text and UNTIL in notice.text
    assert "Pamela" not in notice.text and "pam_real" not in notice.text
    assert "self_pause" not in notice.text

    nurse = _nurse(h)
    await h.send(nurse, "/patient P-PAU1")
    shown = last(nurse).text
    assert "paused until 2026-01-16" in shown and NOTICE in shown and UNTIL in shown
    await h.send(nurse, "/alerts")
    assert NOTICE in last(nurse).text and UNTIL in last(nurse).text

    # The next week's digest lists it among the alerts raised.
    h.clock.set(datetime(2026, 1, 20, 15, 0, tzinfo=UTC))
    await h.send(nurse, "/digest")
    digest = next(m.text for m in h.server.group(GROUP_A).messages if "Weekly digest" in m.text)
    assert "Alerts raised this week" in digest
    assert f"P-PAU1 · {NOTICE} ({UNTIL})" in digest


async def test_pauses_longer_than_the_cohort_maximum_are_the_team_s(harness: Harness) -> None:
    h = harness
    rex = h.server.user(4102, first_name="Rex")
    await enrol(h, rex, "P-PAU2")
    await h.send(rex, "/pause")
    ask = last(rex)
    # clinic-a keeps the default maximum of 7 days.
    assert ask.labels == ["1 day", "3 days", "7 days", "Cancel"]
    # A forged (or outdated) 14-day button is refused and changes nothing.
    await h.press_data(rex, ask.message_id, encode(SettingButton("pause", "14")))
    patient = await h.scalar(select(Patient).where(Patient.label == "P-PAU2"))
    assert patient is not None and patient.status == "active"
    assert await h.rows(select(Alert).where(Alert.rule == "self_pause")) == []
    # The care team can pause for longer.
    nurse = _nurse(h)
    await h.send(nurse, "/pause P-PAU2 14")
    patient = await h.scalar(select(Patient).where(Patient.label == "P-PAU2"))
    assert patient is not None and patient.status == "paused"
