"""Scoring of the PHQ-9, GAD-7 and PCL-5, and change against a patient's baseline.

Pure arithmetic over docs/clinical.md §2. Results are for the care team only: the patient
is never shown a score, a band or a flag. Bad input raises ScoringError and never yields a
number, because a silently wrong total (a skipped item counted as 0, ``True`` counted as 1)
is worse than no total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, overload

from bot.domain.instruments import (
    PCL5_CLUSTERS,
    PCL5_DEFAULT_CUTOFF,
    PCL5_ENDORSED,
    PCL5_LENIENT_CUTOFF,
    PHQ9_ITEM9,
    SCREENER_ITEMS,
    SCREENER_POSITIVE,
    SPECS,
    Band,
    Instrument,
    InstrumentSpec,
)

_DIGITS = re.compile(r"[0-9]{1,2}")


class ScoringError(ValueError):
    """Answers (or totals) that cannot be scored; the message names the item and the reason."""

    def __init__(self, instrument: str, item: int | None, reason: str) -> None:
        where = instrument if item is None else f"{instrument} item {item}"
        super().__init__(f"{where}: {reason}")
        self.instrument = instrument
        self.item = item
        """1-based item number, or None when the problem is not one item's."""
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Phq9Score:
    """A scored PHQ-9 (the difficulty question is not part of it)."""

    items: tuple[int, ...]
    total: int
    band: Band
    item9: int
    item9_positive: bool
    """Item 9 above 0: needs prompt clinician follow-up whatever the total."""
    phq2_total: int
    phq2_positive_ge3: bool

    @property
    def instrument(self) -> Instrument:
        """Return the instrument scored."""
        return Instrument.PHQ9


@dataclass(frozen=True, slots=True)
class Gad7Score:
    """A scored GAD-7."""

    items: tuple[int, ...]
    total: int
    band: Band
    gad2_total: int
    gad2_positive_ge3: bool

    @property
    def instrument(self) -> Instrument:
        """Return the instrument scored."""
        return Instrument.GAD7


@dataclass(frozen=True, slots=True)
class Pcl5Score:
    """A scored PCL-5. Positive means "needs clinician assessment", never a diagnosis."""

    items: tuple[int, ...]
    total: int
    cutoff: int
    provisional_positive: bool
    """Total at or above ``cutoff``."""
    provisional_positive_ge33: bool
    provisional_positive_ge31: bool
    cluster_b: int
    cluster_c: int
    cluster_d: int
    cluster_e: int
    dsm5_symptom_rule_met: bool
    """At least 1 B, 1 C, 2 D and 2 E items rated 2 or more."""

    @property
    def instrument(self) -> Instrument:
        """Return the instrument scored."""
        return Instrument.PCL5

    @property
    def band(self) -> None:
        """Return None: the PCL-5 has no empirically derived severity bands."""
        return None


Score: TypeAlias = Phq9Score | Gad7Score | Pcl5Score


@overload
def score(
    instrument: Literal[Instrument.PHQ9], answers: Sequence[object], *, pcl5_cutoff: int = ...
) -> Phq9Score: ...
@overload
def score(
    instrument: Literal[Instrument.GAD7], answers: Sequence[object], *, pcl5_cutoff: int = ...
) -> Gad7Score: ...
@overload
def score(
    instrument: Literal[Instrument.PCL5], answers: Sequence[object], *, pcl5_cutoff: int = ...
) -> Pcl5Score: ...
@overload
def score(
    instrument: Instrument, answers: Sequence[object], *, pcl5_cutoff: int = ...
) -> Score: ...
def score(
    instrument: Instrument,
    answers: Sequence[object],
    *,
    pcl5_cutoff: int = PCL5_DEFAULT_CUTOFF,
) -> Score:
    """Score one completed instrument.

    Args:
        instrument: Which instrument the answers belong to.
        answers: The item scores in questionnaire order, as ints (0-3, or 0-4 for the PCL-5).
            The PHQ-9 difficulty question is not scored and must not be included.
        pcl5_cutoff: The PCL-5 provisional-positive total (31-33 are in use; default 33).

    Returns:
        The total, the band (None for the PCL-5) and the instrument's flags.

    Raises:
        ScoringError: The answers have the wrong length, or an answer is missing, not an
            int (floats, strings and bools included) or out of range.
    """
    spec = _spec(instrument)
    items = _checked_items(spec, answers)
    if spec.instrument is Instrument.PHQ9:
        return _phq9(spec, items)
    if spec.instrument is Instrument.GAD7:
        return _gad7(spec, items)
    return _pcl5(spec, items, pcl5_cutoff)


