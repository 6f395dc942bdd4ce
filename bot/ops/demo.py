"""``moodcheck demo``: the bot's main job, end to end, on SQLite against the sandbox server.

A scripted patient enrols with an invite link, consents and answers a daily check-in,
including "yes" to the safety question; the due scan then prompts a second patient at their
local time. The chats are printed as a transcript, the provider group's included.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import BotRuntime, build
from bot.cohort_config import CohortConfig, CoverageConfig
from bot.config import AppConfig
from bot.data_keys import create_key_file
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.sandbox.users import SimUser
from bot.settings import Settings
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.rules import load_rules
from storage.migrate import upgrade_async

BOT_USERNAME = "moodcheck_demo_bot"
GROUP_ID = -100_200_300


def _say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the demo's output is its transcript


async def _until(server: FakeBotApi, predicate: Callable[[], object], what: str) -> None:
    try:
        await server.wait_for(predicate, timeout=10.0)
    except TimeoutError:
        raise SystemExit(f"demo: timed out waiting for {what}") from None


def _has_button(user: SimUser, label: str) -> bool:
    message = user.last_message
    return message is not None and label in message.labels


def _last_text(user: SimUser) -> str:
    message = user.last_message
    return message.text if message is not None else ""


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="demo-clinic",
        provider_chat_id=GROUP_ID,
        timezone="Europe/London",
        locale="en",
        region="UK",
        coverage=CoverageConfig(
            days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00"
        ),
        checkin_time="09:00",
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


async def _enrol(bot: BotRuntime, server: FakeBotApi, user: SimUser, label: str) -> None:
    link = await bot.services.enrolment.create_invite("demo-clinic", label, "operator")
    _say(f"operator: moodcheck invite --cohort demo-clinic --label {label}")
    _say(f"  {link.url(BOT_USERNAME)}")
    await user.send_text(f"/start {link.code}")
    await _until(server, lambda: _has_button(user, "I agree"), "the consent message")
    await user.press("I agree")
    await _until(server, lambda: "enrolled" in _last_text(user), "enrolment")


async def _script(bot: BotRuntime, server: FakeBotApi, clock: ManualClock) -> None:
    patient = server.user(7_001, first_name="Alex", language_code="en")
    second = server.user(7_002, first_name="Sam", language_code="en")
    await _enrol(bot, server, patient, "P-7Q3K")
    await patient.send_text("/checkin")
    await _until(server, lambda: _has_button(patient, "10"), "the first question")
    steps = (
        ("6", "anxious"),
        ("4", "sleep"),
        ("OK", "energy"),
        ("Low", "medication"),
        ("As prescribed", "Tick all"),
        ("Headache", "✅"),
        ("Done", "bother"),
        ("Mild", "thoughts"),
        ("Yes", "acting on"),
        ("No", "done"),
    )
    for label, expect in steps:
        await patient.press(label)

        def shows(text: str = expect) -> bool:
            return any(
                text in message.text or any(text in label for label in message.labels)
                for message in patient.messages[-2:]
            )

        await _until(server, shows, f"'{expect}'")
    await _until(server, lambda: server.group(GROUP_ID).messages, "the provider alert")

    await _enrol(bot, server, second, "P-4M2X")
    # The JobQueue runs the due scan every 30 s. Here the bot's clock jumps to the patients'
    # next 09:00 (Europe/London) and the scan runs once, so the demo need not wait a night.
    async with bot.services.runtime.uow() as uow:
        row = await uow.patients.by_telegram_user(second.chat_id)
        if row is None or row.next_prompt_at is None:
            raise SystemExit("demo: the second patient was not enrolled")
        due_at = row.next_prompt_at
    clock.set(due_at + timedelta(seconds=5))
    queued = await bot.services.due_scan.run()
    await _until(server, lambda: _has_button(second, "10"), "the scheduled prompt")
    _say(
        f"\ndue scan at {due_at:%Y-%m-%d %H:%M} UTC (the bot's clock moved there) "
        f"queued {queued} prompt(s)\n"
    )


async def run_demo(*, keep: bool = False) -> int:
    """Run the scripted demo and print its transcript; return the exit code."""
    folder = Path("demo-output") if keep else Path(tempfile.mkdtemp(prefix="moodcheck-demo-"))
    folder.mkdir(exist_ok=True)
    database = folder / "demo.db"
    database.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{database}"
    keys = database.with_name(f"{database.name}.keys")
    keys.unlink(missing_ok=True)
    # As `moodcheck db upgrade` on a new install: a data key file beside the database.
    create_key_file(keys)
    await upgrade_async(url)
    server = FakeBotApi(bot_username=BOT_USERNAME)
    await server.start()
    server.group(GROUP_ID, title="Demo clinic providers")
    settings = Settings(
        telegram_token=server.token, database_url=url, telegram_base_url=server.base_url
    )
    # Noon UTC today, whatever the time of the run: both patients then enrol after their
    # 09:00 (London), so the scan at the next 09:00 prompts both, every time the demo runs.
    clock = ManualClock(datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0))
    bot = build(settings, _config(), clock=clock, scan_interval=None)
    await bot.start(poll_timeout=1)
    try:
        _say(f"Sandbox Bot API on {server.base_url}; database {database}\n")
        await _script(bot, server, clock)
    finally:
        await bot.stop()
        _say(server.render_transcript())
        await server.stop()
    if server.violations:
        _say(f"\n{len(server.violations)} invalid Bot API request(s): {server.violations}")
        return 1
    if keep:
        _say(f"\nDatabase kept at {database}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run_demo()))
