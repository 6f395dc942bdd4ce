"""Every default escalation rule, end to end: a history that must fire it and one, close to the
threshold on the safe side, that must not.

Each scenario is a patient's history (earlier days, through the services) and a trigger (the
day that completes or misses the pattern, through the sandbox: commands and button presses),
with days passing on the ManualClock and the bot's due and window scans run as in production.
For "fires" the trigger raises an alert row with the rule and tier, announced tiers reach the
cohort's group with the patient's label and the tier's marker, and the patient sees the right
card; for "quiet" the rule never fires and the group hears nothing new about the patient.
Group wording is left to tests/e2e/test_alert_lifecycle.py: here only the label and the tier
marker are read from group messages, the rest from the alert rows.

The rule ids are read from prompts/escalation.yaml and prompts/rules.yaml, and
``test_every_default_rule_has_a_fires_and_a_quiet_scenario`` fails for a rule without both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from bot.domain.alerts import Tier
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from bot.sandbox.users import SimUser
from storage.models import Alert, Checkin, Patient, SideCheck
from tests.conftest import CONFIG
from tests.e2e.flows import Answers
from tests.e2e.scenario_support import (
    CLINIC_A,
    COHORTS,
    GAD7_ONLY,
    HEART,
    INSTRUMENT_COHORTS,
    NAUSEA,
    PCL5_ONLY,
    PHQ9_ONLY,
    RED_FLAG,
    URINARY_FREQ,
    URINARY_PAIN,
    Card,
    Cohort,
    Day,
    Missed,
    Prompted,
    ScenarioHarness,
    Step,
    card_heading,
    daily,
    drain,
    enrol,
    instruments,
    last_id,
    new_messages,
    plain,
    rule_ids,
    run_step,
    shows_tier,
)
from tests.support.harness import Harness

PATIENT_RULES = rule_ids("escalation.yaml")
ITEM_RULES = rule_ids("rules.yaml")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One rule, one history, one verdict.

    ``tier`` is the rule's tier (for a quiet history, the tier that must not reach the group).
    ``others`` are the rules the history fires besides this one (exactly those: a history that
    also trips something unexpected fails). ``group`` is, for a quiet history, the tier of a
    group message its other rules may announce during the trigger.
    """

    rule: str
    fires: bool
    tier: Tier
    trigger: Step
    history: tuple[Step, ...] = ()
    cohort: Cohort = CLINIC_A
    card: Card = Card.NONE
    others: frozenset[str] = frozenset()
    group: Tier | None = None
    stops: bool = False
    variant: str = ""

    @property
    def id(self) -> str:
        verdict = "fires" if self.fires else "quiet"
        return "-".join(p for p in (self.rule, verdict, self.variant) if p)


def _days(first: int, *taps: Answers) -> tuple[Day, ...]:
    """Check-ins on consecutive days from ``first``, one per tap list."""
    return tuple(Day(first + n, t) for n, t in enumerate(taps))


# Seven calm check-ins (mood 7, anxiety 3): the baseline is their median from day 7 on.
BASELINE = _days(0, *[daily()] * 7)
MILD = frozenset({"side_effect_mild_or_moderate"})
SINGLE_DROP = frozenset({"mood_single_day_drop"})
TOOK_MORE = "Took more than prescribed"
DECLINED = "Prefer not to answer"

URGENT, IMMEDIATE, ROUTINE = Tier.URGENT, Tier.IMMEDIATE, Tier.ROUTINE
FIRES, QUIET = True, False

