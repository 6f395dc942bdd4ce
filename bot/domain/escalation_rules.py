"""Patient-level escalation rules as data, and the alerts they raise.

Item-level rules (one answer fires at once) live in ``bot.domain.alerts``. The rules here look
at a patient's history: streaks, baselines, missed days, weekly instruments. Defaults are in
``prompts/escalation.yaml`` (docs/clinical.md §1.2, §2.5, §3.2, §3.4, §3.5); the clinic owns every
number. Constructors check their own invariants; the loader reports which field is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TypeAlias

from bot.domain.alerts import Tier
from bot.domain.baseline import BaselineConfig
from bot.domain.checkin import CheckinStatus
from bot.domain.history import DailyCheckin
from bot.domain.instruments import Instrument

DEFAULT_COOLDOWN = timedelta(hours=72)
MISSED_ONLY = frozenset({CheckinStatus.MISSED})
"""What counts as a missed check-in by status alone. A partial or skipped day counts too when
it ended before the safety question was answered (``Unanswered``, set per rule in
``prompts/escalation.yaml``): the day never said the patient is safe."""


class Direction(StrEnum):
    """Which way a daily rating moves away from baseline to count as worse."""

    BELOW = "below"
    ABOVE = "above"


class Change(StrEnum):
    """Which change of an instrument total counts."""

    UP = "up"
    EITHER = "either"
    """Up or down (the PCL-5 "change of 10 or more", docs/clinical.md §2.5)."""


class Reference(StrEnum):
    """What an instrument total is compared with."""

    BASELINE = "baseline"
    """The patient's first result of that instrument (docs/clinical.md §3.4)."""
    PREVIOUS = "previous"
    """The result before the latest one."""


@dataclass(frozen=True, slots=True)
class Window:
    """ "K of the last M" answered check-ins, or "K within D days"; K of K is "K in a row".

    The latest answered check-in must itself match: it is the event that completes the
    pattern, and a calmer check-in never completes one.
    """

    count: int
    of_last: int | None = None
    within_days: int | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if (self.of_last is None) == (self.within_days is None):
            raise ValueError("give exactly one of of_last and within_days")
        if self.of_last is not None and self.of_last < self.count:
            raise ValueError("count cannot exceed of_last")
        if self.within_days is not None and self.within_days < 1:
            raise ValueError("within_days must be at least 1")


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """A numeric item at or past an absolute floor or ceiling (e.g. mood <= 2 twice in a row).

    Floors apply whatever the baseline (docs/clinical.md §3.4).
    """

    id: str
    tier: Tier
    item: str
    window: Window
    at_most: float | None = None
    at_least: float | None = None
    cooldown: timedelta = DEFAULT_COOLDOWN

    def __post_init__(self) -> None:
        if (self.at_most is None) == (self.at_least is None):
            raise ValueError("give exactly one of at_most and at_least")

    def matches(self, value: float) -> bool:
        """Tell whether one answer is past the threshold."""
        if self.at_most is not None:
            return value <= self.at_most
        return self.at_least is not None and value >= self.at_least


