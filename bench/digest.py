"""Digest benchmark: the weekly digest's first run in a fresh process, for a cohort of N
patients with W weeks of history, beside the bot's start-up measured in the same run.

The history is inserted once, directly (bulk), before anything is timed: every patient has a
daily check-in each day (about 80 % completed, the rest partial, skipped or missed) with the
daily items answered, a PHQ-9 and GAD-7 every Monday (asked after the daily items, in the
same check-in), and a few alerts. The digest is built on Monday 2 March for 23 February to
1 March: the first digest of a month, so it carries the outcomes report too (the heaviest
digest of the month).

Then, ``--runs`` times, interleaved so that both see the same load:

* **floor**: a fresh ``python -c "import bot.app"`` (the bot's own start-up);
* **digest**: a fresh process (``--first-run``) that imports the services, builds them over
  the seeded database, freezes start-up's objects as ``moodcheck run`` does, and runs
  ``DigestService.send_now`` as ``/digest`` would (read the rows, compute the figures, draw
  the chart, write the HTML and CSV, queue the messages; nothing is sent, no Bot API server
  is needed), then a second one. Its times are read on the system-wide monotonic clock from
  the instant this process spawned it: "process start to first digest" is interpreter,
  imports, set-up and the first digest; "first digest" is ``send_now`` alone, matplotlib's
  import and the chart's first drawing included; "second digest" is the next ``send_now``.
  CPU times (user + system, all threads) beside the wall times: on a shared machine they
  move much less. Peak RSS (``ru_maxrss``) after the first digest and at the end.

Medians are printed, each with its ratio to the floor's median; ``uptime`` before and after.
``--phases`` adds one more fresh process that reports the CPU time of the first digest's
parts (reading and figures, outcomes report, matplotlib's import, rendering).

Usage: ``python -m bench.digest [N] [--weeks W] [--runs R] [--phases]
[--postgres SERVER_URL | --database EMPTY_DB_URL | --seeded URL]`` (``--seeded``: a database
this benchmark seeded before, with the same N and W; default: a new SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.keys import BENCH_KEYRING
from bench.load import uptime
from bench.pgtemp import create_database, drop_database
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.domain.digest_schedule import Period
from bot.services.container import Services
from bot.services.digest.outcomes import DEFAULT_DAYS, OutcomesService
from bot.services.digest.weekly import DigestOutcome
from bot.services.runtime import Runtime
from bot.transport import eventloop
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.render import Renderer
from prompts.rules import load_rules
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Alert, Answer, Checkin, Cohort, Patient
from storage.uow import UnitOfWorkFactory

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CHUNK = 5000
FLOOR = "import bot.app"
"""The floor: the bot's start-up imports, in a fresh process."""


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="bench",
        provider_chat_id=-100999,
        timezone="UTC",
        locale="es",
        region="EU",
        coverage="24/7",
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


def _runtime(url: str) -> tuple[Runtime, Any]:
    engine = create_engine(url, keyring=BENCH_KEYRING)
    runtime = Runtime(
        uow=UnitOfWorkFactory(create_session_factory(engine)),
        clock=ManualClock(NOW),
        config=_config(),
        renderer=Renderer(),
    )
    return runtime, engine


async def _insert(connection: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(model), rows[start : start + CHUNK])


async def _prepare(url: str) -> None:
    """Migrate the database and create the cohort (``_seed`` then inserts its history)."""
    await asyncio.to_thread(upgrade, url)
    runtime, engine = _runtime(url)
    await Services.build(runtime).cohorts.sync()
    await engine.dispose()


