"""Who may do what in a cohort's provider group: one rule, pure.

Everyone in the group is on the care team: they see alerts, acknowledge and resolve them,
list patients and alerts, read one patient's days, ask for the digest and the outcomes, and
go on call. What changes a patient's care or takes their words or data out of the group
needs the *clinician* privilege: inviting, pausing, resuming or discharging a patient,
exporting the cohort (any format) and reading a patient's messages.

A cohort says who its clinicians are (``clinicians`` in the configuration): the group's
administrators as Telegram reports them (default), or a list of Telegram user ids.
docs/security.md, "Roles".
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

TEAM_MESSAGE = "team_message"
"""Writing to a patient through the bot (a reply to a group message about them)."""
CLINICIAN_ACTIONS = frozenset(
    {
        "invite",
        "pause",
        "resume",
        "discharge",
        "export",
        "messages",
        "dosing",
        "course",
        "optional",
        TEAM_MESSAGE,
    }
)
"""Commands (and actions) that need the clinician privilege; everything else is open to the
group. A new restricted command or button action is one more name here."""
ADMIN_STATUSES = frozenset({"creator", "administrator"})
"""Telegram's ChatMember statuses of a group's owner and administrators."""
GROUP_ADMINS = "group_admins"

Refusal = Literal["not_group_admin", "not_listed", "membership_unknown"]


def needs_clinician(action: str) -> bool:
    """Whether a command or action needs the clinician privilege."""
    return action in CLINICIAN_ACTIONS


def needs_membership(action: str, clinicians: str | Collection[int]) -> bool:
    """Whether deciding needs the person's membership of the group from Telegram."""
    return needs_clinician(action) and clinicians == GROUP_ADMINS


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, or refused and why."""

    refusal: Refusal | None

    @property
    def allowed(self) -> bool:
        """Whether the action may go ahead."""
        return self.refusal is None


ALLOWED = Decision(None)


def decide(
    action: str, user_id: int, clinicians: str | Collection[int], status: str | None
) -> Decision:
    """May this person do this in the group?

    ``clinicians``: the cohort's setting (``"group_admins"`` or user ids). ``status``: the
    person's ChatMember status in the group when the setting is ``"group_admins"``; None when
    Telegram could not be asked, which refuses (fails closed) a clinician action.
    """
    if not needs_clinician(action):
        return ALLOWED
    if clinicians != GROUP_ADMINS:
        return ALLOWED if user_id in clinicians else Decision("not_listed")
    if status is None:
        return Decision("membership_unknown")
    return ALLOWED if status in ADMIN_STATUSES else Decision("not_group_admin")
