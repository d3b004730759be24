"""Timings, printed, never asserted: render time and the rendered suite's wall time (its
quick tests, three runs, and once with --slow).

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
sys.path.insert(0, str(ROOT))
from tests.conftest import NESTED_PYTEST  # noqa: E402  (after the path is set)
from tests.variants import BASE, VARIANTS  # noqa: E402


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


def variant_times(tmp: Path) -> None:
    """Render and check each variant in turn; print the seconds of each step."""
    print(f"{'variant':<30} {'render':>7} {'ruff':>6} {'mypy':>6} {'pytest':>7} {'total':>7}")
    for variant in VARIANTS:
        project = tmp / variant.id
        data = [f"--data={k}={v}" for k, v in {**BASE, **variant.answers}.items()]
        copier = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
        render = timed([*copier, *data, str(ROOT), str(project)], ROOT)
        env = {"PYTHONPATH": str(project / "src"), "MYPY_CACHE_DIR": str(tmp / "mypy")}
        ruff = timed([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
        mypy = timed([sys.executable, "-m", "mypy"], project, env)
        pytest = timed([sys.executable, "-m", "pytest", *NESTED_PYTEST], project, env)
        total = render + ruff + mypy + pytest
        print(
            f"{variant.id:<30} {render:>6.2f}s {ruff:>5.2f}s {mypy:>5.2f}s {pytest:>6.2f}s "
            f"{total:>6.2f}s"
        )


def main() -> None:
    """Print render, suite, per-variant and matrix timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the matrix timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        renders = [render(Path(tmp) / f"r{i}") for i in range(args.runs)]
        project = Path(tmp) / "r0"
        # The project's own environment, as its user has it (not this one's plugins).
        uv_env = {"UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
        timed([sys.executable, "-m", "uv", "sync", "--quiet"], project, uv_env)
        python = str(project / ".venv" / "bin" / "python")
        pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        suites = [timed(pytest, project) for _ in range(3)]  # the quick tests
        slow = timed([*pytest, "--slow"], project)
    print(
        f"render (copier copy, default answers): median {statistics.median(renders):.2f} s "
        f"over {args.runs} runs (min {min(renders):.2f}, max {max(renders):.2f})"
    )
    print(
        f"rendered test suite (quick tests), embedded PostgreSQL start included: median "
        f"{statistics.median(suites):.2f} s over 3 runs (min {min(suites):.2f}); with --slow "
        f"{slow:.2f} s"
    )
    if args.quick:
        return
    with tempfile.TemporaryDirectory() as tmp:
        variant_times(Path(tmp))
    matrix = [sys.executable, "-m", "pytest", "-q", "-n", "auto", "--dist", "loadgroup"]
    wall = timed([*matrix, "tests/test_variants.py"], ROOT, {"CI": "true"})
    print(f"variant matrix (tests/test_variants.py, pytest -n auto): {wall:.1f} s wall")


if __name__ == "__main__":
    main()
