"""Scoring of the PHQ-9, GAD-7 and PCL-5 (docs/clinical.md §2): bands, flags, change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.instruments import SPECS, Band, Instrument
from bot.domain.scoring import (
    Gad7Score,
    Pcl5Score,
    Phq9Score,
    ScoringError,
    answers_from_values,
    change,
    score,
)

# Final keeps the Literal member types, so score() is typed per instrument below.
PHQ9: Final = Instrument.PHQ9
GAD7: Final = Instrument.GAD7
PCL5: Final = Instrument.PCL5


def with_total(instrument: Instrument, total: int, order: Sequence[int] = ()) -> list[int]:
    """Answers reaching ``total``, filling items (1-based) in ``order`` first, then the rest."""
    spec = SPECS[instrument]
    items = [0] * spec.item_count
    sequence = [*order, *(n for n in range(1, spec.item_count + 1) if n not in order)]
    left = total
    for n in sequence:
        items[n - 1] = min(spec.item_max, left)
        left -= items[n - 1]
    assert left == 0
    return items


def pcl5(ratings: dict[int, int], default: int = 0) -> list[int]:
    """PCL-5 answers: ``default`` everywhere except the 1-based items given."""
    return [ratings.get(n, default) for n in range(1, 21)]


# --- PHQ-9 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, Band.MINIMAL),
        (4, Band.MINIMAL),
        (5, Band.MILD),
        (9, Band.MILD),
        (10, Band.MODERATE),
        (14, Band.MODERATE),
        (15, Band.MODERATELY_SEVERE),
        (19, Band.MODERATELY_SEVERE),
        (20, Band.SEVERE),
        (27, Band.SEVERE),
    ],
)
def test_phq9_band_edges(total: int, band: Band) -> None:
    # Fill items 3-8 first so the item 9 and PHQ-2 flags stay off where the total allows.
    result = score(PHQ9, with_total(PHQ9, total, order=[3, 4, 5, 6, 7, 8]))
    assert isinstance(result, Phq9Score)
    assert (result.total, result.band) == (total, band)


def test_phq9_item9_positive_with_a_minimal_total() -> None:
    result = score(PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.total == 1
    assert result.band is Band.MINIMAL
    assert result.item9 == 1
    assert result.item9_positive


def test_phq9_severe_with_item9_zero() -> None:
    result = score(PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert (result.total, result.band) == (24, Band.SEVERE)
    assert result.item9 == 0
    assert not result.item9_positive


@pytest.mark.parametrize("item9", [0, 1, 2, 3])
def test_phq9_item9_value_is_reported(item9: int) -> None:
    result = score(PHQ9, [0] * 8 + [item9])
    assert result.item9 == item9
    assert result.item9_positive is (item9 > 0)


@pytest.mark.parametrize(
    ("item1", "item2", "phq2", "positive"),
    [(0, 0, 0, False), (1, 1, 2, False), (2, 0, 2, False), (2, 1, 3, True), (0, 3, 3, True),
     (3, 3, 6, True)],
)  # fmt: skip
def test_phq2(item1: int, item2: int, phq2: int, positive: bool) -> None:
    result = score(PHQ9, [item1, item2, 0, 0, 0, 0, 0, 0, 0])
    assert (result.phq2_total, result.phq2_positive_ge3) == (phq2, positive)


def test_phq2_ignores_the_other_items() -> None:
    result = score(PHQ9, [1, 1, 3, 3, 3, 3, 3, 3, 3])
    assert (result.phq2_total, result.phq2_positive_ge3) == (2, False)


# --- GAD-7 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, Band.MINIMAL),
        (4, Band.MINIMAL),
        (5, Band.MILD),
        (9, Band.MILD),
        (10, Band.MODERATE),
        (14, Band.MODERATE),
        (15, Band.SEVERE),
        (21, Band.SEVERE),
    ],
)
def test_gad7_band_edges(total: int, band: Band) -> None:
    result = score(GAD7, with_total(GAD7, total, order=[3, 4, 5, 6, 7]))
    assert isinstance(result, Gad7Score)
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("item1", "item2", "gad2", "positive"),
    [(0, 0, 0, False), (1, 1, 2, False), (0, 2, 2, False), (1, 2, 3, True), (3, 0, 3, True),
     (3, 3, 6, True)],
)  # fmt: skip
def test_gad2(item1: int, item2: int, gad2: int, positive: bool) -> None:
    result = score(GAD7, [item1, item2, 3, 3, 3, 3, 3])
    assert (result.gad2_total, result.gad2_positive_ge3) == (gad2, positive)


# --- PCL-5 -------------------------------------------------------------------------------

# Exactly the DSM-5 minimum: 1 B (item 1), 1 C (item 6), 2 D (8, 9), 2 E (15, 16), each at 2.
DSM_MINIMUM = {1: 2, 6: 2, 8: 2, 9: 2, 15: 2, 16: 2}


@pytest.mark.parametrize(
    ("answers", "total", "ge31", "ge33", "rule"),
    [
        # The DSM minimum plus 1s everywhere else (14 items), then items 1 and 6 raised.
        (pcl5({**DSM_MINIMUM, 1: 4, 6: 4}, default=1), 30, False, False, True),
        (pcl5({**DSM_MINIMUM, 1: 4, 6: 4, 8: 3, 15: 3}, default=1), 32, True, False, True),
        (pcl5({**DSM_MINIMUM, 1: 4, 6: 4, 8: 3, 15: 3, 16: 3}, default=1), 33, True, True, True),
        # No cluster C item at 2 or more: the rule fails whatever the total.
        (pcl5({1: 4, 2: 4, 3: 4, 4: 2}, default=1), 30, False, False, False),
        (pcl5({1: 4, 2: 4, 3: 4, 4: 4}, default=1), 32, True, False, False),
        (pcl5({1: 4, 2: 4, 3: 4, 4: 4, 5: 2}, default=1), 33, True, True, False),
        (pcl5({1: 4, 2: 4, 3: 4, 4: 4, 5: 4, 6: 0, 7: 0}, default=2), 46, True, True, False),
    ],
)
def test_pcl5_cutoffs_and_dsm_rule(
    answers: list[int], total: int, ge31: bool, ge33: bool, rule: bool
) -> None:
    result = score(PCL5, answers)
    assert isinstance(result, Pcl5Score)
    assert result.total == total
    assert (result.provisional_positive_ge31, result.provisional_positive_ge33) == (ge31, ge33)
    assert result.provisional_positive is ge33
    assert result.cutoff == 33
    assert result.dsm5_symptom_rule_met is rule
    assert result.band is None


def test_pcl5_dsm_rule_met_at_a_low_total() -> None:
    result = score(PCL5, pcl5(DSM_MINIMUM))
    assert result.total == 12
    assert result.dsm5_symptom_rule_met
    assert not result.provisional_positive_ge31


@pytest.mark.parametrize(
    "missing",
    [
        {1: 1},  # B: its only endorsed item drops to 1
        {6: 1},  # C
        {9: 1},  # D needs two
        {16: 1},  # E needs two
    ],
)
def test_pcl5_dsm_rule_needs_every_cluster(missing: dict[int, int]) -> None:
    result = score(PCL5, pcl5({**DSM_MINIMUM, **missing}, default=1))
    assert not result.dsm5_symptom_rule_met


def test_pcl5_clusters() -> None:
    # Each item rated with its cluster's letter index: B=1, C=2, D=3, E=4.
    answers = [1] * 5 + [2] * 2 + [3] * 7 + [4] * 6
    result = score(PCL5, answers)
    assert (result.cluster_b, result.cluster_c, result.cluster_d, result.cluster_e) == (
        5,
        4,
        21,
        24,
    )
    assert result.total == 54


def test_pcl5_configurable_cutoff() -> None:
    answers = pcl5({**DSM_MINIMUM, 1: 4, 6: 4, 8: 3, 15: 3}, default=1)  # total 32
    assert not score(PCL5, answers).provisional_positive
    lenient = score(PCL5, answers, pcl5_cutoff=31)
    assert lenient.provisional_positive
    assert lenient.cutoff == 31
    assert not lenient.provisional_positive_ge33


@pytest.mark.parametrize("cutoff", [-1, 81, True, 33.0, "33"])
def test_pcl5_bad_cutoff(cutoff: object) -> None:
    with pytest.raises(ScoringError, match="cut-off"):
        score(PCL5, [0] * 20, pcl5_cutoff=cutoff)  # type: ignore[call-overload]


# --- invalid input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "item", "message"),
    [
        (PHQ9, [0] * 10, None, "expected 9 answers, got 10 .*difficulty"),
        (PHQ9, [0] * 8, None, "expected 9 answers, got 8"),
        (PHQ9, [], None, "expected 9 answers, got 0"),
        (GAD7, [0] * 9, None, "expected 7 answers, got 9"),
        (PCL5, [0] * 19, None, "expected 20 answers, got 19"),
        (PCL5, [0] * 21, None, "expected 20 answers, got 21"),
        (PHQ9, [0, 0, 0, 4, 0, 0, 0, 0, 0], 4, "4 is above 3"),
        (GAD7, [0, 0, 0, 0, 0, 0, 4], 7, "4 is above 3"),
        (PCL5, [0] * 19 + [5], 20, "5 is above 4"),
        (PHQ9, [0] * 8 + [-1], 9, "negative"),
        (PCL5, [-3] + [0] * 19, 1, "negative"),
        (PHQ9, [None] + [0] * 8, 1, "missing"),
        (GAD7, [0, 0, None, 0, 0, 0, 0], 3, "missing"),
        (PHQ9, [0, 1.0, 0, 0, 0, 0, 0, 0, 0], 2, "float"),
        (GAD7, [0, 0, 0, 0, 1.5, 0, 0], 5, "float"),
        (PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, "2"], 9, "str"),
        (PCL5, ["0"] * 20, 1, "str"),
        (PHQ9, [True] + [0] * 8, 1, "bool"),
        (GAD7, [0] * 6 + [False], 7, "bool"),
        (PCL5, [0] * 10 + [True] + [0] * 9, 11, "bool"),
        (PHQ9, "000000000", None, "must be a list"),
        (PHQ9, None, None, "must be a list"),
        (GAD7, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0}, None, "must be a list"),
        (GAD7, range(7), None, "must be a list"),
    ],
)
def test_invalid_answers_are_refused(
    instrument: Instrument, answers: object, item: int | None, message: str
) -> None:
    with pytest.raises(ScoringError, match=message) as caught:
        score(instrument, answers)  # type: ignore[call-overload]
    assert isinstance(caught.value, ValueError)
    assert caught.value.item == item
    assert caught.value.instrument == instrument
    if item is not None:
        assert f"item {item}:" in str(caught.value)


def test_unknown_instrument() -> None:
    with pytest.raises(ScoringError, match="not a scored instrument"):
        score("bdi2", [0] * 21)  # type: ignore[call-overload]


def test_plain_instrument_ids_are_accepted() -> None:
    assert score("gad7", [1] * 7).total == 7  # type: ignore[call-overload]


# --- stored values -------------------------------------------------------------------------


def test_answers_from_values_ignores_the_difficulty_answer() -> None:
    values = {f"phq9_{n}": str(n % 4) for n in range(1, 10)} | {"difficulty": "very"}
    answers = answers_from_values(PHQ9, values)
    assert answers == (1, 2, 3, 0, 1, 2, 3, 0, 1)
    assert score(PHQ9, answers).total == 13


@pytest.mark.parametrize(
    ("values", "item", "message"),
    [
        ({f"gad7_{n}": "1" for n in range(1, 7)}, 7, "not answered"),
        ({f"gad7_{n}": "1" for n in range(1, 8)} | {"gad7_2": "x"}, 2, "not a score"),
        ({f"gad7_{n}": "1" for n in range(1, 8)} | {"gad7_3": " 2"}, 3, "not a score"),
        ({f"gad7_{n}": "1" for n in range(1, 8)} | {"gad7_4": "-1"}, 4, "not a score"),
        ({f"gad7_{n}": "1" for n in range(1, 8)} | {"gad7_5": ""}, 5, "not a score"),
    ],
)
def test_answers_from_values_refuses(values: dict[str, str], item: int, message: str) -> None:
    with pytest.raises(ScoringError, match=message) as caught:
        answers_from_values(GAD7, values)
    assert caught.value.item == item


def test_out_of_range_stored_values_are_caught_by_score() -> None:
    values = {f"gad7_{n}": "0" for n in range(1, 8)} | {"gad7_6": "9"}
    with pytest.raises(ScoringError, match="item 6: 9 is above 3"):
        score(GAD7, answers_from_values(GAD7, values))


# --- change against baseline -------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "baseline", "current", "expected"),
    [
        (PHQ9, 20, 10, (True, False, False, True)),  # exactly 50%: a response
        (PHQ9, 20, 11, (False, False, False, True)),
        (PHQ9, 21, 10, (True, False, False, True)),
        (PHQ9, 21, 11, (False, False, False, True)),  # 47.6%
        (PHQ9, 10, 4, (True, True, False, True)),
        (PHQ9, 12, 5, (True, False, False, True)),  # 5 is not below 5
        (PHQ9, 4, 4, (False, True, False, False)),
        (PHQ9, 1, 0, (True, True, False, False)),
        (PHQ9, 0, 0, (None, True, False, False)),  # baseline 0: response undefined
        (PHQ9, 0, 5, (None, False, True, False)),
        (PHQ9, 5, 9, (False, False, False, False)),  # +4: under the MID
        (PHQ9, 5, 10, (False, False, True, False)),  # +5: the MID
        (PHQ9, 15, 11, (False, False, False, False)),  # -4
        (PHQ9, 15, 10, (False, False, False, True)),  # -5
        (PHQ9, 27, 0, (True, True, False, True)),
        (PHQ9, 0, 27, (None, False, True, False)),
        (GAD7, 10, 5, (True, None, False, True)),
        (GAD7, 10, 6, (False, None, False, True)),  # -4: the MID
        (GAD7, 10, 7, (False, None, False, False)),  # -3
        (GAD7, 6, 10, (False, None, True, False)),  # +4
        (GAD7, 6, 9, (False, None, False, False)),  # +3
        (GAD7, 0, 3, (None, None, False, False)),
        (GAD7, 0, 4, (None, None, True, False)),
        (GAD7, 21, 0, (True, None, False, True)),
        (PCL5, 40, 30, (False, None, False, True)),  # -10: flagged for review
        (PCL5, 40, 31, (False, None, False, False)),  # -9
        (PCL5, 30, 40, (False, None, True, False)),
        (PCL5, 40, 20, (True, None, False, True)),
        (PCL5, 0, 9, (None, None, False, False)),
    ],
)
def test_change(
    instrument: Instrument,
    baseline: int,
    current: int,
    expected: tuple[bool | None, bool | None, bool, bool],
) -> None:
    """``expected`` is (response, remission, MID worsening, MID improvement)."""
    result = change(instrument, baseline, current)
    response, remission, worse, better = expected
    assert result.response is response
    assert result.remission is remission
    assert (result.mid_worsening, result.mid_improvement) == (worse, better)
    assert result.delta == current - baseline
    assert result.mid == {PHQ9: 5, GAD7: 4, PCL5: 10}[instrument]


@pytest.mark.parametrize(
    ("instrument", "baseline", "current", "message"),
    [
        (PHQ9, 28, 0, "baseline total 28 is outside 0-27"),
        (PHQ9, 0, -1, "current total -1 is outside 0-27"),
        (GAD7, 22, 0, "outside 0-21"),
        (PCL5, 0, 81, "outside 0-80"),
        (PHQ9, True, 0, "not an int"),
        (PHQ9, 10, 5.0, "not an int"),
        (PHQ9, None, 5, "not an int"),
        (PHQ9, "10", 5, "not an int"),
    ],
)
def test_change_refuses_bad_totals(
    instrument: Instrument, baseline: object, current: object, message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        change(instrument, baseline, current)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------


@st.composite
def valid(draw: st.DrawFn) -> tuple[Instrument, list[int]]:
    instrument = draw(st.sampled_from(list(Instrument)))
    spec = SPECS[instrument]
    items = st.integers(0, spec.item_max)
    return instrument, draw(st.lists(items, min_size=spec.item_count, max_size=spec.item_count))


@given(valid())
def test_total_is_the_sum_and_in_range(case: tuple[Instrument, list[int]]) -> None:
    instrument, answers = case
    result = score(instrument, answers)
    spec = SPECS[instrument]
    assert result.total == sum(answers)
    assert 0 <= result.total <= spec.max_total
    assert result.items == tuple(answers)
    assert result.band == spec.band(result.total)
    assert (result.band is None) is (instrument is PCL5)
    if isinstance(result, Pcl5Score):
        clusters = result.cluster_b + result.cluster_c + result.cluster_d + result.cluster_e
        assert clusters == result.total


@given(valid(), st.data())
def test_raising_an_item_never_lowers_anything(
    case: tuple[Instrument, list[int]], data: st.DataObject
) -> None:
    instrument, answers = case
    spec = SPECS[instrument]
    raisable = [i for i, value in enumerate(answers) if value < spec.item_max]
    if not raisable:
        return
    i = data.draw(st.sampled_from(raisable))
    higher = list(answers)
    higher[i] += data.draw(st.integers(1, spec.item_max - answers[i]))
    before, after = score(instrument, answers), score(instrument, higher)
    assert after.total > before.total
    if before.band is not None:
        assert after.band is not None
        assert after.band.rank >= before.band.rank
    flags = {
        Phq9Score: ("item9_positive", "phq2_positive_ge3"),
        Gad7Score: ("gad2_positive_ge3",),
        Pcl5Score: (
            "provisional_positive",
            "provisional_positive_ge31",
            "dsm5_symptom_rule_met",
        ),
    }[type(before)]
    for flag in flags:
        assert getattr(after, flag) >= getattr(before, flag), flag


INVALID_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.integers(max_value=-1),
    st.integers(min_value=5),
    st.just([1]),
)


@given(valid(), st.data())
def test_any_invalid_item_raises(case: tuple[Instrument, list[int]], data: st.DataObject) -> None:
    instrument, answers = case
    spec = SPECS[instrument]
    i = data.draw(st.integers(0, spec.item_count - 1))
    bad: list[object] = list(answers)
    bad[i] = data.draw(INVALID_VALUES)
    with pytest.raises(ScoringError) as caught:
        score(instrument, bad)
    assert caught.value.item == i + 1


@given(valid(), st.integers(0, 25))
def test_any_wrong_length_raises(case: tuple[Instrument, list[int]], length: int) -> None:
    instrument, answers = case
    if length == len(answers):
        return
    resized = (answers * 3)[:length]
    with pytest.raises(ScoringError, match="answers, got"):
        score(instrument, resized)


@given(valid())
def test_stored_values_round_trip(case: tuple[Instrument, list[int]]) -> None:
    instrument, answers = case
    spec = SPECS[instrument]
    values = {item_id: str(v) for item_id, v in zip(spec.item_ids(), answers, strict=True)}
    assert answers_from_values(instrument, values) == tuple(answers)


@given(
    st.sampled_from(list(Instrument)).flatmap(
        lambda i: st.tuples(
            st.just(i), st.integers(0, SPECS[i].max_total), st.integers(0, SPECS[i].max_total)
        )
    )
)
def test_change_is_consistent(case: tuple[Instrument, int, int]) -> None:
    instrument, baseline, current = case
    result = change(instrument, baseline, current)
    assert not (result.mid_worsening and result.mid_improvement)
    if result.response:
        assert current <= baseline / 2
    if result.mid_improvement:
        assert baseline - current >= result.mid
    if result.mid_worsening:
        assert result.response is not True
