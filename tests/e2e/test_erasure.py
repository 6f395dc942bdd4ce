"""Erasure that erases: after /delete (retention "none") the database holds nothing that
leads to the person, on SQLite and PostgreSQL, proven by a dump of every table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Alert, AuditEvent, Patient
from tests.conftest import CONFIG
from tests.e2e.conftest import GROUP_C
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.dump import dump
from tests.support.harness import Harness

ZEB_ID = 7391846205
"""The patient's Telegram user id (and private chat id): ten digits found nowhere else."""
LABEL = "P-ZQ8X"
NOTE = "neighbour quetzal noise at night"
TEXT = "my zebra-striped secret worry"
CRISIS = "quokka thoughts, I want to kill myself"


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    """clinic-c keeps nothing after /delete and shows patients' text to its group."""
    path = tmp_path / "moodcheck.toml"
    path.write_text(
        CONFIG.replace(
            'questionnaire = "daily_note"\n',
            'questionnaire = "daily_note"\nretention_after_delete = "none"\n'
            "share_text_with_group = true\n",
        )
    )
    return path


async def _enrol_by_group_invite(h: Harness, nurse: Any, user: Any, label: str) -> str:
    await h.send(nurse, f"/invite {label}")
    code = last(nurse).text.split("?start=", 1)[1].split()[0]
    await h.send(user, f"/start {code}")
    await h.press(user, "I agree")
    return code


async def test_delete_with_retention_none_leaves_nothing_in_the_database(
    harness: Harness,
) -> None:
    h = harness
    nurse = h.server.group(GROUP_C).member(9301, first_name="Nurse", status="administrator")
    zeb = h.server.user(ZEB_ID, first_name="Zebediah", username="zeb_real")
    code = await _enrol_by_group_invite(h, nurse, zeb, LABEL)
    # Everything a patient can leave behind: answers, a note, free text shared with the
    # group, crisis words (card, IMMEDIATE alert with the matched words, group alert).
    await h.send(zeb, "/checkin")
    await answer_all(h, zeb, CALM_DAY)
    await h.send(zeb, NOTE)
    await h.send(zeb, TEXT)
    await h.send(zeb, CRISIS)
    await h.press(nurse, "Acknowledge")
    for command in (f"/patient {LABEL}", f"/messages {LABEL}", "/patients", "/alerts"):
        await h.send(nurse, command)
    # Someone else's data stays: the dump below does see rows.
    kim = h.server.user(5550001, first_name="Kim")
    await _enrol_by_group_invite(h, nurse, kim, "P-KEEP")
    await h.send(kim, "keepsake walrus")
    secrets = [LABEL, str(ZEB_ID), code, "quetzal", "zebra-striped", "quokka", "Zebediah"]
    before = await dump(h.db_url)
    assert all(secret in before for secret in secrets[:-1]), "the scenario left no trace"

    await h.send(zeb, "/delete")
    assert "Nothing that could identify you will be kept" in last(zeb).text
    await h.press(zeb, "Yes, erase my data")
    await h.press(zeb, "Erase everything now")
    # The outcome replaces the question, sent directly (nothing queued keeps the chat id).
    assert "has been erased" in last(zeb).text
    assert "Nothing that could identify you is kept" in last(zeb).text
    assert zeb.callback_answers[-1].text == "Your data has been erased."
    notice = h.server.group(GROUP_C).messages[-1].text
    assert "A patient asked for their data to be erased" in notice and LABEL not in notice

    after = await dump(h.db_url)
    found = {secret: after.count(secret) for secret in secrets if secret in after}
    assert found == {}, found
    assert "P-KEEP" in after and "keepsake walrus" in after
    # The clinic's record keeps that an alert existed, and when, without the person.
    alerts = await h.rows(select(Alert))
    crisis = [a for a in alerts if a.rule == "crisis_words"]
    assert crisis and all(a.patient_id is None and a.details is None for a in crisis)
    assert all(a.acknowledged_at is not None for a in crisis)
    erased = await h.scalar(select(AuditEvent).where(AuditEvent.action == "data_erased"))
    assert erased is not None and erased.patient_id is None
    assert erased.details == {"retention": "none"}
    assert await h.count(Patient, Patient.label == LABEL) == 0
    # The person is a stranger now, and the label is free for a new invite.
    await h.send(zeb, "hello?")
    assert "personal invite link" in last(zeb).text
    await h.send(nurse, f"/invite {LABEL}")
    assert "?start=" in last(nurse).text


async def test_the_team_still_sees_other_patients_after_an_erasure(harness: Harness) -> None:
    """/patients after an erasure lists the others, not the erased label."""
    h = harness
    nurse = h.server.group(GROUP_C).member(9302, first_name="Nurse", status="administrator")
    zeb = h.server.user(ZEB_ID, first_name="Zebediah")
    await enrol(h, zeb, LABEL, cohort="clinic-c")
    kim = h.server.user(5550002, first_name="Kim")
    await enrol(h, kim, "P-KEEP", cohort="clinic-c")
    await h.send(nurse, "/patients")
    listing = last(nurse).text
    assert LABEL in listing and "P-KEEP" in listing
    await h.send(zeb, "/delete")
    await h.press(zeb, "Yes, erase my data")
    await h.press(zeb, "Erase everything now")
    await h.send(nurse, "/patients")
    listing = last(nurse).text
    assert LABEL not in listing and "P-KEEP" in listing
    assert LABEL not in await dump(h.db_url)
