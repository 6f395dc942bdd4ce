"""``moodcheck demo``: the bot's main job, end to end, on SQLite against the sandbox server.

A scripted patient enrols with an invite link, consents and answers a daily check-in,
including "yes" to the safety question; the due scan then prompts a second patient at their
local time. The chats are printed as a transcript, the provider group's included.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bot.app import build
from bot.config import AppConfig, CohortConfig
from bot.domain.clock import SystemClock
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.migrate import upgrade_async

GROUP_ID = -100_200_300
PATIENT_ID = 7_001
SECOND_PATIENT_ID = 7_002


def _say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the demo's output is its transcript


async def _until(server: FakeBotApi, predicate: Callable[[], bool], what: str) -> None:
    try:
        await server.wait_for(predicate, timeout=10.0)
    except TimeoutError:
        raise SystemExit(f"demo: timed out waiting for {what}") from None


async def run_demo(*, keep: bool = False) -> int:
    """Run the scripted demo and print its transcript; return the exit code."""
    folder = Path("demo-output") if keep else Path(tempfile.mkdtemp(prefix="moodcheck-demo-"))
    folder.mkdir(exist_ok=True)
    database = folder / "demo.db"
    database.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_async(url)

    server = FakeBotApi(bot_username="moodcheck_demo_bot")
    await server.start()
    cohort = CohortConfig(
        name="demo-clinic",
        provider_chat_id=GROUP_ID,
        timezone="Europe/London",
        locale="en",
        region="UK",
        checkin_time="09:00",
    )
    config = AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )
    settings = Settings(
        telegram_token=server.token,  # type: ignore[arg-type]
        database_url=url,
        telegram_base_url=server.base_url,
    )
    clock = SystemClock()
    bot = build(settings, config, clock=clock, scan_interval=None)
    group = server.group(GROUP_ID, title="Demo clinic providers")
    patient = server.user(PATIENT_ID, first_name="Alex", language_code="en")
    second = server.user(SECOND_PATIENT_ID, first_name="Sam", language_code="en")
    await bot.start(poll_timeout=1)
    try:
        _say(f"Sandbox Bot API on {server.base_url}; database {database}\n")
        link = await bot.services.enrolment.create_invite("demo-clinic", "P-7Q3K", "operator")
        _say("operator: moodcheck invite --cohort demo-clinic --label P-7Q3K")
        _say(f"  {link.url('moodcheck_demo_bot')}\n")

        await patient.send_text(f"/start {link.code}")
        await _until(server, lambda: patient.has_button("I agree"), "the consent message")
        await patient.press("I agree")
        await _until(server, lambda: "enrolled" in patient.last_message.text, "enrolment")

        await patient.send_text("/checkin")
        await _until(server, lambda: patient.has_button("10"), "the first question")
        for label, expect in (
            ("6", "anxious"),
            ("4", "sleep"),
            ("OK", "thoughts"),
            ("Yes", "done"),
        ):
            await patient.press(label)
            await _until(server, lambda e=expect: e in patient.last_edited_text(), f"'{expect}'")
        await _until(server, lambda: len(group.messages) >= 1, "the provider alert")

        second_link = await bot.services.enrolment.create_invite(
            "demo-clinic", "P-4M2X", "operator"
        )
        await second.send_text(f"/start {second_link.code}")
        await _until(server, lambda: second.has_button("I agree"), "the second consent")
        await second.press("I agree")
        await _until(server, lambda: "enrolled" in second.last_message.text, "second enrolment")
        # The due scan runs every 30 s in production; here it runs once at the patients'
        # next 09:00 (Europe/London) so the demo need not wait for tomorrow morning.
        async with bot.services.runtime.uow() as uow:
            row = await uow.patients.by_telegram_user(SECOND_PATIENT_ID)
            if row is None or row.next_prompt_at is None:
                raise SystemExit("demo: the second patient was not enrolled")
            due_at = row.next_prompt_at
        queued = await bot.services.due_scan.run(now=due_at + timedelta(seconds=5))
        await _until(server, lambda: second.has_button("10"), "the scheduled prompt")
        _say(f"due scan at {due_at:%Y-%m-%d %H:%M} UTC queued {queued} prompt(s)\n")
    finally:
        await bot.stop()
        _say(server.render_transcript())
        await server.stop()
    _say(f"\nDatabase kept at {database}" if keep else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run_demo()))
