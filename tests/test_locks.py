"""Every rendered project ships a current ``uv.lock`` (``python3 tasks.py lock`` refreshes
them): ``uv lock --check`` passes in each dependency set, under any project name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import output, run, tool
from tests.variants import BY_ID, Variant

HINT = "the shipped lock is stale: run python3 tasks.py lock and commit template/.locks"


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(BY_ID[name], id=name, marks=pytest.mark.xdist_group(name))
        for name in ("default", "local-queue-sqlalchemy", "local-queue-sqlmodel")
    ],
)
def test_shipped_lock_is_current(variant: Variant, rendered: Callable[[Variant], Path]) -> None:
    project = rendered(variant)
    proc = run([tool("uv"), "lock", "--check", "--offline"], project)
    assert proc.returncode == 0, f"{HINT}\n{output(proc)}"


def test_lock_names_the_project(copie_session: Any) -> None:
    result = copie_session.copy(extra_answers={"project_name": "Lock Check"})
    assert result.exception is None, repr(result.exception)
    project = Path(result.project_dir)
    assert 'name = "lock-check"' in (project / "uv.lock").read_text()
    proc = run([tool("uv"), "lock", "--check", "--offline"], project)
    assert proc.returncode == 0, f"{HINT}\n{output(proc)}"
