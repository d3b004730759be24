#!/usr/bin/env python3
"""Task runner of the template repository: ``python3 tasks.py TARGET``.

Needs only Python 3.11+ and git. uv is found or installed by the same bootstrap the
rendered projects use (``template/tasks.py``), so both stay in step.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "template" / "tasks.py")
assert _spec is not None
assert _spec.loader is not None
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)

TARGETS = {
    "test": "lint, then every variant rendered and checked, and the provider emulations",
    "lint": "ruff check, ruff format --check, mypy --strict on the template's own code",
    "bench": "render and test timings (bench/run.py)",
}


def main(argv: list[str]) -> None:
    """Run the named targets; arguments after ``--`` go to pytest (or bench/run.py)."""
    argv, extra = bootstrap.parse(argv, TARGETS)
    bootstrap.uv("sync", "--quiet", cwd=ROOT)
    for target in argv:
        if target in {"lint", "test"}:
            bootstrap.uv("run", "ruff", "check", ".", cwd=ROOT)
            bootstrap.uv("run", "ruff", "format", "--check", ".", cwd=ROOT)
            bootstrap.uv("run", "mypy", cwd=ROOT)
        if target == "test":
            bootstrap.uv("run", "pytest", "-n", "auto", "--dist", "loadgroup", *extra, cwd=ROOT)
        if target == "bench":
            bootstrap.uv("run", "python", "bench/run.py", *extra, cwd=ROOT)


if __name__ == "__main__":
    main(sys.argv[1:])
