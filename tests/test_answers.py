"""Bad answers are refused by a validator, with a message that names the question."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.variants import BASE, REFUSED, Refused


@pytest.mark.parametrize("case", REFUSED, ids=[r.id for r in REFUSED])
def test_refused(copie_session: Any, case: Refused) -> None:
    result = copie_session.copy(extra_answers={**BASE, **case.answers})
    assert result.exception is not None, f"{case.answers} was accepted"
    message = str(result.exception)
    for word in case.message:
        assert word in message, message


def test_slug_is_derived_from_the_name(copie_session: Any) -> None:
    result = copie_session.copy(extra_answers={"project_name": "Billing API (EU)"})
    assert result.exception is None, repr(result.exception)
    assert result.answers["project_slug"] == "billing-api-eu"
    assert (result.project_dir / "src" / "billing_api_eu" / "app.py").is_file()


def test_python_version_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new project takes the Python rendering it; one being updated keeps its image's."""
    spec = importlib.util.spec_from_file_location("context", ROOT / "extensions" / "context.py")
    assert spec is not None
    assert spec.loader is not None
    context = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "context", context)  # dataclasses look it up there
    spec.loader.exec_module(context)
    python_default, pythons = context.python_default, context.PYTHONS
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert python_default(tmp_path) == (running if running in pythons else "3.12")
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS b\n"
    )
    assert python_default(tmp_path) == "3.12"
