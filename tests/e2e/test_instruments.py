"""Weekly instruments (cohort clinic-d: PHQ-9 and GAD-7 on Mondays, PCL-5 every 4 weeks),
asked after the daily items in the patient's usual check-in."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.domain.instruments import Band, Instrument
from bot.domain.scoring import answers_from_values, score
from storage.models import Alert, Answer, Checkin
from tests.e2e.conftest import GROUP_D
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last, message, press_all
from tests.support.harness import Harness

# Item 9 = 1, its D7b follow-up answered "No", then the difficulty question.
PHQ9 = ["Several days"] * 8 + ["Several days", "No", "Somewhat difficult"]
GAD7 = ["More than half the days"] * 7


async def test_monday_checkin_carries_phq9_gad7_and_pcl5_and_scores_them(
    harness: Harness,
) -> None:
    h = harness
    user = h.server.user(7001, first_name="Wren")
    await enrol(h, user, "P-7001", cohort="clinic-d")  # enrolled on Monday 2026-01-12
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    # 7 daily items, 10 PHQ-9 (with the unscored difficulty question), 7 GAD-7, 20 PCL-5.
    assert "1/44" in last(user).text
    await answer_all(h, user, CALM_DAY)
    assert "Over the last 2 weeks" in last(user).text and "8/44" in last(user).text
    await press_all(h, user, PHQ9)
    await press_all(h, user, GAD7)
    await press_all(h, user, ["A little bit"] * 20)
    assert "done" in message(user, checkin_message).text
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "completed"
    assert checkin.questionnaire == "daily+phq9+gad7+pcl5"
    values = dict(await h.rows(select(Answer.item_id, Answer.value)))
    phq9 = score(Instrument.PHQ9, answers_from_values(Instrument.PHQ9, values))
    gad7 = score(Instrument.GAD7, answers_from_values(Instrument.GAD7, values))
    pcl5 = score(Instrument.PCL5, answers_from_values(Instrument.PCL5, values))
    assert (phq9.total, phq9.band, phq9.item9_positive) == (9, Band.MILD, True)
    assert (gad7.total, gad7.band) == (14, Band.MODERATE)
    assert pcl5.total == 20 and not pcl5.provisional_positive
    assert values["difficulty"] == "somewhat"
    # Item 9 above 0 is URGENT whatever the total, with the crisis card.
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("phq9_item9_positive", "URGENT")
    assert any("116 123" in m.text for m in user.messages)  # UK card
    assert "PHQ-9 item 9" in h.server.group(GROUP_D).messages[0].text
    # The patient is never shown a score, a band or an interpretation.
    for m in user.messages:
        for word in ("score", "mild", "moderate", "band", "/27", "depress"):
            assert word not in m.text.lower() or (word == "depress" and "depressed" in m.text)


async def test_other_days_and_other_weeks(harness: Harness) -> None:
    h = harness
    user = h.server.user(7002, first_name="Tue")
    await enrol(h, user, "P-7002", cohort="clinic-d")
    h.clock.set(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))  # Tuesday: daily items only
    await h.send(user, "/checkin")
    assert "1/7" in last(user).text
    h.clock.set(datetime(2026, 1, 19, 10, 0, tzinfo=UTC))  # next Monday: no PCL-5 this week
    await h.send(user, "/checkin")
    assert "1/24" in last(user).text
    rows = await h.rows(select(Checkin.local_date, Checkin.questionnaire).order_by(Checkin.id))
    assert [q for _, q in rows] == ["daily", "daily+phq9+gad7"]