async def _seed(url: str, n: int, weeks: int) -> int:
    """Insert the cohort's history (``bench.fhir_export`` uses it too, through
    ``--seed-into``); return how many answers were stored."""
    rnd = random.Random(2026)
    engine = create_engine(url, keyring=BENCH_KEYRING)
    async with engine.begin() as connection:
        cohort_id = await connection.scalar(select(Cohort.id).where(Cohort.name == "bench"))
        await _insert(
            connection,
            Patient,
            [
                {
                    "cohort_id": cohort_id,
                    "label": f"P-{i:05d}",
                    "telegram_user_id": 20_000_000 + i,
                    "chat_id": 20_000_000 + i,
                    "status": rnd.choices(["active", "paused", "unreachable"], [90, 6, 4])[0],
                    "locale": "es",
                    "timezone": "UTC",
                    "checkin_time": "09:00",
                    "next_prompt_at": None,
                    "consented_at": NOW - timedelta(weeks=weeks),
                    "created_at": NOW - timedelta(weeks=weeks),
                    "updated_at": NOW,
                }
                for i in range(n)
            ],
        )
        ids = list((await connection.scalars(select(Patient.id))).all())
        first = NOW.date() - timedelta(weeks=weeks)
        days = [first + timedelta(days=d) for d in range(weeks * 7)]
        checkins = []
        for patient_id in ids:
            for day in days:
                status = rnd.choices(["completed", "partial", "skipped", "missed"], [80, 8, 4, 8])[
                    0
                ]
                weekly = day.weekday() == 0
                checkins.append(
                    {
                        "patient_id": patient_id,
                        "local_date": day,
                        "timezone": "UTC",
                        "questionnaire": "daily+phq9+gad7" if weekly else "daily",
                        "status": status,
                        "item": None,
                        "opened_at": NOW,
                        "closes_at": NOW,
                        "completed_at": NOW,
                        "version": 0,
                    }
                )
        await _insert(connection, Checkin, checkins)
        rows = (
            await connection.execute(select(Checkin.id, Checkin.local_date, Checkin.status))
        ).all()
        answers: list[dict[str, Any]] = []
        patient_of = dict((await connection.execute(select(Checkin.id, Checkin.patient_id))).all())
        base = {patient_id: (rnd.randint(2, 8), rnd.randint(2, 8)) for patient_id in ids}
        for checkin_id, day, status in rows:
            if status not in {"completed", "partial"}:
                continue
            mood, anxiety = base[patient_of[checkin_id]]
            items = {
                "mood": min(10, max(0, mood + rnd.randint(-2, 2))),
                "anxiety": min(10, max(0, anxiety + rnd.randint(-2, 2))),
                "sleep": rnd.randint(1, 5),
                "energy": rnd.randint(1, 5),
                "dose": "as_prescribed",
                "side_effects": "none",
                "safety": "no",
            }
            if status == "partial":
                items = {"mood": items["mood"]}
            elif isinstance(day, date) and day.weekday() == 0:
                items |= {f"phq9_{k}": rnd.choice([0, 0, 1, 1, 2, 3]) for k in range(1, 9)}
                items["phq9_9"] = 1 if rnd.random() < 0.03 else 0
                items |= {f"gad7_{k}": rnd.choice([0, 0, 1, 1, 2, 3]) for k in range(1, 8)}
            answers.extend(
                {"checkin_id": checkin_id, "item_id": k, "value": str(v), "answered_at": NOW}
                for k, v in items.items()
            )
        await _insert(connection, Answer, answers)
        alerts = []
        for k in range(n * weeks // 4):
            created = NOW - timedelta(minutes=rnd.randint(60, weeks * 7 * 1440))
            state = rnd.choices(["open", "acknowledged", "resolved"], [10, 20, 70])[0]
            acked = created + timedelta(minutes=rnd.randint(1, 600)) if state != "open" else None
            alerts.append(
                {
                    "cohort_id": cohort_id,
                    "patient_id": rnd.choice(ids),
                    "rule": "bench",
                    "tier": rnd.choices(["IMMEDIATE", "URGENT", "ROUTINE"], [5, 25, 70])[0],
                    "status": state,
                    "dedup_key": f"bench:{k}",
                    "created_at": created,
                    "acknowledged_at": acked,
                    "resolved_at": (
                        acked + timedelta(hours=1) if acked and state == "resolved" else None
                    ),
                }
            )
        await _insert(connection, Alert, alerts)
    await engine.dispose()
    return len(answers)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    """CPU seconds (user + system) of this process, or of its waited-for children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _first_run(url: str, started: float) -> dict[str, float]:
    """In a fresh process: set up, then two digests; times from ``started`` (the spawn)."""
    figures = {"imported_s": time.monotonic() - started}
    runtime, engine = _runtime(url)
    digest = Services.build(runtime).digest
    eventloop.keep_startup_objects()  # as `moodcheck run` does once the bot has started
    figures["set_up_s"] = time.monotonic() - started
    before, cpu = time.monotonic(), _cpu()
    outcome = await digest.send_now("bench")
    after = time.monotonic()
    assert outcome is DigestOutcome.QUEUED, outcome
    figures |= {"first_s": after - before, "from_start_s": after - started}
    figures |= {"first_cpu_s": _cpu() - cpu, "from_start_cpu_s": _cpu()}
    figures["rss_first_mb"] = _rss_mb()
    before = time.monotonic()
    await digest.send_now("bench")
    figures["warm_s"] = time.monotonic() - before
    figures["rss_end_mb"] = _rss_mb()
    await engine.dispose()
    return figures


async def _phases(url: str) -> dict[str, float]:
    """In a fresh process: the CPU time of the first digest's parts, one by one, cold."""
    runtime, engine = _runtime(url)
    service = Services.build(runtime).digest
    eventloop.keep_startup_objects()
    config = runtime.config.cohort("bench")
    period = Period.ending(NOW.date() - timedelta(days=1), config.zone)
    figures: dict[str, float] = {}
    cpu = _cpu()

    def lap(name: str) -> None:
        nonlocal cpu
        figures[name], cpu = _cpu() - cpu, _cpu()

    async with runtime.uow() as uow:
        cohort = await uow.cohorts.by_name("bench")
        assert cohort is not None
        digest = await service.figures(uow, cohort, period)
        lap("figures")
        start = period.end - timedelta(days=DEFAULT_DAYS)
        await OutcomesService(runtime).report(uow, cohort, start, period.end)
        lap("outcomes")
    # What drawing the chart imports.
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401

    lap("chart_import")
    built = service.render(digest, "bench", "es")
    lap("render")
    service.render(digest, "bench", "es")
    lap("render_again")
    figures |= {
        "png_kb": len(built.chart or b"") / 1024,
        "html_kb": len(built.html or b"") / 1024,
        "csv_kb": len(built.csv or b"") / 1024,
        "patients": len(digest.patients),
        "attention": digest.summary.needing_attention,
    }
    await engine.dispose()
    return figures


def _child(*args: str) -> tuple[float, float, str]:
    """Run a fresh Python process; return its wall time from spawn to exit, its CPU time and
    its output. An argument ``{started}`` becomes the monotonic instant of the spawn."""
    started, cpu = time.monotonic(), _cpu(resource.RUSAGE_CHILDREN)
    argv = [sys.executable, *(a.replace("{started}", str(started)) for a in args)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return time.monotonic() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu, done.stdout


def _line(name: str, values: list[float], floor: float) -> str:
    median = statistics.median(values)
    spread = ", ".join(f"{v:.2f}" for v in values)
    return f"  {name}: {median:.2f} s ({spread}) = {median / floor:.2f} x floor"


WALL = (
    ("first_s", "first digest in the process (send_now, matplotlib import included)"),
    ("from_start_s", "process start to first digest queued (imports, set-up, digest)"),
    ("warm_s", "second digest, same process"),
)
CPU = (
    ("first_cpu_s", "first digest in the process"),
    ("from_start_cpu_s", "process start to first digest queued"),
)


def _measure(url: str, runs: int, phases: bool) -> None:
    """Time the floor and the digest's first run, interleaved, and print the figures."""
    print(f"before: {uptime()}")
    floors: list[tuple[float, float]] = []
    digests: list[dict[str, float]] = []
    for _ in range(runs):  # interleaved: floor, digest, floor, digest...
        floors.append(_child("-c", FLOOR)[:2])
        out = _child("-m", "bench.digest", "--first-run", url, "{started}")[2]
        digests.append(json.loads(out))
    parts = json.loads(_child("-m", "bench.digest", "--phases-of", url)[2]) if phases else {}
    print(f"after:  {uptime()}")
    db = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"digest db={db}; medians of {runs} fresh processes each:")
    for unit, index, rows in (("wall", 0, WALL), ("CPU", 1, CPU)):
        floor = statistics.median(f[index] for f in floors)
        spread = ", ".join(f"{f[index]:.2f}" for f in floors)
        print(f" {unit} time; floor (a fresh python -c '{FLOOR}'): {floor:.2f} s ({spread})")
        for key, name in rows:
            print(_line(name, [d[key] for d in digests], floor))
    rss = [d["rss_first_mb"] for d in digests]
    rss_end = statistics.median(d["rss_end_mb"] for d in digests)
    print(
        f" peak RSS of the digest's process after the first digest: {statistics.median(rss):.0f}"
        f" MB (max {max(rss):.0f}); after the second {rss_end:.0f} MB"
    )
    if parts:
        print(
            f" CPU of the parts, one more fresh process: read + figures {parts['figures']:.2f}"
            f" s, outcomes report {parts['outcomes']:.2f} s, matplotlib import "
            f"{parts['chart_import']:.2f} s, render (chart, HTML, CSV, message) "
            f"{parts['render']:.2f} s ({parts['render_again']:.2f} s again); "
            f"{parts['patients']:.0f} patients, {parts['attention']:.0f} needing attention; "
            f"png {parts['png_kb']:.0f} KB, html {parts['html_kb']:.0f} KB, "
            f"csv {parts['csv_kb']:.0f} KB"
        )


def main() -> None:
    """Seed once, then measure; or, in a child process, one first run or the parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="also the parts' CPU, once")
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument("--postgres", help="a PostgreSQL server: run in a throw-away database")
    parser.add_argument("--seeded", help="a database this benchmark seeded before (kept)")
    parser.add_argument("--first-run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--phases-of", help=argparse.SUPPRESS)
    parser.add_argument("--seed-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_run:
        url, started = args.first_run
        print(json.dumps(eventloop.run(_first_run(url, float(started)))))
        return
    if args.phases_of:
        print(json.dumps(eventloop.run(_phases(args.phases_of))))
        return
    if args.seed_into:
        print(f"answers={eventloop.run(_seed(args.seed_into, args.n, args.weeks))}")
        return
    if args.seeded:
        _measure(args.seeded, args.runs, args.phases)
        return
    url = args.database
    if args.postgres:
        url = eventloop.run(create_database(args.postgres, "bench_digest"))
    elif url is None:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='moodcheck-bench-')) / 'b.db'}"
    try:
        # In a child process: a process's peak RSS is inherited by the processes it starts
        # (Linux keeps ru_maxrss across exec), and seeding peaks well above a digest.
        eventloop.run(_prepare(url))
        out = _child("-m", "bench.digest", str(args.n), "--weeks", str(args.weeks),
                     "--seed-into", url)[2]  # fmt: skip
        answers = out.strip().rsplit("=", 1)[1]
        print(f"seeded: {args.n} patients x {args.weeks} weeks, {answers} answers")
        _measure(url, args.runs, args.phases)
    finally:
        if args.postgres:
            eventloop.run(drop_database(args.postgres, url))


if __name__ == "__main__":
    main()
