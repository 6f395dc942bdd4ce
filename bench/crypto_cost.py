"""What encryption at rest costs (storage/crypto.py), against a floor measured in the same run.

* **codec**: one typical outbox payload (a check-in prompt: text and a keyboard, about 700
  bytes of JSON) written and read N times: the floor is what a plain JSON column does
  (``json.dumps`` + ``json.loads``); encrypted adds AES-256-GCM, base64 and the header.
* **database**: N such rows inserted (batches of 500) and read back, on a plain JSON column
  (the floor) and on an ``EncryptedJSON`` one, in two tables of one database (SQLite file, or
  PostgreSQL with ``--postgres URL``).

Prints the machine load (``uptime``) before and after, then one line per measure with the
ratio to its floor. Usage: ``python -m bench.crypto_cost [N] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select

from bench.keys import BENCH_KEYRING
from storage.crypto import EncryptedJSON
from storage.db import create_engine

PAYLOAD: dict[str, Any] = {
    "chat_id": 123456789,
    "text": "<b>Daily check-in</b> 1/7\n\nHow is your mood today, from 0 (worst) to 10 (best)?"
    " Tap a number. You can change the answer with « Back.",
    "parse_mode": "HTML",
    "reply_markup": {
        "inline_keyboard": [
            [{"text": str(n), "callback_data": f"c|4711|mood|{n}"} for n in range(6)],
            [{"text": str(n), "callback_data": f"c|4711|mood|{n}"} for n in range(6, 11)],
            [{"text": "Skip today", "callback_data": "c|4711|skip"}],
        ]
    },
}
BATCH = 500


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _best_of(runs: int, work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def codec(n: int) -> tuple[float, float]:
    """Seconds per value (write + read): plain JSON, then encrypted."""

    def plain() -> None:
        for _ in range(n):
            json.loads(json.dumps(PAYLOAD, separators=(",", ":")))

    def encrypted() -> None:
        for _ in range(n):
            json.loads(BENCH_KEYRING.decrypt(BENCH_KEYRING.encrypt(json.dumps(PAYLOAD))))

    return _best_of(3, plain) / n, _best_of(3, encrypted) / n


async def database(url: str, n: int) -> dict[str, tuple[float, float]]:
    """Seconds per row to insert and to read back: {"plain": ..., "encrypted": ...}."""
    metadata = MetaData()
    tables = {
        "plain": Table("bench_plain", metadata, Column("id", Integer, primary_key=True),
                       Column("payload", JSON, nullable=False)),
        "encrypted": Table("bench_encrypted", metadata, Column("id", Integer, primary_key=True),
                           Column("payload", EncryptedJSON(), nullable=False)),
    }  # fmt: skip
    engine = create_engine(url, keyring=BENCH_KEYRING)
    results: dict[str, tuple[float, float]] = {}
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
        for round_ in range(2):  # the first round warms caches; the second is kept
            for name, table in tables.items():
                start = time.perf_counter()
                for first in range(0, n, BATCH):
                    async with engine.begin() as connection:
                        await connection.execute(
                            insert(table), [{"payload": PAYLOAD}] * min(BATCH, n - first)
                        )
                wrote = time.perf_counter() - start
                start = time.perf_counter()
                async with engine.connect() as connection:
                    rows = (await connection.execute(select(table.c.payload))).all()
                read = time.perf_counter() - start
                if len(rows) != n * (round_ + 1) or rows[-1][0] != PAYLOAD:
                    raise SystemExit(f"{name}: rows lost or changed")
                results[name] = (wrote / n, read / len(rows))
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()
    return results


def main() -> None:
    """Run both measures and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=20_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    print(f"load before: {_uptime()}")
    plain, encrypted = codec(args.n)
    print(
        f"codec, {len(json.dumps(PAYLOAD))} B payload: plain JSON {plain * 1e6:.1f} us, "
        f"encrypted {encrypted * 1e6:.1f} us per value (write + read), "
        f"x{encrypted / plain:.2f} the floor, +{(encrypted - plain) * 1e6:.1f} us"
    )
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        db = asyncio.run(database(url, args.n))
    (pw, pr), (ew, er) = db["plain"], db["encrypted"]
    backend = "postgresql" if args.postgres else "sqlite"
    print(
        f"{backend}, {args.n} rows: insert plain {pw * 1e6:.1f} us, encrypted {ew * 1e6:.1f} us"
        f" per row (x{ew / pw:.2f}); read plain {pr * 1e6:.1f} us, encrypted {er * 1e6:.1f} us"
        f" per row (x{er / pr:.2f})"
    )
    print(f"load after: {_uptime()}")


if __name__ == "__main__":
    main()