SCENARIOS = [
    # --- absolute floors ---
    Scenario(
        "mood_low_2_in_a_row",
        FIRES,
        URGENT,
        Day(1, daily(mood=2)),
        _days(0, daily(mood=2)),
    ),
    Scenario(
        "mood_low_2_in_a_row",
        QUIET,
        URGENT,
        Day(1, daily(mood=2)),
        _days(0, daily(mood=3)),
    ),
    Scenario(
        "anxiety_high_2_in_a_row",
        FIRES,
        URGENT,
        Day(1, daily(anxiety=8)),
        _days(0, daily(anxiety=8)),
    ),
    Scenario(
        "anxiety_high_2_in_a_row",
        QUIET,
        URGENT,
        Day(1, daily(anxiety=8)),
        _days(0, daily(anxiety=7)),
    ),
    Scenario(
        "sleep_very_poor_3_in_a_row",
        FIRES,
        ROUTINE,
        Day(2, daily(sleep="Very poor")),
        _days(0, *[daily(sleep="Very poor")] * 2),
    ),
    Scenario(
        "sleep_very_poor_3_in_a_row",
        QUIET,
        ROUTINE,
        Day(2, daily(sleep="Very poor")),
        _days(0, daily(sleep="Poor"), daily(sleep="Very poor")),
    ),
    # --- against the patient's own baseline (7 from day 7 on) ---
    Scenario(
        "mood_below_baseline_2_in_a_row",
        FIRES,
        URGENT,
        Day(8, daily(mood=4)),
        (*BASELINE, Day(7, daily(mood=4))),
        others=SINGLE_DROP,
    ),
    Scenario(
        "mood_below_baseline_2_in_a_row",
        QUIET,
        URGENT,
        Day(8, daily(mood=4)),
        (*BASELINE, Day(7, daily(mood=5))),
        others=SINGLE_DROP,
    ),
    Scenario(
        "mood_below_baseline_3_of_5",
        FIRES,
        URGENT,
        Day(11, daily(mood=4)),
        (*BASELINE, *_days(7, daily(mood=4), daily(), daily(mood=4), daily())),
        others=SINGLE_DROP,
    ),
    Scenario(
        "mood_below_baseline_3_of_5",
        QUIET,
        URGENT,
        Day(11, daily(mood=4)),
        (*BASELINE, *_days(7, daily(mood=4), daily(), daily(mood=5), daily())),
        others=SINGLE_DROP,
    ),
    # Baseline median(7,7,7,7,3,3,3) = 7; the week d1-d7 then averages 35/7 = 5.0 (2 below)
    # with a 5 on day 7, 36/7 = 5.14 with a 6.
    Scenario(
        "mood_week_mean_below_baseline",
        FIRES,
        URGENT,
        Day(7, daily(mood=5)),
        _days(0, *[daily()] * 4, *[daily(mood=3)] * 3),
    ),
    Scenario(
        "mood_week_mean_below_baseline",
        QUIET,
        URGENT,
        Day(7, daily(mood=6)),
        _days(0, *[daily()] * 4, *[daily(mood=3)] * 3),
    ),
    Scenario(
        "anxiety_above_baseline_2_in_a_row",
        FIRES,
        URGENT,
        Day(8, daily(anxiety=6)),
        (*BASELINE, Day(7, daily(anxiety=6))),
    ),
    Scenario(
        "anxiety_above_baseline_2_in_a_row",
        QUIET,
        URGENT,
        Day(8, daily(anxiety=6)),
        (*BASELINE, Day(7, daily(anxiety=5))),
    ),
    Scenario("mood_single_day_drop", FIRES, ROUTINE, Day(7, daily(mood=4)), BASELINE),
    Scenario("mood_single_day_drop", QUIET, ROUTINE, Day(7, daily(mood=5)), BASELINE),
    # --- missed check-ins: prompted at 09:00, closed at local midnight ---
    Scenario("missed_checkins", FIRES, ROUTINE, Missed(1), (Missed(0),), variant="2"),
    Scenario("missed_checkins", FIRES, URGENT, Missed(2), (Missed(0), Missed(1)), variant="3"),
    # A partial day that ended before the safety question (mood given, then the window
    # closed) counts as missed: the day never said the patient is safe.
    Scenario(
        "missed_checkins",
        FIRES,
        URGENT,
        Missed(2),
        (Missed(0), Prompted(1, ("7",), close=True)),
        variant="partial",
    ),
    # So does a day skipped with "Skip today" (not offered at the safety question itself).
    Scenario(
        "missed_checkins",
        FIRES,
        ROUTINE,
        Missed(1),
        (Day(0, ("7", "Skip today")),),
        variant="skipped",
    ),
    # "Prefer not to answer" is an answer: the day breaks the row (and is shown to the team
    # as safety_declined).
    Scenario(
        "missed_checkins",
        QUIET,
        URGENT,
        Missed(2),
        (Missed(0), Prompted(1, daily(safety=DECLINED))),
        others=frozenset({"safety_declined"}),
    ),
    # Took more than prescribed at 23:30 on day 0: day 2 closes 48.5 h later, day 3 72.5 h.
    Scenario(
        "missed_after_urgent_event",
        FIRES,
        URGENT,
        Missed(2),
        (Prompted(0, daily(dose=TOOK_MORE), clock="23:30"), Prompted(1, daily())),
        others=frozenset({"took_more_than_prescribed"}),
    ),
    # Declining the safety question the day after an urgent event counts as a missed day.
    Scenario(
        "missed_after_urgent_event",
        FIRES,
        URGENT,
        Day(1, daily(safety=DECLINED)),
        (Day(0, daily(dose=TOOK_MORE)),),
        others=frozenset({"took_more_than_prescribed", "safety_declined"}),
        variant="declined",
    ),
    Scenario(
        "missed_after_urgent_event",
        QUIET,
        URGENT,
        Missed(3),
        (
            Prompted(0, daily(dose=TOOK_MORE), clock="23:30"),
            Prompted(1, daily()),
            Prompted(2, daily()),
        ),
        others=frozenset({"took_more_than_prescribed"}),
    ),
    # --- dose and side effects ---
    Scenario(
        "dose_missed_3_in_a_row",
        FIRES,
        ROUTINE,
        Day(2, daily(dose="Missed a dose")),
        _days(0, *[daily(dose="Missed a dose")] * 2),
    ),
    Scenario(
        "dose_missed_3_in_a_row",
        QUIET,
        ROUTINE,
        Day(2, daily(dose="Missed a dose")),
        _days(0, daily(dose="Missed a dose"), daily(dose="Took less")),
    ),
    Scenario(
        "urinary_frequency_3_in_7_days",
        FIRES,
        URGENT,
        Day(6, daily(effects=[URINARY_FREQ])),
        _days(0, *[daily(effects=[URINARY_FREQ])] * 2),
        others=MILD,
    ),
    # Days 0, 1 and 7: the third report is one day outside the seven.
    Scenario(
        "urinary_frequency_3_in_7_days",
        QUIET,
        URGENT,
        Day(7, daily(effects=[URINARY_FREQ])),
        _days(0, *[daily(effects=[URINARY_FREQ])] * 2),
        others=MILD,
    ),
    Scenario(
        "side_effect_mild_or_moderate",
        FIRES,
        ROUTINE,
        Day(0, daily(effects=[NAUSEA], bother="Moderate")),
    ),
    Scenario("side_effect_mild_or_moderate", QUIET, ROUTINE, Day(0, daily())),
    # --- weekly instruments on Mondays (days 0, 7, ...; PCL-5 on days 0 and 28) ---
    Scenario(
        "phq9_total_20",
        FIRES,
        URGENT,
        Day(0, instruments(phq9=(3, 3, 3, 3, 3, 3, 2, 0, 0))),
        cohort=PHQ9_ONLY,
    ),
    Scenario(
        "phq9_total_20",
        QUIET,
        URGENT,
        Day(0, instruments(phq9=(3, 3, 3, 3, 3, 3, 1, 0, 0))),
        cohort=PHQ9_ONLY,
    ),
    Scenario(
        "phq9_rise_5",
        FIRES,
        URGENT,
        Day(7, instruments(phq9=(2, 2, 2, 2, 2, 0, 0, 0, 0))),
        (Day(0, instruments(phq9=(1, 1, 1, 1, 1, 0, 0, 0, 0))),),
        cohort=PHQ9_ONLY,
    ),
    Scenario(
        "phq9_rise_5",
        QUIET,
        URGENT,
        Day(7, instruments(phq9=(2, 2, 2, 2, 1, 0, 0, 0, 0))),
        (Day(0, instruments(phq9=(1, 1, 1, 1, 1, 0, 0, 0, 0))),),
        cohort=PHQ9_ONLY,
    ),
    Scenario(
        "gad7_rise_4",
        FIRES,
        URGENT,
        Day(7, instruments(gad7=(2, 2, 2, 1, 0, 0, 0))),
        (Day(0, instruments(gad7=(1, 1, 1, 0, 0, 0, 0))),),
        cohort=GAD7_ONLY,
    ),
    Scenario(
        "gad7_rise_4",
        QUIET,
        URGENT,
        Day(7, instruments(gad7=(2, 2, 1, 1, 0, 0, 0))),
        (Day(0, instruments(gad7=(1, 1, 1, 0, 0, 0, 0))),),
        cohort=GAD7_ONLY,
    ),
    # PCL-5 20 at baseline; 30 four weeks later fires ("either" way), 11 (down 9) does not.
    Scenario(
        "pcl5_change_10",
        FIRES,
        ROUTINE,
        Day(28, instruments(pcl5=(2,) * 10 + (1,) * 10)),
        (Day(0, instruments(pcl5=(1,) * 20)),),
        cohort=PCL5_ONLY,
    ),
    Scenario(
        "pcl5_change_10",
        QUIET,
        ROUTINE,
        Day(28, instruments(pcl5=(1,) * 11 + (0,) * 9)),
        (Day(0, instruments(pcl5=(1,) * 20)),),
        cohort=PCL5_ONLY,
    ),
    # --- relapse (docs/clinical.md, "Relapse signal"): PHQ-9 baseline 12, response 6 on
    # day 7, then 9 and 9 (>= 75% of 12) fires on the second; 9 then 8 is a near miss.
    Scenario(
        "possible_relapse",
        FIRES,
        URGENT,
        Day(21, instruments(phq9=(1, 1, 1, 1, 1, 1, 1, 2, 0))),
        (
            Day(0, instruments(phq9=(2, 2, 2, 2, 2, 1, 1, 0, 0))),
            Day(7, instruments(phq9=(1, 1, 1, 1, 1, 1, 0, 0, 0))),
            Day(14, instruments(phq9=(1, 1, 1, 1, 1, 1, 1, 2, 0))),
        ),
        cohort=PHQ9_ONLY,
    ),
    Scenario(
        "possible_relapse",
        QUIET,
        URGENT,
        Day(21, instruments(phq9=(1, 1, 1, 1, 1, 1, 1, 1, 0))),
        (
            Day(0, instruments(phq9=(2, 2, 2, 2, 2, 1, 1, 0, 0))),
            Day(7, instruments(phq9=(1, 1, 1, 1, 1, 1, 0, 0, 0))),
            Day(14, instruments(phq9=(1, 1, 1, 1, 1, 1, 1, 2, 0))),
        ),
        cohort=PHQ9_ONLY,
    ),
    # --- item-level rules (prompts/rules.yaml): fire at the tap ---
    Scenario(
        "safety_thoughts",
        FIRES,
        URGENT,
        Day(0, daily(safety="Yes", safety_now="No")),
        card=Card.CRISIS,
    ),
    Scenario("safety_thoughts", QUIET, URGENT, Day(0, daily())),
    # "Prefer not to answer": stored as declined, ROUTINE (digest, /alerts, /patient).
    Scenario("safety_declined", FIRES, ROUTINE, Day(0, daily(safety=DECLINED))),
    Scenario("safety_declined", QUIET, ROUTINE, Day(0, daily(safety="No"))),
    Scenario(
        "safety_unsafe_now",
        FIRES,
        IMMEDIATE,
        Day(0, daily(safety="Yes", safety_now="Yes")),
        card=Card.CRISIS,
        others=frozenset({"safety_thoughts"}),
        stops=True,
    ),
    Scenario(
        "safety_unsafe_now",
        QUIET,
        IMMEDIATE,
        Day(0, daily(safety="Yes", safety_now="No")),
        card=Card.CRISIS,
        others=frozenset({"safety_thoughts"}),
        group=URGENT,
    ),
    Scenario(
        "medical_red_flag",
        FIRES,
        IMMEDIATE,
        Day(0, daily(effects=[RED_FLAG])),
        card=Card.EMERGENCY,
        stops=True,
    ),
    Scenario(
        "medical_red_flag",
        QUIET,
        IMMEDIATE,
        Day(0, daily(effects=[HEART])),
        others=MILD,
    ),
    Scenario(
        "urinary_pain_or_blood",
        FIRES,
        URGENT,
        Day(0, daily(effects=[URINARY_PAIN])),
        others=MILD,
    ),
    Scenario(
        "urinary_pain_or_blood",
        QUIET,
        URGENT,
        Day(0, daily(effects=[URINARY_FREQ])),
        others=MILD,
    ),
    Scenario(
        "severe_side_effect",
        FIRES,
        URGENT,
        Day(0, daily(effects=[NAUSEA], bother="Severe")),
    ),
    Scenario(
        "severe_side_effect",
        QUIET,
        URGENT,
        Day(0, daily(effects=[NAUSEA], bother="Moderate")),
        others=MILD,
    ),
    Scenario("took_more_than_prescribed", FIRES, URGENT, Day(0, daily(dose=TOOK_MORE))),
    Scenario("took_more_than_prescribed", QUIET, URGENT, Day(0, daily(dose="Took less"))),
    Scenario(
        "phq9_item9_positive",
        FIRES,
        URGENT,
        Day(0, instruments(phq9=(0,) * 8 + (1,))),
        cohort=PHQ9_ONLY,
        card=Card.CRISIS,
    ),
    Scenario(
        "phq9_item9_positive",
        QUIET,
        URGENT,
        Day(0, instruments(phq9=(2,) * 8 + (0,))),
        cohort=PHQ9_ONLY,
    ),
    # Item 9 = 2-3: URGENT with top priority (its own rule, so the group sees which).
    Scenario(
        "phq9_item9_frequent",
        FIRES,
        URGENT,
        Day(0, instruments(phq9=(0,) * 8 + (2,))),
        cohort=PHQ9_ONLY,
        card=Card.CRISIS,
    ),
    Scenario(
        "phq9_item9_frequent",
        QUIET,
        URGENT,
        Day(0, instruments(phq9=(1,) * 8 + (0,))),
        cohort=PHQ9_ONLY,
    ),
    # Item 9 >= 1, then the D7b follow-up answered yes: IMMEDIATE, no further questions.
    Scenario(
        "phq9_item9_unsafe_now",
        FIRES,
        IMMEDIATE,
        Day(0, instruments(phq9=(0,) * 8 + (1,), phq9_now="Yes")),
        cohort=PHQ9_ONLY,
        card=Card.CRISIS,
        others=frozenset({"phq9_item9_positive"}),
        stops=True,
    ),
    Scenario(
        "phq9_item9_unsafe_now",
        FIRES,
        IMMEDIATE,
        Day(0, instruments(phq9=(0,) * 8 + (3,), phq9_now="Not sure")),
        cohort=PHQ9_ONLY,
        card=Card.CRISIS,
        others=frozenset({"phq9_item9_frequent"}),
        stops=True,
        variant="not-sure",
    ),
    Scenario(
        "phq9_item9_unsafe_now",
        QUIET,
        IMMEDIATE,
        Day(0, instruments(phq9=(0,) * 8 + (1,), phq9_now="No")),
        cohort=PHQ9_ONLY,
        card=Card.CRISIS,
        others=frozenset({"phq9_item9_positive"}),
        group=URGENT,
    ),
]


