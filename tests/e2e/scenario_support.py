"""Histories for the rule scenario suite (tests/e2e/test_rule_scenarios.py).

A history is a list of steps a patient lives through: check-ins they start themselves, prompts
they answer, days they let pass. Days pass on the ManualClock and the bot's own scans (due,
window) run at the times production would run them. The triggering step goes through the
sandbox (commands and button presses); earlier days may go straight to the services those
presses call (``CheckinService.open_today`` and ``tap``), which is several times cheaper.
Nothing is written to the database by hand.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select

import prompts
from bot.app import BotRuntime, build
from bot.domain.alerts import Tier
from bot.domain.callback_data import AnswerButton, DoneButton, SkipButton, ToggleButton, decode
from bot.sandbox.state import BotMessage
from bot.sandbox.users import SimUser
from bot.services.alerts.crisis_card import CardKind, crisis_card
from bot.settings import Settings
from bot.transport.delivery import DeliveryPolicy
from bot.transport.ratelimit import Limits
from prompts.render import MACROS, TEMPLATES
from storage.models import OutboxMessage, Patient
from tests.e2e.flows import Answer, Answers, answer_day
from tests.support.harness import SETTLE_TIMEOUT, Harness, shared_renderer
from tests.support.keys import TEST_KEYS

# Day 0 is Monday 2026-01-12, the day the conftest clock starts (08:00 in New York).
DAY0 = date(2026, 1, 12)

# Labels as the patient sees them (prompts/questionnaires/*.yaml).
NAUSEA = "Nausea or vomiting"
HEART = "Racing or pounding heart, or a high home blood pressure reading"
RED_FLAG = "Chest pain, trouble breathing, fainting, seizure or sudden severe headache"
URINARY_PAIN = "Pain or burning when urinating, or blood in urine"
URINARY_FREQ = "Needing to urinate urgently or often"
FOUR_POINT = ("Not at all", "Several days", "More than half the days", "Nearly every day")
PCL5_POINT = ("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely")


def rule_ids(name: str) -> list[str]:
    """Return the ids of the default rules in ``prompts/<name>`` (read, not hard-coded, so a
    new rule without a scenario fails the coverage test)."""
    data = yaml.safe_load((Path(prompts.__file__).parent / name).read_text(encoding="utf-8"))
    return [str(rule["id"]) for rule in data["rules"]]


def daily(
    *,
    mood: int = 7,
    anxiety: int = 3,
    sleep: str = "Good",
    dose: str = "As prescribed",
    effects: Sequence[str] = (),
    bother: str = "Mild",
    safety: str = "No",
    safety_now: str = "No",
) -> Answers:
    """Return the answers of one daily check-in by item id (calm unless told otherwise)."""
    answers: dict[str, Answer] = {
        "mood": str(mood),
        "anxiety": str(anxiety),
        "sleep": sleep,
        "energy": "Good",
        "dose": dose,
    }
    if not effects:
        answers["side_effects"] = "None"
    elif RED_FLAG in effects:
        return {**answers, "side_effects": tuple(effects)}  # the check-in stops at the red flag
    else:
        answers |= {"side_effects": tuple(effects), "bother": bother}
    answers["safety"] = safety
    if safety == "Yes":
        answers["safety_now"] = safety_now
    return answers


def instruments(
    *,
    phq9: Sequence[int] = (),
    gad7: Sequence[int] = (),
    pcl5: Sequence[int] = (),
    phq9_now: str = "No",
) -> Answers:
    """Return the answers of a calm instrument day: the daily items, then the instruments the
    day asks (PHQ-9 with its unscored difficulty question, GAD-7, PCL-5), given as item scores.

    PHQ-9 item 9 above 0 calls up the D7b follow-up, answered ``phq9_now``; "Yes" or "Not
    sure" there ends the check-in."""
    assert len(phq9) in {0, 9} and len(gad7) in {0, 7} and len(pcl5) in {0, 20}
    answers: dict[str, Answer] = {
        **daily(),
        **{f"phq9_{n}": FOUR_POINT[s] for n, s in enumerate(phq9, 1)},
    }
    if phq9 and phq9[8] >= 1:
        answers["phq9_9_now"] = phq9_now
        if phq9_now != "No":
            return answers
    if phq9:
        answers["difficulty"] = "Somewhat difficult"
    return {
        **answers,
        **{f"gad7_{n}": FOUR_POINT[s] for n, s in enumerate(gad7, 1)},
        **{f"pcl5_{n}": PCL5_POINT[s] for n, s in enumerate(pcl5, 1)},
    }


@dataclass(frozen=True, slots=True)
class Cohort:
    """A cohort as a scenario needs it."""

    name: str
    group_id: int
    zone: ZoneInfo
    region: str
    usual: str
    """When the patient sends /checkin unless told otherwise (after enrolment on day 0)."""

    def at(self, day: int, clock: str) -> datetime:
        """Return an instant as local date (day N after day 0) and local time ``HH:MM[:SS]``."""
        local = datetime.combine(DAY0 + timedelta(days=day), time.fromisoformat(clock))
        return local.replace(tzinfo=self.zone)


