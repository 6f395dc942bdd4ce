"""The patients' side of ``bench/taps.py``: the sandbox Bot API server plus simulated patients
who press check-in buttons, in a process of their own (so that the bot keeps its core).

Driven over stdin/stdout, one JSON object per line. It prints ``SANDBOX_PORT=<port>`` once
listening, then answers each command with one line:

* ``{"cmd": "wait_prompts", "users": [...], "timeout": 60}``: wait until every user has a
  message with buttons (the check-in prompt); answers ``{"ok": true}``.
* ``{"cmd": "run", "users": [...], "rate": 100, "duration": 20}``: open loop, a press every
  ``1/rate`` s handed to the patient who has waited longest since their last edit (and thought
  for 1-2 s); ``"rate": null`` for a closed loop where every patient presses again 1-2 s after
  each edit. Answers the timings of every tap.
* ``{"cmd": "mark"}``: answers the server's clock (``"now"``), to time what the bot starts
  next (``bench/taps_under_fanout.py``: a fan-out).
* ``{"cmd": "prompts", "users": [...], "timeout": 120}``: wait until every user has had a
  first message; answers when each came (``"times"``, the server's clock) and how many had
  none (``"missing"``).
* ``{"cmd": "quit"}``.

``--telegram-limits``: the server enforces Telegram's overall 30 messages/s too (sends
only; edits count in their chat's limit, as in ``bot.sandbox.limits``); by default only the
per-chat limits. ``--edits-count-overall`` with it: edits count in the overall 30/s too (a
Telegram that did so: how the bot copes if we read Telegram wrong).

The latency of a tap is measured on the server's own clock, between its transcript events:
the press (the update is queued for ``getUpdates``) and the ``editMessageText`` of the
check-in message accepted for that chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.callback_data import AnswerButton, BadCallbackDataError, ToggleButton, decode
from bot.sandbox.faults import FaultAction
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import BotMessage

TOKEN = "123456:BENCH-TOKEN"
PROVIDER_CHAT = -100998
"""The cohort group of `bench.taps` (its configuration names the same id)."""
EDIT_TIMEOUT = 30.0
THINK = (1.0, 2.0)
"""Seconds a patient takes between seeing the next question and tapping: about one tap per
1-2 s per chat, as people tap, well inside Telegram's per-chat limit."""

# Answers that raise no alert and lead through the whole daily check-in in 7 taps.
CALM = {
    "mood": "6",
    "anxiety": "3",
    "sleep": "4",
    "energy": "3",
    "dose": "as_prescribed",
    "side_effects": "none",
    "safety": "no",
}


class WatchedServer(FakeBotApi):
    """The sandbox server, telling the driver as each check-in edit is accepted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.edited: dict[int, asyncio.Future[float]] = {}
        self.prompted: dict[int, float] = {}
        """When each private chat had its first message (a prompt), on the server's clock."""
        self.awaited: set[int] = set()
        """Chats whose first message the driver waits for (``Driver.prompts``)."""

    def _log(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int | None,
        started: float,
        *,
        fault: FaultAction | None = None,
        description: str | None = None,
    ) -> None:
        super()._log(method, params, status, started, fault=fault, description=description)
        chat_id = params.get("chat_id")
        if status != 200 or not isinstance(chat_id, int):
            return
        if method == "sendMessage" and chat_id not in self.prompted:
            self.prompted[chat_id] = self.state.chats[chat_id].transcript[-1].time
            self.awaited.discard(chat_id)
        if method != "editMessageText":
            return
        waiter = self.edited.pop(chat_id, None)
        if waiter is not None and not waiter.done():
            chat = self.state.chats[chat_id]
            waiter.set_result(chat.transcript[-1].time)


@dataclass(slots=True)
class _Patient:
    user_id: int
    taps: int = 0
    done: bool = False
    latencies: list[float] = field(default_factory=list)
    edits: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)