@dataclass(frozen=True, slots=True)
class SideScenario:
    """A rule on a side check (bot.services.checkin.side_checks): the post-dose check a few hours
    after a scheduled dose (day 0, a Monday, dose at 19:00), or the optional items after the
    day's completed check-in. ``setup`` are provider commands (``{label}`` filled in);
    ``answers`` are button labels, or ``type:TEXT`` for typed text."""

    rule: str
    fires: bool
    tier: Tier
    answers: tuple[str, ...]
    setup: tuple[str, ...] = ("/dosing {label} mon 19:00",)
    day: int = 0
    card: Card = Card.NONE
    others: frozenset[str] = frozenset()
    group: Tier | None = None
    stops: bool = False
    variant: str = ""

    @property
    def post_dose(self) -> bool:
        return any(command.startswith("/dosing") for command in self.setup)

    @property
    def id(self) -> str:
        verdict = "fires" if self.fires else "quiet"
        return "-".join(p for p in (self.rule, verdict, self.variant) if p)


BP_ON = ("/optional {label} bp on",)
BLADDER_ON = ("/optional {label} bladder on",)
BP_CRISIS = frozenset({"home_bp_crisis"})
BP_HIGH = frozenset({"home_bp_high"})
SIDE_SCENARIOS = [
    SideScenario(
        "post_dose_red_flag",
        FIRES,
        IMMEDIATE,
        ("None", "Seizure", "Done"),
        card=Card.EMERGENCY,
        stops=True,
    ),
    SideScenario(
        "post_dose_red_flag",
        QUIET,
        IMMEDIATE,
        ("Dizzy or lightheaded", "Done", "Mild", "None"),
    ),
    SideScenario(
        "post_dose_severe",
        FIRES,
        URGENT,
        ("Still feeling detached, unreal or spacey", "Done", "Severe", "None"),
    ),
    SideScenario(
        "post_dose_severe",
        QUIET,
        URGENT,
        ("Nausea or vomiting", "Done", "Moderate", "None"),
    ),
    SideScenario(
        "home_bp_crisis",
        FIRES,
        IMMEDIATE,
        ("type:180/100",),
        setup=BP_ON,
        card=Card.EMERGENCY,
        others=BP_HIGH,
        stops=True,
    ),
    # After a dose, where home blood pressure is turned on: the check's last item.
    SideScenario(
        "home_bp_crisis",
        FIRES,
        IMMEDIATE,
        ("None", "None", "type:150 121"),
        setup=("/dosing {label} mon 19:00", *BP_ON),
        card=Card.EMERGENCY,
        others=BP_HIGH,
        stops=True,
        variant="post-dose",
    ),
    SideScenario(
        "home_bp_crisis",
        QUIET,
        IMMEDIATE,
        ("type:179/119",),
        setup=BP_ON,
        others=BP_HIGH,
        group=URGENT,
    ),
    SideScenario("home_bp_high", FIRES, URGENT, ("type:140 85",), setup=BP_ON),
    SideScenario("home_bp_high", FIRES, URGENT, ("type:120/90",), setup=BP_ON, variant="dia"),
    SideScenario("home_bp_high", QUIET, URGENT, ("type:139/89",), setup=BP_ON),
    # The bladder screen comes on the first instrument weekday of a month: Monday 2 February.
    SideScenario(
        "bladder_pain_or_blood",
        FIRES,
        URGENT,
        ("Blood in urine", "Done"),
        setup=BLADDER_ON,
        day=21,
    ),
    SideScenario(
        "bladder_pain_or_blood",
        QUIET,
        URGENT,
        ("Pain in the bladder or lower belly", "Needing to urinate urgently or often", "Done"),
        setup=BLADDER_ON,
        day=21,
    ),
]


