"""/outcomes in the provider group, through the real bot (figures: tests/unit/test_outcomes.py)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEvent
from tests.e2e.conftest import GROUP_D
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last, press_all
from tests.support.harness import Harness

# Item 9 "Several days" brings its follow-up: "No".
PHQ9 = ["Nearly every day"] * 4 + ["Several days"] * 5 + ["No", "Very difficult"]  # 17
GAD7 = ["Several days"] * 7
PCL5 = ["Not at all"] * 20


async def test_outcomes_in_the_group(harness: Harness) -> None:
    h = harness
    for n in (1, 2):
        user = h.server.user(8200 + n, first_name=f"Olga{n}")
        await enrol(h, user, f"P-OC0{n}", cohort="clinic-d")
        await h.send(user, "/checkin")
        await answer_all(h, user, CALM_DAY)
        await press_all(h, user, PHQ9 + GAD7 + PCL5)
    nurse = h.server.group(GROUP_D).member(9201, first_name="Nurse")
    await h.send(nurse, "/outcomes")
    text = last(nurse).text
    assert "Outcomes · clinic-d · 2025-01-12 to 2026-01-12" in text
    assert "Patients: 2." in text
    assert "PHQ-9 (2 with a first PHQ-9 above 9)" in text
    assert "too few to show" in text and "%" not in text  # two patients: no share shown
    for name in ("Olga1", "Olga2"):
        assert name not in text
    audit = await h.scalar(
        select(AuditEvent).where(AuditEvent.action == "provider_viewed_outcomes")
    )
    assert audit is not None and audit.details["to"] == "2026-01-12"

    await h.send(nurse, "/outcomes 2026-02-01 2026-01-01")
    assert "/outcomes FROM TO" in last(nurse).text
    await h.send(nurse, "/outcomes 2025-01-01 2025-12-31")
    assert "2025-01-01 to 2025-12-31" in last(nurse).text