class Driver:
    """Presses buttons for many patients and times the edits that answer them."""

    def __init__(self, server: WatchedServer) -> None:
        self.server = server
        self._random = random.Random(7)
        self.timeouts = 0

    def _button(self, message: BotMessage) -> tuple[str, bool] | None:
        """The label to press for the question a message shows, and whether it is the last."""
        for row in message.buttons:
            for label, data in row:
                try:
                    button = decode(data or "")
                except BadCallbackDataError:
                    continue
                if not isinstance(button, AnswerButton | ToggleButton):
                    continue
                if CALM.get(str(button.item)) == button.value:
                    return label, button.item == "safety"
        return None

    async def tap(self, patient: _Patient) -> None:
        """One press and the wait for its edit; records the latency."""
        chat = self.server.state.chats[patient.user_id]
        message = chat.newest_message()
        choice = None if message is None else self._button(message)
        if message is None or choice is None:
            patient.done = True
            return
        label, last = choice
        loop = asyncio.get_running_loop()
        edited: asyncio.Future[float] = loop.create_future()
        self.server.edited[patient.user_id] = edited
        user = self.server.user(patient.user_id)
        await user.press(label, message_id=message.message_id)
        pressed = next(e.time for e in reversed(chat.transcript) if e.kind == "button_press")
        patient.taps += 1
        try:
            at = await asyncio.wait_for(edited, EDIT_TIMEOUT)
        except TimeoutError:
            self.timeouts += 1
            self.server.edited.pop(patient.user_id, None)
            patient.done = True
            return
        patient.latencies.append(at - pressed)
        patient.edits.append(at)
        answers = chat.callback_answers
        if answers and answers[-1].time >= pressed:
            patient.answered.append(answers[-1].time - pressed)
        if last:
            patient.done = True

    def think(self) -> float:
        """A patient's pause before the next tap."""
        return self._random.uniform(*THINK)

    async def wait_prompts(self, users: list[int], timeout: float) -> None:  # noqa: ASYNC109
        """Wait until every user shows a question with buttons."""
        chats = self.server.state.chats

        def ready() -> bool:
            return all(
                u in chats
                and (m := chats[u].newest_message()) is not None
                and self._button(m) is not None
                for u in users
            )

        await self.server.wait_for(ready, timeout)

    async def prompts(self, users: list[int], timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until every user has had a first message; when each came."""
        prompted = self.server.prompted
        self.server.awaited = set(users) - prompted.keys()
        with contextlib.suppress(TimeoutError):
            await self.server.wait_for(lambda: not self.server.awaited, timeout)
        times = sorted(prompted[u] for u in users if u in prompted)
        stats = self.server.stats()
        per_chat = stats["per_chat"]
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "ok": True,
            "times": times,
            "last": times[-1] if times else 0.0,
            "sustained": (len(times) - 1) / span if span > 0 else 0.0,
            "missing": len(users) - len(times),
            "dup": sum(max(0, per_chat.get(str(u), 0) - 1) for u in users),
            "status": stats["by_status"],
        }

    async def run_open(self, users: list[int], rate: float, duration: float) -> dict[str, Any]:
        """Presses at a fixed rate, each to the patient who has been ready longest."""
        patients = [_Patient(u) for u in users]
        ready: deque[_Patient] = deque(patients)
        self._random.shuffle(ready)
        woken = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()
        late = 0

        async def one(patient: _Patient) -> None:
            await self.tap(patient)
            if not patient.done:
                await asyncio.sleep(self.think())
                ready.append(patient)
                woken.set()

        loop = asyncio.get_running_loop()
        start = loop.time()
        count = round(rate * duration)
        for index in range(count):
            due = start + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            while not ready:
                late += 1
                woken.clear()
                await woken.wait()
            task = asyncio.create_task(one(ready.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        offered = loop.time() - start
        if tasks:
            await asyncio.gather(*tasks)
        result = self._result(patients, offered, late=late)
        result["started_at"], result["ended_at"] = start, start + offered
        return result

    async def run_closed(self, users: list[int], duration: float) -> dict[str, Any]:
        """Every patient presses 1-2 s after each edit, for ``duration`` seconds."""
        patients = [_Patient(u) for u in users]
        loop = asyncio.get_running_loop()
        start = loop.time()
        stop = start + duration

        async def one(patient: _Patient) -> None:
            await asyncio.sleep(self._random.uniform(0, THINK[1]))
            while not patient.done and loop.time() < stop:
                await self.tap(patient)
                await asyncio.sleep(self.think())

        await asyncio.gather(*(one(p) for p in patients))
        return self._result(patients, loop.time() - start)

    def _result(
        self, patients: list[_Patient], seconds: float, *, late: int = 0
    ) -> dict[str, Any]:
        return {
            "ok": True,
            "seconds": seconds,
            "taps": sum(p.taps for p in patients),
            "latencies": [x for p in patients for x in p.latencies],
            "edit_times": sorted(x for p in patients for x in p.edits),
            "late": late,
            "answered": [x for p in patients for x in p.answered],
            "cpu": time.process_time(),
            "timeouts": self.timeouts,
            "finished": sum(p.done for p in patients),
        }


async def _serve(*, telegram_limits: bool, edits_count_overall: bool = False) -> None:
    server = WatchedServer(
        token=TOKEN,
        # Telegram's per-chat limits stay; the 30/s broadcast limit is lifted for
        # bench/taps.py, whose patients' first prompts go out at once.
        limits=(
            Limits(edits_count_overall=edits_count_overall)
            if telegram_limits
            else Limits(global_per_second=1_000_000)
        ),
        auto_register_chats=True,
        request_log_limit=1000,
    )
    # The bot checks at start-up that it can post in its cohort's group (bot.transport.channel).
    server.group(PROVIDER_CHAT, title="bench providers")
    await server.start()
    driver = Driver(server)
    sys.stdout.write(f"SANDBOX_PORT={server.port}\n")
    sys.stdout.flush()
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            name = command.pop("cmd")
            if name == "quit":
                break
            if name == "mark":
                answer: dict[str, Any] = {"ok": True, "now": time.monotonic()}
            elif name == "prompts":
                answer = await driver.prompts(command["users"], command.get("timeout", 120.0))
            elif name == "wait_prompts":
                await driver.wait_prompts(command["users"], command.get("timeout", 60.0))
                answer = {"ok": True}
            elif name == "run":
                started = time.perf_counter()
                if command.get("rate"):
                    answer = await driver.run_open(
                        command["users"], command["rate"], command["duration"]
                    )
                else:
                    answer = await driver.run_closed(command["users"], command["duration"])
                answer["wall"] = time.perf_counter() - started
                answer["violations"] = len(server.violations)
                answer["status"] = server.stats()["by_status"]
            else:
                answer = {"ok": False, "description": f"unknown command {name!r}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await server.stop()


def main() -> None:
    """Entry point: ``python -m bench.tapdriver [--telegram-limits]
    [--edits-count-overall]``."""
    flags = sys.argv[1:]
    asyncio.run(
        _serve(
            telegram_limits="--telegram-limits" in flags,
            edits_count_overall="--edits-count-overall" in flags,
        )
    )


if __name__ == "__main__":
    main()
