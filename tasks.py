#!/usr/bin/env python3
"""Task runner of the template repository: ``python3 tasks.py TARGET``.

Needs only Python 3.11+ and git. uv is found or installed by the same bootstrap the
rendered projects use (``template/tasks.py``), so both stay in step.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "template" / "tasks.py")
assert _spec is not None
assert _spec.loader is not None
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)

TARGETS = {
    "new": "new DEST [--data KEY=VALUE ...]: render a new service from this clone",
    "test": "lint, then every variant rendered and checked, and the provider emulations",
    "lint": "ruff check, ruff format --check, mypy --strict on the template's own code",
    "bench": "render and test timings (bench/run.py); `bench http`: req/s against raw asyncpg;"
    " `bench replicas`: reads on two replicas, one stopped and restarted;"
    " `bench lists`: database time per page and req/s as the tasks table grows",
    "release": "tag every version listed in CHANGELOG.md (vX.Y.Z) at its commit",
    "lock": "refresh the uv.lock files rendered projects ship (template/.locks)",
}
# "## 0.2.0 - 2026-11-22 - commit a1413dd"
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2} - commit ([0-9a-f]{7,40})$", re.M)


def releases() -> list[tuple[str, str]]:
    """``(version, commit)`` for every release listed in CHANGELOG.md, newest first."""
    return RELEASE.findall((ROOT / "CHANGELOG.md").read_text())


def release() -> None:
    """Create the missing ``vX.Y.Z`` tags (tags may not travel with a clone of main)."""
    existing = set(subprocess.check_output(["git", "tag"], cwd=ROOT, text=True).split())  # noqa: S607
    for version, commit in releases():
        if f"v{version}" not in existing:
            subprocess.run(["git", "tag", f"v{version}", commit], cwd=ROOT, check=True)  # noqa: S607
            print(f"tagged v{version} at {commit}")


def new(arguments: list[str]) -> None:
    """``copier copy`` of this clone, with the Jinja extension, and no uv needed on PATH.

    Copier renders the newest release tag when the clone has tags, else its HEAD; with
    nobody at a terminal to answer, every question takes its default (or ``--data``).
    """
    copier = ["tool", "run", "--with", "copier-template-extensions", "copier", "copy"]
    options = ["--trust"] + ([] if sys.stdin.isatty() else ["--defaults"])
    bootstrap.uv(*copier, *options, str(ROOT), *arguments, cwd=ROOT)


def main(argv: list[str]) -> None:
    """Run the named targets; arguments after ``--`` go to pytest (or bench/run.py)."""
    argv, extra = bootstrap.parse(argv, TARGETS, with_arguments=frozenset({"new", "bench"}))
    if argv == ["new"]:
        new(extra)
        return
    if argv == ["bench"]:  # bench [http|replicas|lists] [OPTIONS]
        scripts = {
            "http": "bench/throughput.py",
            "replicas": "bench/replicas.py",
            "lists": "bench/lists.py",
        }
        kind = extra[0] if extra[:1] and extra[0] in scripts else None
        script = scripts.get(kind or "", "bench/run.py")
        options = [argument for argument in extra[kind is not None :] if argument != "--"]
        bootstrap.uv("sync", "--quiet", cwd=ROOT)
        bootstrap.uv("run", "python", script, *options, cwd=ROOT)
        return
    if "release" in argv:
        release()
        argv = [target for target in argv if target != "release"]
        if not argv:
            return
    bootstrap.uv("sync", "--quiet", cwd=ROOT)
    for target in argv:
        if target in {"lint", "test"}:
            bootstrap.uv("run", "ruff", "check", ".", cwd=ROOT)
            bootstrap.uv("run", "ruff", "format", "--check", ".", cwd=ROOT)
            bootstrap.uv("run", "mypy", cwd=ROOT)
        if target == "test":
            bootstrap.uv("run", "pytest", "-n", "auto", "--dist", "loadgroup", *extra, cwd=ROOT)
        if target == "lock":
            bootstrap.uv("run", "python", "scripts/lock.py", cwd=ROOT)


if __name__ == "__main__":
    main(sys.argv[1:])
