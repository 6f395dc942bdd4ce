"""The machine's load, printed by every benchmark before and after its runs: this is a shared
2-core machine, so figures are read as ratios against a floor measured in the same run."""

from __future__ import annotations

import subprocess


def uptime() -> str:
    """``uptime``'s line (load averages over 1, 5 and 15 minutes)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
