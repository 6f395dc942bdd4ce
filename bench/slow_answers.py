"""A slow Telegram: a fan-out in which 15 % of the Bot API's answers take 6 s, beside the same
fan-out without faults, in one run (own path: no rate limits, so that the slow answers are
what is measured).

Targets (issue 16): drain time at most 1.5 x the fault-free one, no duplicate (a 6 s answer
is waited for, not taken for a timeout and sent again), nothing lost. Each answer holds a
place of the delivery window until it comes back: with 15 % of answers at 6 s the mean
answer takes about 0.9 s, so a window of W sends at most about W / 0.9 a second (Little's
law) whatever the machine. The benchmark runs several windows to show that trade-off.

``--limited``: with Telegram's free limits on (the bot's limiter, the server's 30/s), the
case a clinic meets: the fault-free run then takes N / 29.4 s, and a window keeps that pace
while it holds about 29.4 x 0.9 = 27 routine places.

Usage: ``python -m bench.slow_answers [N] [--database URL] [--rate 0.15] [--seconds 6]
[--windows 16,128] [--limited]``.
"""

from __future__ import annotations

import argparse
import os

from bench.fanout import run_once
from bench.load import uptime
from bot.transport import eventloop


def main() -> None:
    """Run fault-free, then slow; print both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=2000)
    parser.add_argument("--database", default=os.environ.get("MOODCHECK_BENCH_DATABASE_URL"))
    parser.add_argument("--rate", type=float, default=0.15)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--windows", default="16,128", help="delivery windows to run the slow fan-out with"
    )
    parser.add_argument("--limited", action="store_true", help="Telegram's free limits on")
    args = parser.parse_args()
    slow = {
        "action": "random",
        "rate": args.rate,
        "kinds": ["delay"],
        "delay_seconds": args.seconds,
        "methods": ["sendMessage"],
        "seed": 16,
    }
    print(f"before: {uptime()}")
    runs = []
    for window in (int(w) for w in args.windows.split(",")):
        clean = eventloop.run(
            run_once(args.n, limited=args.limited, database=args.database, window=window)
        )
        faulty = eventloop.run(
            run_once(
                args.n,
                limited=args.limited,
                database=args.database,
                faults=slow,
                window=window,
                give_up_after=600.0,
            )
        )
        runs.append((window, clean, faulty))
    print(f"after:  {uptime()}")
    for window, clean, faulty in runs:
        for name, result in (
            ("fault-free", clean),
            (f"{args.rate:.0%} x {args.seconds:g}s", faulty),
        ):
            print(
                f"window {window}, {name}: drain {result['deliver_s']:.1f}s "
                f"({result['rate']:.0f} msg/s), lost {result['lost']:.0f}, "
                f"dup {result['duplicates']:.0f}, timeouts {result['timeouts']:.0f}"
            )
        print(
            f"window {window}: slow / fault-free drain = "
            f"{faulty['deliver_s'] / clean['deliver_s']:.2f}"
        )


if __name__ == "__main__":
    main()
