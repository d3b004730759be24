"""Timings, printed, never asserted: render time and the rendered suite's wall time.

python3 tasks.py bench            # or: uv run python bench/run.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ["--data", "project_name=Bench Service"]


def timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall time of one command; exits if the command fails."""
    started = time.perf_counter()
    proc = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"failed: {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def render(destination: Path) -> float:
    """``copier copy --trust --defaults`` of this checkout, as a user runs it."""
    copier = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
    return timed([*copier, *ANSWERS, str(ROOT), str(destination)], ROOT)


def main() -> None:
    """Print the median render time and the rendered suite's wall time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        renders = [render(Path(tmp) / f"r{i}") for i in range(args.runs)]
        project = Path(tmp) / "r0"
        env = {"PYTHONPATH": str(project / "src")}
        env.pop("TEST_DATABASE_URL", None)
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        suites = [timed(pytest, project, env) for _ in range(3)]
    print(
        f"render (copier copy, default answers): median {statistics.median(renders):.2f} s "
        f"over {args.runs} runs (min {min(renders):.2f}, max {max(renders):.2f})"
    )
    print(
        f"rendered test suite, embedded PostgreSQL start included: median "
        f"{statistics.median(suites):.2f} s over 3 runs (min {min(suites):.2f})"
    )


if __name__ == "__main__":
    main()