def test_every_default_rule_has_a_fires_and_a_quiet_scenario() -> None:
    rules = {*PATIENT_RULES, *ITEM_RULES}
    assert len(rules) == len(PATIENT_RULES) + len(ITEM_RULES), "a rule id is used twice"
    every: list[Scenario | SideScenario] = [*SCENARIOS, *SIDE_SCENARIOS]
    fires = {s.rule for s in every if s.fires}
    quiet = {s.rule for s in every if not s.fires}
    assert sorted(rules - fires) == [], "rules without a history that fires them"
    assert sorted(rules - quiet) == [], "rules without a history that must stay quiet"
    assert sorted((fires | quiet) - rules) == [], "scenarios for rules that no longer exist"
    ids = [s.id for s in every]
    assert len(set(ids)) == len(ids)


@pytest.fixture(scope="session", name="scenario_config")
def fx_scenario_config(tmp_path_factory: pytest.TempPathFactory) -> AppConfig:
    # Loading and validating every YAML file for each of ~100 tests adds up; the
    # configuration is immutable, so once is enough.
    path = tmp_path_factory.mktemp("scenarios") / "moodcheck.toml"
    path.write_text(CONFIG + INSTRUMENT_COHORTS)
    config = load_config(path)
    for cohort in COHORTS:  # what the histories assume of each cohort
        settings = config.cohort(cohort.name)
        assert settings.provider_chat_id == cohort.group_id
        assert (settings.timezone, settings.region) == (cohort.zone.key, cohort.region)
        assert (settings.checkin_time, settings.checkin_window_hours) == ("09:00", None)
    return config