def answers_from_values(instrument: Instrument, values: Mapping[str, str]) -> tuple[int, ...]:
    """Turn stored questionnaire answers (item id to option value) into scorer input.

    Args:
        instrument: The instrument whose items to read (``phq9_1``..., ``gad7_1``...).
        values: Answers by item id, as stored; other keys (e.g. ``difficulty``) are ignored.

    Returns:
        The item scores in order; pass them to ``score``, which checks their range.

    Raises:
        ScoringError: An item is unanswered or its value is not a plain number.
    """
    spec = _spec(instrument)
    parsed: list[int] = []
    for n, item_id in enumerate(spec.item_ids(), start=1):
        value = values.get(item_id)
        if value is None:
            raise ScoringError(spec.instrument, n, f"{item_id!r} is not answered")
        # Only plain digits: int() would also take " 2", "+2" or "٢", which no option stores.
        if not (isinstance(value, str) and _DIGITS.fullmatch(value)):
            raise ScoringError(spec.instrument, n, f"{item_id!r} value {value!r} is not a score")
        parsed.append(int(value))
    return tuple(parsed)


@dataclass(frozen=True, slots=True)
class Change:
    """How a total moved from the patient's baseline; for the care team only."""

    instrument: Instrument
    baseline_total: int
    current_total: int
    mid: int
    """The minimal important difference used, in points."""
    response: bool | None
    """A drop of 50% or more from baseline; None when the baseline is 0."""
    remission: bool | None
    """PHQ-9 below 5; None for the other instruments (no agreed definition)."""
    mid_worsening: bool
    mid_improvement: bool

    @property
    def delta(self) -> int:
        """Return current minus baseline (positive means worse on all three instruments)."""
        return self.current_total - self.baseline_total


def change(instrument: Instrument, baseline_total: int, current_total: int) -> Change:
    """Compare a total with the patient's baseline total.

    Args:
        instrument: The instrument both totals come from.
        baseline_total: The baseline total.
        current_total: The latest total.

    Returns:
        Response, remission and minimal-important-difference flags.

    Raises:
        ScoringError: A total is not an int or is outside the instrument's range.
    """
    spec = _spec(instrument)
    for name, total in (("baseline total", baseline_total), ("current total", current_total)):
        _check_total(spec, name, total)
    # Response is defined for the PHQ-9 (docs/clinical.md §2.5); the same 50% arithmetic is
    # reported for the others. Integers only: 2 * current <= baseline avoids float rounding.
    response = None if baseline_total == 0 else 2 * current_total <= baseline_total
    # HEDIS applies remission to baselines above 9; that selection is the caller's.
    remission = current_total < 5 if spec.instrument is Instrument.PHQ9 else None
    return Change(
        instrument=spec.instrument,
        baseline_total=baseline_total,
        current_total=current_total,
        mid=spec.mid,
        response=response,
        remission=remission,
        mid_worsening=current_total - baseline_total >= spec.mid,
        mid_improvement=baseline_total - current_total >= spec.mid,
    )


def _spec(instrument: str) -> InstrumentSpec:
    # Instrument(...) also takes the plain id ("phq9") a stored questionnaire carries.
    try:
        return SPECS[Instrument(instrument)]
    except (ValueError, KeyError):
        raise ScoringError(str(instrument), None, "is not a scored instrument") from None


