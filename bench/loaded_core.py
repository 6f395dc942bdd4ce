"""Telegram's free 30 messages a second, with and without another process loading a core.

Two fan-outs of N prompts (``bench.fanout``'s limited run: our rate limiter on, the server
enforcing 30/s with 429s, a crisis card queued every few seconds): one as the machine is,
then one while a child process spins ``while True: pass`` (one core of the two taken from
the bot and the server), in that order ``--pairs`` times. Issue 16's target: >= 29.0 msg/s
sustained at 10,000 prompts in both, nothing lost, nothing doubled.

Usage: ``python -m bench.loaded_core [N] [--pairs 1] [--database URL | --postgres SERVER]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.fanout import in_database, run_once
from bench.load import uptime
from bot.transport import eventloop

BUSY_LOOP = "while True: pass"


@contextmanager
def busy_core() -> Iterator[int]:
    """A child process that keeps one core busy until the block ends; yields its pid."""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def _line(name: str, result: dict[str, float]) -> str:
    return (
        f"{name}: {result['sustained']:.2f} msg/s sustained, all {result['queued']:.0f} sent in "
        f"{result['deliver_s']:.1f}s, bot CPU {result['cpu_ms']:.2f} ms/msg, 429s "
        f"{result['rate_limited']:.0f}, lost {result['lost']:.0f}, dup "
        f"{result['duplicates']:.0f}, crisis card queued to sent p50 {result['crisis_p50']:.2f}s "
        f"max {result['crisis_max']:.2f}s (n={result['crisis_n']:.0f})"
    )


def main() -> None:
    """Run calm, then loaded; print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument("--postgres", metavar="SERVER_URL")
    parser.add_argument("--crisis-every", type=float, default=5.0)
    args = parser.parse_args()
    print(f"before: {uptime()}", flush=True)

    def once() -> dict[str, float]:
        return eventloop.run(
            in_database(
                args.postgres,
                args.database,
                run_once,
                args.n,
                limited=True,
                crisis_every=args.crisis_every,
            )
        )

    for pair in range(1, args.pairs + 1):
        calm = once()
        print(f"pair {pair}, {_line('as the machine is', calm)}  [{uptime()}]", flush=True)
        with busy_core() as pid:
            loaded = once()
        print(
            f"pair {pair}, {_line(f'one core loaded (pid {pid})', loaded)}  [{uptime()}]",
            flush=True,
        )
    print(f"after:  {uptime()}")


if __name__ == "__main__":
    main()