@pytest.fixture(name="config")
def fx_config(scenario_config: AppConfig) -> AppConfig:
    return scenario_config


@pytest.fixture(name="scenario_harness")
async def fx_scenario_harness(
    db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    # As tests/e2e/conftest.py's server, with wide rate limits (see SCENARIO_LIMITS).
    server = FakeBotApi(
        bot_username="moodcheck_test_bot",
        limits=Limits(global_per_second=1000, private=(1000, 1.0)),
    )
    await server.start()
    for cohort in COHORTS:
        server.group(cohort.group_id, title=cohort.name)
    harness = ScenarioHarness(server, db_url, config, clock)
    await harness.start_bot()
    yield harness
    await harness.close()
    await server.stop()
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


async def _alerts(h: Harness, patient: Patient) -> list[Alert]:
    return await h.rows(select(Alert).where(Alert.patient_id == patient.id).order_by(Alert.id))


async def _live(h: Harness, s: Scenario, label: str) -> tuple[SimUser, Patient, int, int, int]:
    """Enrol, live the history, snapshot, live the trigger; return the patient and the
    snapshot (last alert id, last patient message id, last group message id)."""
    user = h.server.user(9000, first_name="Pat")
    patient = await enrol(h, user, label, s.cohort)
    for step in s.history:
        await run_step(h, s.cohort, user, step, telegram=False)
    before = await _alerts(h, patient)
    alert_mark = max((a.id for a in before), default=0)
    user_mark = last_id(user.messages)
    group_mark = last_id(h.server.group(s.cohort.group_id).messages)
    await run_step(h, s.cohort, user, s.trigger)
    await drain(h)
    return user, patient, alert_mark, user_mark, group_mark


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_rule_scenario(scenario_harness: Harness, s: Scenario) -> None:
    h = scenario_harness
    label = "P-5CEN"
    user, patient, alert_mark, user_mark, group_mark = await _live(h, s, label)
    alerts = await _alerts(h, patient)
    assert {a.rule for a in alerts} == ({s.rule, *s.others} if s.fires else set(s.others))

    group = [
        m.text
        for m in new_messages(h.server.group(s.cohort.group_id).messages, group_mark)
        if label in m.text
    ]
    if s.fires:
        [fired] = [a for a in alerts if a.rule == s.rule and a.id > alert_mark]
        assert fired.tier == s.tier.value
        if s.tier is Tier.ROUTINE:
            assert group == []  # stored for the digest, not posted
        else:
            assert any(shows_tier(text, s.tier) for text in group), group
    elif s.group is None:
        assert group == []
    else:
        assert group != [] and all(shows_tier(text, s.group) for text in group), group
        assert not any(shows_tier(text, s.tier) for text in group), group

    texts = [m.text for m in new_messages(user.messages, user_mark)]
    for card in (Card.CRISIS, Card.EMERGENCY):
        heading = card_heading(h, card, s.cohort)
        shown = any(heading in text for text in texts)
        assert shown == (card is s.card), f"{card.value} shown: {shown}"

    checkin = await h.scalar(
        select(Checkin).where(Checkin.patient_id == patient.id).order_by(Checkin.id.desc())
    )
    assert checkin is not None
    assert (checkin.status == "stopped") == s.stops  # no further questions
    if isinstance(s.trigger, Missed):
        assert checkin.status == "missed"
        return
    # The check-in's own message ends by saying whether the care team was told: only when an
    # alert went to the group (ROUTINE ones wait for the digest).
    [message] = [m for m in user.messages if m.message_id == checkin.message_id]
    assert message.buttons == []
    done = None
    if s.fires and s.tier is not Tier.ROUTINE:
        done = "checkin_done_team_notified"
    elif not s.others:
        done = "checkin_done"
    if done is not None:
        assert plain(h.runtime.services.runtime.renderer.render(done, "en")) in message.text


ROUTINE_ONLY = next(s for s in SCENARIOS if s.id == "side_effect_mild_or_moderate-fires")


async def test_a_routine_alert_does_not_tell_the_patient_the_team_was_notified(
    scenario_harness: Harness,
) -> None:
    h = scenario_harness
    user, patient, *_ = await _live(h, ROUTINE_ONLY, "P-R0UT")
    [alert] = await _alerts(h, patient)
    assert (alert.rule, alert.tier) == ("side_effect_mild_or_moderate", "ROUTINE")
    assert h.server.group(ROUTINE_ONLY.cohort.group_id).messages == []
    checkin = await h.scalar(select(Checkin).where(Checkin.patient_id == patient.id))
    assert checkin is not None
    [message] = [m for m in user.messages if m.message_id == checkin.message_id]
    renderer = h.runtime.services.runtime.renderer
    assert plain(renderer.render("checkin_done", "en")) in message.text


RELAPSE_FIRES = next(s for s in SCENARIOS if s.id == "possible_relapse-fires")


@pytest.mark.parametrize("restart", [False, True], ids=["one-course", "course-restarted"])
async def test_a_new_course_restarts_the_relapse_baseline(
    scenario_harness: Harness, *, restart: bool
) -> None:
    """The relapse history that fires (baseline 12, response 6, then 9 and 9) stays quiet
    when a provider starts a new course after the baseline: the course's first result (6)
    is the new baseline, too low to count (docs/clinical.md §3.4a)."""
    h = scenario_harness
    s = RELAPSE_FIRES
    label = "P-C0RS"
    user = h.server.user(9002, first_name="Pat")
    patient = await enrol(h, user, label, s.cohort)
    nurse = h.server.group(s.cohort.group_id).member(
        9102, first_name="Nurse", status="administrator"
    )
    first, *rest = s.history
    await run_step(h, s.cohort, user, first, telegram=False)
    if restart:
        h.clock.set(s.cohort.at(3, "12:00"))
        await h.send(nurse, f"/course {label} start")
        await drain(h)
    for step in rest:
        await run_step(h, s.cohort, user, step, telegram=False)
    await run_step(h, s.cohort, user, s.trigger)
    await drain(h)
    rules = {a.rule for a in await _alerts(h, patient)}
    assert ("possible_relapse" in rules) is not restart, rules


@pytest.mark.parametrize("s", SIDE_SCENARIOS, ids=[s.id for s in SIDE_SCENARIOS])
async def test_side_check_rule_scenario(scenario_harness: Harness, s: SideScenario) -> None:
    h = scenario_harness
    label = "P-51DE"
    cohort = CLINIC_A
    user = h.server.user(9001, first_name="Pat")
    patient = await enrol(h, user, label, cohort)
    nurse = h.server.group(cohort.group_id).member(
        9101, first_name="Nurse", status="administrator"
    )
    for command in s.setup:
        await h.send(nurse, command.format(label=label))
        await drain(h)
    if s.post_dose:
        h.clock.set(cohort.at(s.day, "22:00:30"))  # the dose at 19:00, then 3 hours
    else:
        await run_step(h, cohort, user, Day(s.day, daily()), telegram=False)
        h.clock.set(cohort.at(s.day, "10:30"))
    user_mark = last_id(user.messages)
    group_mark = last_id(h.server.group(cohort.group_id).messages)
    await h.runtime.services.side_check_scan.run()
    await drain(h)
    for answer in s.answers:
        if answer.startswith("type:"):
            await h.send(user, answer.removeprefix("type:"))
        else:
            await h.press(user, answer)
        await drain(h)

    alerts = await _alerts(h, patient)
    assert {a.rule for a in alerts} == ({s.rule, *s.others} if s.fires else set(s.others))
    group = [
        m.text
        for m in new_messages(h.server.group(cohort.group_id).messages, group_mark)
        if label in m.text
    ]
    if s.fires:
        [fired] = [a for a in alerts if a.rule == s.rule]
        assert fired.tier == s.tier.value
        assert any(shows_tier(text, s.tier) for text in group), group
    elif s.group is None:
        assert group == []
    else:
        assert group != [] and all(shows_tier(text, s.group) for text in group), group
        assert not any(shows_tier(text, s.tier) for text in group), group
    texts = [m.text for m in new_messages(user.messages, user_mark)]
    for card in (Card.CRISIS, Card.EMERGENCY):
        heading = card_heading(h, card, cohort)
        shown = any(heading in text for text in texts)
        assert shown == (card is s.card), f"{card.value} shown: {shown}"
    [check] = await h.rows(select(SideCheck).where(SideCheck.patient_id == patient.id))
    assert check.status == ("stopped" if s.stops else "answered")
