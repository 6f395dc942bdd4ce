"""Two commits of moodcheck, one benchmark, interleaved: A B A B ... in one run on one machine.

Each commit is extracted (``git archive``) into a temporary folder and the benchmark runs there
as its own process, with that folder first on ``PYTHONPATH`` (so the bot, the sandbox server it
starts and the benchmark are that commit's code, run by this virtual environment's Python and
libraries). Rounds alternate A and B so that a machine getting busier or quieter during the run
weighs on both alike; what is reported is each metric's median per commit and the ratio B / A,
with the machine's load before and after.

Usage::

    python -m bench.ab A B --rounds 3 --metric 'bot CPU ([0-9.]+) ms/msg' -- fanout 2000 --only own

Everything after ``--`` is the benchmark module under ``bench`` and its arguments, as the
commits themselves know it (a benchmark both commits have). ``--metric`` is a regular expression
with one group (a number); give it several times to compare several figures of the same line.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.load import uptime


def extract(ref: str, into: Path) -> Path:
    """The tree of ``ref`` in a folder of its own; return the folder."""
    folder = into / re.sub(r"[^\w.-]", "_", ref)
    folder.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], check=True, capture_output=True
    ).stdout
    tar_path = into / f"{folder.name}.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_once(folder: Path, module: str, args: list[str]) -> str:
    """Run ``python -m bench.<module> args`` in ``folder``; return what it printed."""
    env = dict(os.environ, PYTHONPATH=str(folder))
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{folder.name}: bench.{module} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def figures(output: str, metrics: list[str]) -> list[float]:
    """Each metric's number in ``output`` (the first match of each expression)."""
    values = []
    for metric in metrics:
        found = re.search(metric, output)
        if found is None:
            raise SystemExit(f"metric {metric!r} not found in:\n{output}")
        values.append(float(found.group(1)))
    return values


def main() -> None:
    """Parse arguments, run the rounds, print every round and the medians' ratios."""
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metric", action="append", required=True)
    options = parser.parse_args(argv[:split])
    bench = argv[split + 1 :]
    if not bench:
        raise SystemExit("give the benchmark after --, e.g. -- fanout 2000 --only own")
    module, args = bench[0], bench[1:]
    print(f"before: {uptime()}")
    results: dict[str, list[list[float]]] = {options.a: [], options.b: []}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {ref: extract(ref, Path(tmp)) for ref in (options.a, options.b)}
        for round_ in range(options.rounds):
            for ref in (options.a, options.b):
                values = figures(run_once(folders[ref], module, args), options.metric)
                results[ref].append(values)
                shown = ", ".join(f"{v:g}" for v in values)
                print(f"round {round_ + 1} {ref}: {shown}", flush=True)
    print(f"after:  {uptime()}")
    for index, metric in enumerate(options.metric):
        a = statistics.median(r[index] for r in results[options.a])
        b = statistics.median(r[index] for r in results[options.b])
        ratio = b / a if a else float("inf")
        print(f"{metric}: median A {a:g}, B {b:g}, B/A {ratio:.3f}")


if __name__ == "__main__":
    main()
