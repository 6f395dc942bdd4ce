"""Crisis-language benchmark: how long reading one message takes, by length.

Loads the reviewed patterns (``prompts/crisis_words/``), then reads messages of 100, 1,000
and 4,096 characters (English and Spanish, ordinary text with no crisis words: the common
case, where every word is looked at) and the same 4,096 characters ending in a clear
statement (where positions and idioms are worked out too). Prints the median and best of R
runs each (wall time), the median CPU time (``time.process_time``: on a shared machine the
wall time also counts waiting for a core), and the time to load the patterns.

Usage: ``python -m bench.crisis_words [R]`` (R = 200 by default).
"""

from __future__ import annotations

import statistics
import sys
import time

from bot.services.patient.messages import load_crisis_matcher

ENGLISH = "Pretty normal day: work, then the gym, dinner with my sister; slept ok. "
SPANISH = "Hoy fue un día normal: trabajo, gimnasio y cena con mi hermana; dormí bien. "


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    started = time.perf_counter()
    matcher = load_crisis_matcher()
    print(f"load: {(time.perf_counter() - started) * 1000:.0f} ms")
    cases = {
        f"{name} {size}": (text * (size // len(text) + 1))[:size]
        for name, text in (("en", ENGLISH), ("es", SPANISH))
        for size in (100, 1000, 4096)
    }
    cases["en 4096 + clear"] = cases["en 4096"][:-25] + " I want to kill myself"
    cases["es 4096 + clear"] = cases["es 4096"][:-20] + " me quiero matar"
    for name, text in cases.items():
        times, cpu = [], []
        for _ in range(runs):
            begun, begun_cpu = time.perf_counter(), time.process_time()
            matcher.detect(text)
            times.append(time.perf_counter() - begun)
            cpu.append(time.process_time() - begun_cpu)
        print(
            f"{name:16} median {statistics.median(times) * 1000:6.2f} ms"
            f"   best {min(times) * 1000:6.2f} ms"
            f"   median CPU {statistics.median(cpu) * 1000:6.2f} ms"
        )


if __name__ == "__main__":
    main()
