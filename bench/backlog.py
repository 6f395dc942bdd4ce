"""Delivery cost against the backlog: own-path CPU per message with 1k, 5k, 10k and 20k
prompts queued at once (the same fan-out as ``bench.fanout``'s own path: no rate limits).

Flat cost means every per-message query reads an index bounded by the chat or the row, not
by the queue (``tests/integration/test_claim_plans.py`` checks the plans). Target: the 20k
figure at most 1.2 x the 1k figure, measured in the same run.

Usage: ``python -m bench.backlog [--database URL] [--sizes 1000,5000,10000,20000]``.
"""

from __future__ import annotations

import argparse
import os

from bench.fanout import run_once
from bench.load import uptime
from bot.transport import eventloop


def main() -> None:
    """Run one fan-out per size; print CPU per message and its ratio to the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument("--sizes", default="1000,5000,10000,20000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"before: {uptime()}")
    results = {n: eventloop.run(run_once(n, limited=False, database=args.database)) for n in sizes}
    print(f"after:  {uptime()}")
    floor = results[sizes[0]]["cpu_ms"]
    for n, result in results.items():
        print(
            f"backlog {n:>6}: {result['cpu_ms']:.2f} ms CPU/msg ({result['cpu_ms'] / floor:.2f}x "
            f"the {sizes[0]} figure), {result['rate']:.0f} msg/s, lost {result['lost']:.0f}, "
            f"dup {result['duplicates']:.0f}"
        )


if __name__ == "__main__":
    main()
