"""The data key benchmarks run with (storage/crypto.py): fixed, so a kept benchmark database
can be opened again. Not a secret: benchmark data is made up."""

from __future__ import annotations

from storage.crypto import Keyring, parse_keys

BENCH_KEYS = "YmVuY2htYXJrLWRhdGEta2V5LW5vdC1hLXNlY3JldC0"
"""MOODCHECK_DATA_KEYS of every bot a benchmark builds."""
BENCH_KEYRING = Keyring(parse_keys(BENCH_KEYS))
"""The same keys, for the engines benchmarks open themselves."""
