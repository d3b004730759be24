"""Refresh the lock files the template ships (``python3 tasks.py lock``).

A rendered project has a ``uv.lock`` from its first minute, so that its Dockerfile and CI
install with ``--locked`` the versions this repository tested. The lock depends on the
dependency set only (no models, SQLAlchemy models, SQLModel models) and on the project's
name; ``template/.locks/SET.lock`` holds each, its name replaced by ``{{ project_slug }}``,
and ``template/uv.lock.jinja`` includes the one a project needs.

For each set: render it from this working tree, ``uv lock`` there (starting from the
shipped lock, so unchanged pins stay), and store the result. ``tests/test_locks.py`` fails
when a shipped lock is stale.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "template" / ".locks"
SETS = {
    "none": {},
    "sqlalchemy": {"with_models": True, "orm": "sqlalchemy"},
    "sqlmodel": {"with_models": True, "orm": "sqlmodel"},
}
NAME = 'name = "my-service"'
TEMPLATED_NAME = 'name = "{{ project_slug }}"'


def uv() -> str:
    """The uv of this environment (a dev dependency)."""
    return str(Path(sys.executable).parent / "uv")


def refresh(lock_set: str, answers: dict[str, object]) -> None:
    """Render ``lock_set``, lock it, store its lock."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        run_copy(
            str(ROOT),
            str(project),
            data={"project_name": "My Service", **answers},
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
        )
        lock = project / "uv.lock"
        if not lock.read_text().strip():
            lock.unlink()  # the first time: nothing shipped yet
        subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True)
        text = lock.read_text()
        assert text.count(NAME) == 1, f"{lock_set}: the project's name is not once in uv.lock"
        (LOCKS / f"{lock_set}.lock").write_text(text.replace(NAME, TEMPLATED_NAME))
        print(f"template/.locks/{lock_set}.lock")


def main() -> None:
    LOCKS.mkdir(exist_ok=True)
    for lock_set, answers in SETS.items():
        (LOCKS / f"{lock_set}.lock").touch()
        refresh(lock_set, answers)


if __name__ == "__main__":
    main()
