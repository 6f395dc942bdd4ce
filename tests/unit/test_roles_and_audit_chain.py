"""The pure rules of issue 15 items 3 and 5: who may run what (bot.domain.roles), and the
audit hash chain (bot.domain.audit_chain): any single change to a chained record is found at
that record, whatever the record holds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, load_config
from bot.domain.audit_chain import (
    GENESIS,
    ChainCheck,
    Link,
    StoredRecord,
    canonical,
    subject_digest,
)
from bot.domain.roles import ADMIN_STATUSES, CLINICIAN_ACTIONS, GROUP_ADMINS, TEAM_MESSAGE, decide
from bot.services.provider.commands import COMMANDS
from tests.conftest import CONFIG

STATUSES = st.sampled_from(
    ["creator", "administrator", "member", "restricted", "left", "kicked", None]
)
ACTIONS = st.sampled_from(sorted(set(COMMANDS) | CLINICIAN_ACTIONS | {"ack", "res"}))
IDS = st.integers(min_value=1, max_value=2**40)


@given(ACTIONS, IDS, STATUSES, st.lists(IDS, min_size=1, max_size=5))
def test_the_role_rule(action: str, user: int, status: str | None, listed: list[int]) -> None:
    by_admins = decide(action, user, GROUP_ADMINS, status)
    by_list = decide(action, user, tuple(listed), status)
    if action not in CLINICIAN_ACTIONS:  # open to every member, whatever Telegram says
        assert by_admins.allowed and by_list.allowed
        return
    assert by_admins.allowed == (status in ADMIN_STATUSES)
    if status is None:
        assert by_admins.refusal == "membership_unknown"  # fails closed
    elif status not in ADMIN_STATUSES:
        assert by_admins.refusal == "not_group_admin"
    assert by_list.allowed == (user in listed)  # the list alone decides
    assert by_list.allowed or by_list.refusal == "not_listed"


def test_acknowledging_and_the_open_commands_need_no_privilege() -> None:
    assert set(COMMANDS) >= CLINICIAN_ACTIONS - {TEAM_MESSAGE}  # that one is a reply
    assert set(COMMANDS) - CLINICIAN_ACTIONS == {
        "patients", "patient", "alerts", "digest", "outcomes", "oncall", "help",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("value", "error"),
    [("[]", "lets nobody in"), ("[0]", "positive"), ('"admins"', "clinicians")],
)
def test_clinicians_setting_is_checked(tmp_path: Path, value: str, error: str) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text(
        CONFIG.replace(
            "provider_chat_id = -100111\n", f"provider_chat_id = -100111\nclinicians = {value}\n"
        )
    )
    with pytest.raises(ConfigError, match=error):
        load_config(path)


# --- the chain --------------------------------------------------------------------------

DETAILS = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=12), st.booleans(), st.none()),
    max_size=4,
)
START = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)


def _chain(entries: list[tuple[str, int | None, dict[str, object]]]) -> list[StoredRecord]:
    records, prev = [], GENESIS
    for i, (actor, patient_id, details) in enumerate(entries, start=1):
        salt = f"{i:032x}"
        subject = subject_digest(salt, patient_id, details)
        at = START + timedelta(seconds=i)
        digest = Link(7, i, at, actor, "x", 7, subject, prev).hash()
        records.append(
            StoredRecord(i, 7, i, at, actor, "x", 7, patient_id, details, salt, subject, prev,
                         digest)
        )  # fmt: skip
        prev = digest
    return records


def _check(records: list[StoredRecord]) -> ChainCheck:
    last = records[-1]
    check = ChainCheck(7, 0, GENESIS, last.seq or 0, last.hash or GENESIS)
    check.feed(records)
    return check


ENTRIES = st.lists(
    st.tuples(st.sampled_from(["system", "patient", "provider:1"]), st.none() | IDS, DETAILS),
    min_size=1,
    max_size=6,
)


@given(ENTRIES, st.data())
def test_any_single_change_is_found_at_its_record(
    entries: list[tuple[str, int | None, dict[str, object]]], data: st.DataObject
) -> None:
    records = _chain(entries)
    check = _check(records)
    assert check.finish() is None and check.checked == len(records)
    index = data.draw(st.integers(0, len(records) - 1))
    field, value = data.draw(  # a field and a value it never had
        st.sampled_from(
            [
                ("actor", "provider:666"),
                ("action", "y"),
                ("cohort_id", 8),
                ("patient_id", -1),
                ("details", {"forged": True}),
                ("at", START - timedelta(days=1)),
                ("hash", "f" * 64),
            ]
        )
    )
    changes: dict[str, Any] = {field: value}
    records[index] = dataclasses.replace(records[index], **changes)
    broken = _check(records).finish()
    assert broken is not None and broken.seq == index + 1, (field, broken)


def test_canonical_form_is_fixed() -> None:
    assert (
        canonical({"b": 1, "a": "é", "c": [None, True]})
        == '{"a":"é","b":1,"c":[null,true]}'.encode()
    )
    with pytest.raises(ValueError, match="Out of range float"):
        canonical({"x": float("nan")})