def _check_total(spec: InstrumentSpec, name: str, total: object) -> None:
    if isinstance(total, bool) or not isinstance(total, int):
        raise ScoringError(spec.instrument, None, f"{name} {total!r} is not an int")
    if not 0 <= total <= spec.max_total:
        raise ScoringError(spec.instrument, None, f"{name} {total} is outside 0-{spec.max_total}")


def _checked_items(spec: InstrumentSpec, answers: Sequence[object]) -> tuple[int, ...]:
    name = spec.instrument.value
    if not isinstance(answers, list | tuple):
        raise ScoringError(name, None, f"answers must be a list, not {type(answers).__name__}")
    if len(answers) != spec.item_count:
        reason = f"expected {spec.item_count} answers, got {len(answers)}"
        if spec.instrument is Instrument.PHQ9 and len(answers) == spec.item_count + 1:
            reason += " (the difficulty question is not scored: leave it out)"
        raise ScoringError(name, None, reason)
    items: list[int] = []
    for n, value in enumerate(answers, start=1):
        if value is None:
            raise ScoringError(name, n, "is missing (None); a skipped item is never a 0")
        # bool is an int subclass: True would silently count as 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScoringError(
                name, n, f"{value!r} is a {type(value).__name__}, not an int 0-{spec.item_max}"
            )
        if value < 0:
            raise ScoringError(name, n, f"{value} is negative; answers run 0-{spec.item_max}")
        if value > spec.item_max:
            raise ScoringError(name, n, f"{value} is above {spec.item_max}")
        items.append(value)
    return tuple(items)


def _phq9(spec: InstrumentSpec, items: tuple[int, ...]) -> Phq9Score:
    total = sum(items)
    item9 = items[PHQ9_ITEM9 - 1]
    phq2 = sum(items[:SCREENER_ITEMS])
    return Phq9Score(
        items=items,
        total=total,
        band=_band(spec, total),
        item9=item9,
        item9_positive=item9 > 0,
        phq2_total=phq2,
        phq2_positive_ge3=phq2 >= SCREENER_POSITIVE,
    )


def _gad7(spec: InstrumentSpec, items: tuple[int, ...]) -> Gad7Score:
    total = sum(items)
    gad2 = sum(items[:SCREENER_ITEMS])
    return Gad7Score(
        items=items,
        total=total,
        band=_band(spec, total),
        gad2_total=gad2,
        gad2_positive_ge3=gad2 >= SCREENER_POSITIVE,
    )


def _pcl5(spec: InstrumentSpec, items: tuple[int, ...], cutoff: int) -> Pcl5Score:
    _check_total(spec, "cut-off", cutoff)
    total = sum(items)
    sums: dict[str, int] = {}
    rule_met = True
    for cluster, (numbers, needed) in PCL5_CLUSTERS.items():
        ratings = [items[n - 1] for n in numbers]
        sums[cluster] = sum(ratings)
        rule_met &= sum(rating >= PCL5_ENDORSED for rating in ratings) >= needed
    return Pcl5Score(
        items=items,
        total=total,
        cutoff=cutoff,
        provisional_positive=total >= cutoff,
        provisional_positive_ge33=total >= PCL5_DEFAULT_CUTOFF,
        provisional_positive_ge31=total >= PCL5_LENIENT_CUTOFF,
        cluster_b=sums["B"],
        cluster_c=sums["C"],
        cluster_d=sums["D"],
        cluster_e=sums["E"],
        dsm5_symptom_rule_met=rule_met,
    )


def _band(spec: InstrumentSpec, total: int) -> Band:
    band = spec.band(total)
    if band is None:  # pragma: no cover - only called for instruments with bands
        raise AssertionError(f"{spec.instrument} has no band for {total}")
    return band