# clinic-a (tests/conftest.py): New York, prompt at 09:00, window until local midnight.
CLINIC_A = Cohort("clinic-a", -100111, ZoneInfo("America/New_York"), "US", "10:00")
# One instrument each, on Mondays after the daily items, so a history taps through only the
# instrument its rule reads (clinic-d asks all three: 44 taps on day 0).
PHQ9_ONLY = Cohort("scen-phq9", -100661, ZoneInfo("UTC"), "UK", "14:00")
GAD7_ONLY = Cohort("scen-gad7", -100662, ZoneInfo("UTC"), "UK", "14:00")
PCL5_ONLY = Cohort("scen-pcl5", -100663, ZoneInfo("UTC"), "UK", "14:00")
COHORTS = (CLINIC_A, PHQ9_ONLY, GAD7_ONLY, PCL5_ONLY)
INSTRUMENT_COHORTS = f"""
[[cohort]]
name = "{PHQ9_ONLY.name}"
provider_chat_id = {PHQ9_ONLY.group_id}
coverage = "24/7"
region = "UK"
weekly_instruments = ["phq9"]

[[cohort]]
name = "{GAD7_ONLY.name}"
provider_chat_id = {GAD7_ONLY.group_id}
coverage = "24/7"
region = "UK"
weekly_instruments = ["gad7"]

[[cohort]]
name = "{PCL5_ONLY.name}"
provider_chat_id = {PCL5_ONLY.group_id}
coverage = "24/7"
region = "UK"
pcl5_every_weeks = 4
"""


Taps = Answers | tuple[str, ...]
"""A day's taps: answers by item id (``tests.e2e.flows.answer_day``), or labels pressed in
order, for a day that ends after its first question (the answer to it, then perhaps "Skip
today")."""


@dataclass(frozen=True, slots=True)
class Day:
    """The patient sends /checkin on ``day`` at ``clock`` and taps through it."""

    day: int
    taps: Taps
    clock: str | None = None


@dataclass(frozen=True, slots=True)
class Prompted:
    """The due scan prompts at 09:00 and the patient answers at ``clock``; with ``close``,
    the window scan then ends the day at local midnight (partial if the taps did not finish
    the check-in)."""

    day: int
    taps: Taps
    clock: str = "09:30"
    close: bool = False


@dataclass(frozen=True, slots=True)
class Missed:
    """The due scan prompts at 09:00; nothing is answered; the window scan closes the day at
    local midnight."""

    day: int


Step = Day | Prompted | Missed
PROMPT_AT = "09:00:05"
CLOSE_AT = "00:00:01"  # of the next local day
SCENARIO_LIMITS = Limits(overall=(1000, 1.0), private=(1000, 1.0))
"""A history is dozens of taps in one private chat within a second; at Telegram's 3 messages
a second per chat the suite would mostly wait. Rate limits have their own tests."""


class ScenarioHarness(Harness):
    """The e2e harness, with the bot built by ``bot.app.build`` as production builds it, but
    with a renderer whose templates are already compiled, and wide rate limits."""

    async def start_bot(self, *, add_groups: bool = True) -> BotRuntime:
        if add_groups:
            self.add_groups()
        settings = Settings(
            telegram_token=self.server.token,
            database_url=self.db_url,
            telegram_base_url=self.server.base_url,
            data_keys=TEST_KEYS,
        )
        self.bot = build(
            settings,
            self.config,
            clock=self.clock,
            limits=SCENARIO_LIMITS,
            delivery=DeliveryPolicy(poll_interval=0.2),
            scan_interval=None,
            renderer=shared_renderer(),
        )
        await self.bot.start(poll_timeout=1)
        return self.bot


async def drain(h: Harness) -> None:
    """Wait until the delivery worker has sent everything due, so that the next tap finds
    every message the last one caused.

    ``Harness.settle`` alone sometimes returns while a message is still pending (seen behind a
    crisis card, and after /checkin), and each call wakes the worker for extra rounds; polling
    the outbox does neither. After a Telegram update, call ``settle`` first (the update must
    have been handled for its messages to be in the outbox).
    """
    async with asyncio.timeout(SETTLE_TIMEOUT):
        while True:
            # Usually the worker's word is right and one query confirms it; polling the
            # database while the worker sends would only slow it down (PostgreSQL).
            await h.runtime.worker.wait_idle()
            due = await h.count(
                OutboxMessage,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= h.clock.now(),
            )
            if not due:
                return
            await asyncio.sleep(0.005)


async def enrol(h: Harness, user: SimUser, label: str, cohort: Cohort) -> Patient:
    """``tests.e2e.flows.enrol`` (invite, /start, consent), waiting out each message."""
    link = await h.runtime.services.enrolment.create_invite(cohort.name, label, "test")
    await h.send(user, f"/start {link.code}")
    await drain(h)
    await h.press(user, "I agree")
    await drain(h)
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


