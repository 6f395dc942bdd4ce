"""A new patient's and a provider's first days, "right the first time" (issue 12, item 11):
/patient shows only the days since enrolment, and /checkin while paused says so."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.harness import Harness


def _rows(text: str) -> list[str]:
    """The dates of /patient's day table."""
    table = text.split("date  mood", 1)[1].split("mood, anx", 1)[0]
    return [line.split()[0] for line in table.strip().splitlines()[1:]]


async def test_patient_lists_only_days_since_enrolment(harness: Harness) -> None:
    h = harness
    nurse = h.server.group(GROUP_A).member(9001, first_name="Nurse")
    una = h.server.user(6201, first_name="Una")
    await enrol(h, una, "P-NEW7")
    await h.send(nurse, "/patient P-NEW7")
    assert _rows(last(nurse).text) == ["01-12"]  # enrolled today: one row
    table = last(nurse).text.split("mood, anx")[0]
    assert "no check-in" not in table and "01-12 – not started yet (today)" in table
    await h.send(una, "/checkin")
    await answer_all(h, una, CALM_DAY)
    await h.advance(timedelta(days=2))
    await h.send(nurse, "/patient P-NEW7")
    rows = _rows(last(nurse).text)
    assert rows == ["01-14", "01-13", "01-12"]
