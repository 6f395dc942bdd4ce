"""Digest benchmark: one cohort of N patients with W weeks of history; time and memory to
build and render one weekly digest.

The history is inserted directly (bulk): every patient has a daily check-in each day (about
80 % completed, the rest partial, skipped or missed) with the daily items answered, a PHQ-9
and GAD-7 every Monday (asked after the daily items, in the same check-in), and a few alerts.
Then ``DigestService.send_now`` runs, as ``/digest`` would: read the rows (a few set-based
queries), compute the figures, draw the chart, write the HTML and CSV, and queue the four
messages in the outbox. Nothing is sent (no Bot API server is needed).

Three runs: cold (first in the process: imports matplotlib and its fonts), warm, and warm
under tracemalloc for the peak of Python-allocated memory (numpy arrays included). The
process's peak RSS (``ru_maxrss``) is printed too: the history is generated in a child
process, so it counts Python, the libraries (matplotlib, numpy, SQLAlchemy, PTB) and the three
digests, an upper bound for one digest.

Usage: ``python -m bench.digest [N] [--weeks W] [--database URL]``. Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.keys import BENCH_KEYRING
from bot.config import AppConfig, CohortConfig
from bot.domain.clock import ManualClock
from bot.domain.digest import Period
from bot.services.container import Services
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


async def _insert(connection: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(model), rows[start : start + CHUNK])


async def _seed(url: str, n: int, weeks: int) -> int:
    """Insert the cohort's history; return how many answers were stored."""
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


async def run(n: int, weeks: int, database: str | None) -> dict[str, float]:
    """Seed, then build and queue the digest three times; return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-bench-"))
    url = database or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, keyring=BENCH_KEYRING)
    runtime = Runtime(
        uow=UnitOfWorkFactory(create_session_factory(engine)),
        clock=ManualClock(NOW),
        config=_config(),
        renderer=Renderer(),
    )
    services = Services.build(runtime)
    await services.cohorts.sync()
    seeded = time.perf_counter()
    # Seeding runs in a child process: this one's peak RSS is then the digest's (plus imports).
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.digest", str(n), "--weeks", str(weeks), "--seed-into", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit("seeding failed")
    answers = int(out.decode().strip().rsplit("=", 1)[1])
    seeded = time.perf_counter() - seeded
    digest = services.digest
    config = runtime.config.cohort("bench")
    figures: dict[str, float] = {"answers": answers, "seed_s": seeded}

    figures["rss_before_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for run_name in ("cold", "warm"):
        started = time.perf_counter()
        outcome = await digest.send_now("bench")
        figures[f"{run_name}_s"] = time.perf_counter() - started
        figures[f"rss_{run_name}_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert outcome is DigestOutcome.QUEUED, outcome

    # Where the time goes (warm): reading and figures, then rendering.
    period = Period.ending(NOW.date() - timedelta(days=1), config.zone)
    started = time.perf_counter()
    async with runtime.uow() as uow:
        cohort = await uow.cohorts.by_name("bench")
        assert cohort is not None
        built_digest = await digest.figures(uow, cohort, period)
    figures["figures_s"] = time.perf_counter() - started
    started = time.perf_counter()
    built = digest.render(built_digest, "bench", "es")
    figures["render_s"] = time.perf_counter() - started
    figures["png_kb"] = len(built.chart or b"") / 1024
    figures["html_kb"] = len(built.html or b"") / 1024
    figures["csv_kb"] = len(built.csv or b"") / 1024
    figures["attention"] = built_digest.summary.needing_attention

    tracemalloc.start()
    await digest.send_now("bench")
    figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    figures["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await engine.dispose()
    return figures


def main() -> None:
    """Parse arguments, run, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument("--seed-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_into:
        print(f"answers={asyncio.run(_seed(args.seed_into, args.n, args.weeks))}")
        return
    f = eventloop.run(run(args.n, args.weeks, args.database))
    print(
        f"digest N={args.n} weeks={args.weeks} "
        f"db={'postgresql' if args.database else 'sqlite'} answers={f['answers']:.0f}: "
        f"send_now cold {f['cold_s']:.2f}s, warm {f['warm_s']:.2f}s "
        f"(read+figures {f['figures_s']:.2f}s, render {f['render_s']:.2f}s); "
        f"peak traced {f['peak_mb']:.0f} MB; maxrss {f['rss_before_mb']:.0f} MB before, "
        f"{f['rss_cold_mb']:.0f} MB after one digest, {f['rss_warm_mb']:.0f} after two, "
        f"{f['maxrss_mb']:.0f} after a third under tracemalloc; "
        f"png {f['png_kb']:.0f} KB, html {f['html_kb']:.0f} KB, csv {f['csv_kb']:.0f} KB; "
        f"needing attention {f['attention']:.0f}"
    )


if __name__ == "__main__":
    main()
