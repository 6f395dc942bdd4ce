"""FHIR export benchmark: one cohort of N patients with W weeks of history, written as a FHIR
Bundle to a file, as ``moodcheck export --format fhir`` does.

The history is the digest benchmark's (``bench.digest``, seeded in a child process so this
process's peak RSS is the export's): a daily check-in per patient per day, about 80 %
completed, with PHQ-9 and GAD-7 on Mondays. The floor, measured in the same run, is reading
the same answer rows through the same streamed query without building anything: the export's
time over the floor's is what building, checking and writing JSON cost.

Usage: ``python -m bench.fhir_export [N] [--weeks W] [--database URL]``. Prints the machine's
load before and after, and one line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.digest import NOW
from bench.keys import BENCH_KEYRING
from bot.cohort_config import CohortConfig
from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.services.container import Services
from bot.services.digest.fhir_export import FhirExport
from bot.services.runtime import Runtime
from bot.transport import eventloop
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.render import Renderer
from prompts.rules import load_rules
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory


def _config() -> AppConfig:
    cohort = CohortConfig(
        name="bench",
        provider_chat_id=-100999,
        timezone="UTC",
        locale="es",
        region="EU",
        weekly_instruments=["phq9", "gad7"],
        coverage="24/7",
    )
    return AppConfig(
        cohorts=(cohort,),
        questionnaires={"daily": load_questionnaire(questionnaire_path("daily"))},
        rules=load_rules(),
    )


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def _floor(runtime: Runtime) -> tuple[float, int]:
    """Read every answer row of the cohort through the export's query; return (s, rows)."""
    started = time.perf_counter()
    rows = 0
    async with runtime.uow.reading() as uow:
        cohort = await uow.cohorts.by_name("bench")
        assert cohort is not None
        async for batch in uow.export.answers(cohort.id, include_left=False):
            rows += len(batch)
    return time.perf_counter() - started, rows


async def run(n: int, weeks: int, database: str | None) -> dict[str, float]:
    """Seed, then measure the floor and the export (twice each, alternating)."""
    folder = Path(tempfile.mkdtemp(prefix="moodcheck-bench-"))
    try:
        url = database or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url, keyring=BENCH_KEYRING)
        runtime = Runtime(
            uow=UnitOfWorkFactory(create_session_factory(engine)),
            clock=ManualClock(NOW),
            config=_config(),
            renderer=Renderer(),
        )
        await Services.build(runtime).cohorts.sync()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.digest", str(n), "--weeks", str(weeks),
            "--seed-into", url, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise SystemExit("seeding failed")
        figures: dict[str, float] = {"answers": int(out.decode().strip().rsplit("=", 1)[1])}
        export = FhirExport(runtime)
        target = folder / "bundle.json"
        floors, exports, cpus = [], [], []
        for _ in range(2):
            floor, figures["rows"] = await _floor(runtime)
            floors.append(floor)
            started, cpu = time.perf_counter(), time.process_time()
            with target.open("w", encoding="utf-8") as file:
                result = await export.write("bench", file)
            exports.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        figures["floor_s"] = min(floors)
        figures["export_s"] = min(exports)
        figures["export_max_s"] = max(exports)
        figures["cpu_s"] = min(cpus)
        figures["resources"] = sum(result.counts.by_type.values())
        figures["bundle_mb"] = target.stat().st_size / 2**20
        figures["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await engine.dispose()
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Parse arguments, run, print the load and one line of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    print(f"load before: {_load()}")
    f = eventloop.run(run(args.n, args.weeks, args.database))
    print(f"load after: {_load()}")
    print(
        f"fhir export N={args.n} weeks={args.weeks} "
        f"db={'postgresql' if args.database else 'sqlite'} answers={f['answers']:.0f}: "
        f"{f['resources']:.0f} resources, {f['bundle_mb']:.0f} MB; "
        f"export {f['export_s']:.2f}s (max {f['export_max_s']:.2f}s, CPU {f['cpu_s']:.2f}s); "
        f"floor (read the rows) {f['floor_s']:.2f}s; export/floor "
        f"{f['export_s'] / f['floor_s']:.1f}x; maxrss {f['maxrss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