_SERVICE_UPDATE_IDS = itertools.count(2**40)
"""Update ids for calls made straight to the services (far above the sandbox's own)."""


async def _answer(h: Harness, user: SimUser, taps: Taps, *, telegram: bool) -> None:
    """Answer the question(s) shown: by item id for a mapping, else label by label."""
    if isinstance(taps, tuple):
        for label in taps:
            await _tap(h, user, label, telegram=telegram)
            await drain(h)
        return

    async def press(shown: BotMessage, label: str) -> None:
        await _tap(h, user, label, telegram=telegram, shown=shown)
        await drain(h)

    await answer_day(h, user, taps, press=press)


async def _tap(
    h: Harness, user: SimUser, label: str, *, telegram: bool, shown: BotMessage | None = None
) -> None:
    if telegram:
        await h.press(user, label, message_id=None if shown is None else shown.message_id)
        return
    # What handlers.patient.button does with the press, minus Telegram's round trips.
    message, data = _button(user, label, shown)
    button = decode(data)
    assert isinstance(button, AnswerButton | ToggleButton | DoneButton | SkipButton), button
    refusal = await h.runtime.services.checkins.tap(
        next(_SERVICE_UPDATE_IDS), user.id, message.message_id, button
    )
    assert refusal is None, f"[{label}] refused: {refusal}"


def _button(user: SimUser, label: str, shown: BotMessage | None) -> tuple[BotMessage, str]:
    """The message ``shown`` (else the newest) with a button labelled ``label``, and the
    button's data."""
    for message in [shown] if shown is not None else reversed(user.messages):
        for text, data in (b for row in message.buttons for b in row):
            if text == label and data is not None and not message.deleted:
                return message, data
    raise AssertionError(f"no button [{label}] in {user!r}")


async def run_step(
    h: Harness, cohort: Cohort, user: SimUser, step: Step, *, telegram: bool = True
) -> None:
    """Live one step of a history through the bot's scans and either the sandbox (taps and
    commands) or, for past days, the services those taps call."""
    match step:
        case Day(day, taps, clock):
            h.clock.set(cohort.at(day, clock or cohort.usual))
            if telegram:
                await h.send(user, "/checkin")
            else:
                checkins = h.runtime.services.checkins
                await checkins.open_today(next(_SERVICE_UPDATE_IDS), user.id, user.chat_id)
            await drain(h)
            await _answer(h, user, taps, telegram=telegram)
        case Prompted(day, taps, clock, close):
            await _prompt(h, cohort, day)
            h.clock.set(cohort.at(day, clock))
            await _answer(h, user, taps, telegram=telegram)
            if close:
                await _close_day(h, cohort, day)
        case Missed(day):
            await _prompt(h, cohort, day)
            await _close_day(h, cohort, day)


async def _prompt(h: Harness, cohort: Cohort, day: int) -> None:
    h.clock.set(cohort.at(day, PROMPT_AT))
    await h.due_scan()
    await drain(h)


async def _close_day(h: Harness, cohort: Cohort, day: int) -> None:
    h.clock.set(cohort.at(day + 1, CLOSE_AT))
    await h.runtime.services.window_scan.run()
    await drain(h)


class Card(Enum):
    """What the patient must be shown at once."""

    NONE = "none"
    CRISIS = "crisis_card"
    EMERGENCY = "emergency_card"


def plain(rendered: str) -> str:
    """Return a template's HTML output as the patient's client shows it."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def card_heading(h: Harness, card: Card, cohort: Cohort) -> str:
    """Return the first line of a card as rendered for the cohort's region."""
    runtime = h.runtime.services.runtime
    kind: CardKind = "crisis_card" if card is Card.CRISIS else "emergency_card"
    text = crisis_card(
        runtime.renderer,
        runtime.config.regions,
        kind=kind,
        locale="en",
        region=cohort.region,
        coverage="24/7",
        now=runtime.clock.now(),
        team_notified=True,
    )
    return plain(text).splitlines()[0]


def tier_markers() -> dict[Tier, str]:
    """Return the tier icons the group message uses (read from the shared pieces its template
    imports, so a change of wording elsewhere in the message does not matter here)."""
    macros = Environment(loader=FileSystemLoader(TEMPLATES)).get_template(MACROS)
    icons = macros.module.icons  # type: ignore[attr-defined]
    return {tier: str(icons[tier.value]) for tier in Tier}


TIER_MARKERS = tier_markers()


def shows_tier(text: str, tier: Tier) -> bool:
    """Tell whether a group message carries a tier's marker (its icon or its name)."""
    return TIER_MARKERS[tier] in text or tier.value in text


def new_messages(messages: Sequence[BotMessage], after: int) -> list[BotMessage]:
    """Return the messages with an id above ``after`` (sent after a snapshot)."""
    return [m for m in messages if m.message_id > after]


def last_id(messages: Sequence[BotMessage]) -> int:
    """Return the newest message id of a chat (0 when empty)."""
    return max((m.message_id for m in messages), default=0)
