"""The benchmark scripts (not tests themselves) still run to the end on a tiny stream.

They drive `zhitong run` and stand-in bots as subprocesses, so a change to the runtime or the
desk that a stand-in does not follow shows up here, not when an operator runs them. Figures
are not checked: only that every run completes and says what it measured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_load_benchmark_runs_every_bot_it_compares() -> None:
    out = run("load.py", "--flows", "6", "--users", "2", "--frameworks", "ptb",
              "--backends", "sqlite", "--min-echo", "40")
    for row in ("echo aiohttp", "echo ×3", "dur. echo", "dur. ×3", "dur. min", "full flow"):
        assert f" {row} " in out, row
    assert "Full flow vs echo" in out and "durable echo ÷ echo" in out
    assert "the design's ceiling for the flow" in out
    assert "the cheapest form DESIGN §10 allows" in out


def test_fault_benchmark_passes_a_short_stream() -> None:
    out = run("faults.py", "--reports", "12", "--users", "3", "--setups", "sqlite",
              "--framework", "ptb", "--kill-every", "1,2", "--seed", "3")
    assert "SQLite, one polling process: PASS" in out