@dataclass(frozen=True, slots=True)
class BaselineShiftRule:
    """Check-ins ``by`` points or more worse than the patient's own baseline (docs/clinical.md
    §3.4). Each check-in is judged against the baseline as it stood when it came in."""

    id: str
    tier: Tier
    item: str
    direction: Direction
    by: float
    window: Window
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class BaselineMeanRule:
    """The mean over the last ``days`` local days ``by`` points or more worse than baseline.

    Needs ``min_values`` answers in those days (docs/clinical.md is silent: a one-answer "mean" is
    a single day, which has its own rule) and the latest answer itself worse than baseline.
    """

    id: str
    tier: Tier
    item: str
    direction: Direction
    by: float
    days: int = 7
    min_values: int = 4
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class AnswerPatternRule:
    """A choice or multi-select answer including one of some values, K of M times (dose
    missed 3 in a row; urinary frequency on 3 check-ins within 7 days)."""

    id: str
    tier: Tier
    item: str
    values: frozenset[str]
    window: Window
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A day that ended before an item was answered (the safety question, D7) counts as missed
    whatever its status: skipped, or closed by the window with other answers kept. A day
    stopped early by an IMMEDIATE answer has already reached a human and never counts; nor
    does an open one. ``or_values``: answers that count as no answer too (e.g. "prefer not to
    answer" after an urgent event)."""

    item: str
    or_values: frozenset[str] = frozenset()

    def leaves_unanswered(self, checkin: DailyCheckin) -> bool:
        """Tell whether a closed check-in ended without an answer to the item: skipped or
        partial without it (a completed one asked everything its questionnaire asks, which
        a clinic's own questionnaire may not include), or answered with one of
        ``or_values``."""
        if checkin.status in {CheckinStatus.OPEN, CheckinStatus.STOPPED}:
            return False
        answer = checkin.answers.get(self.item)
        if answer is None:
            return checkin.status in {CheckinStatus.SKIPPED, CheckinStatus.PARTIAL}
        return answer in self.or_values


def counts_as_missed(
    checkin: DailyCheckin, missed: frozenset[CheckinStatus], unanswered: Unanswered | None
) -> bool:
    """Tell whether a check-in counts as missed for a missed-check-in rule."""
    return checkin.status in missed or (
        unanswered is not None and unanswered.leaves_unanswered(checkin)
    )


@dataclass(frozen=True, slots=True)
class MissedStreakRule:
    """Check-ins missed in a row, with a tier per streak length (docs/clinical.md §3.5).

    Check-ins are counted as recorded: a day with no check-in at all (paused, not scheduled)
    neither counts nor breaks the streak.
    """

    id: str
    steps: tuple[tuple[int, Tier], ...]
    """(streak length, tier), lengths rising; the longest step reached sets the tier."""
    missed: frozenset[CheckinStatus] = MISSED_ONLY
    cooldown: timedelta = DEFAULT_COOLDOWN
    unanswered: Unanswered | None = None
    """A day ended before this item was answered counts as missed too."""

    def __post_init__(self) -> None:
        lengths = [length for length, _ in self.steps]
        if not lengths or lengths != sorted(set(lengths)) or lengths[0] < 1:
            raise ValueError("steps need rising streak lengths of at least 1")


@dataclass(frozen=True, slots=True)
class AnswerMatch:
    """An answer that counts as an event (e.g. dose "more")."""

    item: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class MissedAfterEventRule:
    """A check-in missed within some hours after an urgent event (docs/clinical.md §3.5).

    Events are past alerts of ``after_tiers`` (except those of missed-check-in rules, which
    would chain into themselves) and check-ins with an answer in ``after_answers``.
    """

    id: str
    tier: Tier
    within: timedelta
    after_tiers: frozenset[Tier]
    after_answers: tuple[AnswerMatch, ...] = ()
    missed: frozenset[CheckinStatus] = MISSED_ONLY
    cooldown: timedelta = DEFAULT_COOLDOWN
    unanswered: Unanswered | None = None
    """A day ended before this item was answered counts as missed too."""


@dataclass(frozen=True, slots=True)
class InstrumentItemRule:
    """One item of the latest result at or above a score (PHQ-9 item 9 >= 1)."""

    id: str
    tier: Tier
    instrument: Instrument
    item: int
    """1-based item number."""
    at_least: int
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class InstrumentTotalRule:
    """The latest total at or above a score (PHQ-9 >= 20)."""

    id: str
    tier: Tier
    instrument: Instrument
    at_least: int
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class InstrumentChangeRule:
    """The latest total moved ``by`` points or more from baseline or the previous result."""

    id: str
    tier: Tier
    instrument: Instrument
    by: int
    change: Change = Change.UP
    compare_to: frozenset[Reference] = frozenset({Reference.BASELINE, Reference.PREVIOUS})
    cooldown: timedelta = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class RelapseRule:
    """A possible relapse after a response (docs/clinical.md "Relapse signal"): never a
    patient message, only the team's alert.

    Fires when either holds:
    - the instrument met response (a total at most ``response_ratio`` x the relapse baseline,
      ``bot.domain.relapse.relapse_baseline``) and then its last ``in_a_row`` totals, all
      after that response, are each at least ``relapse_ratio`` x the baseline;
    - the mean of ``item`` over ``days`` days falls ``by`` below baseline (the
      ``baseline_mean`` rule, with the same baseline settings) after a stable month: at least
      ``stable_min_values`` answers in the ``stable_days`` days before the mean's window, and
      on none of those days did the mean rule hold.
    Only baselines of at least ``min_baseline`` count: a response needs room to drop.
    """

    id: str
    tier: Tier
    instrument: Instrument = Instrument.PHQ9
    response_ratio: float = 0.5
    relapse_ratio: float = 0.75
    in_a_row: int = 2
    min_baseline: int = 10
    item: str = "mood"
    by: float = 2
    days: int = 7
    min_values: int = 4
    stable_days: int = 30
    stable_min_values: int = 20
    cooldown: timedelta = DEFAULT_COOLDOWN

    def __post_init__(self) -> None:
        if not 0 < self.response_ratio < self.relapse_ratio <= 1:
            raise ValueError("need 0 < response_ratio < relapse_ratio <= 1")
        if self.in_a_row < 1 or self.min_baseline < 1:
            raise ValueError("in_a_row and min_baseline must be at least 1")


Rule: TypeAlias = (
    ThresholdRule
    | BaselineShiftRule
    | BaselineMeanRule
    | AnswerPatternRule
    | MissedStreakRule
    | MissedAfterEventRule
    | InstrumentItemRule
    | InstrumentTotalRule
    | InstrumentChangeRule
    | RelapseRule
)


@dataclass(frozen=True, slots=True)
class EscalationRules:
    """A validated rule set: baseline settings and the rules, ids unique."""

    rules: tuple[Rule, ...]
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def __post_init__(self) -> None:
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("two rules share an id")


@dataclass(frozen=True, slots=True)
class Alert:
    """A patient-level rule that fired.

    Attributes:
        rule_id: The rule.
        tier: How fast a human must look.
        event_key: The event that completed the pattern: the ISO local date of a check-in,
            or ``<instrument>:<date>`` for an instrument result. Stored with the alert so the
            same event never fires twice.
        values: What triggered it, as (name, number) pairs; names are fixed by the code,
            never patient text.
    """

    rule_id: str
    tier: Tier
    event_key: str
    values: tuple[tuple[str, float], ...] = ()
