"""Every variant renders cleanly and passes ruff, mypy --strict and its own tests."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import NestedPytest, output, own_temproot, project_env, run
from tests.variants import VARIANTS, Variant

JINJA_LEFTOVER = re.compile(r"{{|}}|{%|%}")
# What a developer's shell or direnv may export. Without the rendered conftest clearing them,
# ENVIRONMENT=production fails test_json_is_the_production_default.
EXPORTED_SETTINGS = {"ENVIRONMENT": "production", "LOG_FORMAT": "json", "DB_MAX_OVERFLOW": "0"}


def variant_params() -> list[object]:
    return [pytest.param(v, id=v.id, marks=pytest.mark.xdist_group(v.id)) for v in VARIANTS]


@pytest.fixture(params=variant_params())
def variant(request: pytest.FixtureRequest) -> Variant:
    value: Variant = request.param
    return value


@pytest.fixture
def project(variant: Variant, rendered: Callable[[Variant], Path]) -> Path:
    return rendered(variant)


# Made by running the project's tools (other tests share the rendered folder), not by Copier.
NOT_RENDERED = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv"}


def test_no_leftover_jinja(project: Path) -> None:
    rendered_files = [
        path
        for path in project.rglob("*")
        if path.is_file() and not NOT_RENDERED & set(path.relative_to(project).parts)
    ]
    assert len(rendered_files) > 20
    leftovers = [
        str(path.relative_to(project))
        for path in rendered_files
        if JINJA_LEFTOVER.search(path.read_text(encoding="utf-8"))
    ]
    assert not leftovers, leftovers


def test_expected_files(project: Path, variant: Variant) -> None:
    assert [p for p in variant.present if not (project / p).exists()] == []
    assert [p for p in variant.absent if (project / p).exists()] == []


def test_answers_file_has_no_secrets(project: Path, variant: Variant) -> None:
    answers = (project / ".copier-answers.yml").read_text()
    assert "provider:" in answers
    assert "password" not in answers.lower()


def test_ruff(project: Path) -> None:
    check = run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
    assert check.returncode == 0, output(check)
    fmt = run([sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "."], project)
    assert fmt.returncode == 0, output(fmt)


def test_mypy_strict(project: Path, mypy_cache: Path) -> None:
    """Strict, over src/ (migrations included) and tests/."""
    proc = run([sys.executable, "-m", "mypy"], project, project_env(project, mypy_cache))
    assert proc.returncode == 0, output(proc)
    # Every Python file was checked, the migrations' env.py and revisions among them.
    python_files = [*project.glob("src/**/*.py"), *project.glob("tests/**/*.py")]
    assert any("versions" in p.parts for p in python_files)
    assert f"in {len(python_files)} source files" in proc.stdout, output(proc)


def test_own_tests(
    project: Path,
    variant: Variant,
    database_for: Callable[[str], str],
    mypy_cache: Path,
    nested_pytest: NestedPytest,
) -> None:
    """The rendered project's pytest, on its own database of the shared server, from a shell
    that exports settings the tests must not pick up (the rendered conftest clears them)."""
    env = {
        **project_env(project, mypy_cache),
        "TEST_DATABASE_URL": database_for(variant.id),
        "FUZZ_MAX_EXAMPLES": str(variant.fuzz_examples),
        **EXPORTED_SETTINGS,
    }
    proc = nested_pytest(project, env)
    assert proc.returncode == 0, output(proc)
    assert re.search(r"\d+ passed", proc.stdout), output(proc)
    assert "failed" not in proc.stdout.splitlines()[-1], output(proc)


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.full_sync], ids=lambda v: v.id)
def test_readme_test_command_from_scratch(
    variant: Variant,
    rendered: Callable[[Variant], Path],
    tmp_path: Path,
    database_for: Callable[[str], str],
) -> None:
    """``python3 tasks.py test`` in a fresh copy: its own ``uv sync``, no TEST_DATABASE_URL.

    Then the rendered CI workflow's commands, as GitHub Actions would run them, and the
    pre-commit hooks' commands; the Dependabot configuration names uv and the actions.
    """
    project = tmp_path / "fresh"
    shutil.copytree(rendered(variant), project)
    env = {"UV_PROJECT_ENVIRONMENT": str(project / ".venv"), **own_temproot(project)}
    environ = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    environ.pop("TEST_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "tasks.py", "test", "--", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, output(proc)
    assert re.search(r"\d+ passed", proc.stdout), output(proc)
    assert (project / "uv.lock").is_file()

    # The rendered GitHub Actions workflow: every `run:` step, with its env, here.
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["check"]
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    steps = [step["run"] for step in job["steps"] if "run" in step]
    assert steps[-2:] == ["uv run alembic upgrade head", "uv run alembic check"], steps
    url = database_for("workflow")  # stands in for the service container
    step_env = {**job["env"], "TEST_DATABASE_URL": url, "DATABASE_URL": url}
    assert "UV_PYTHON" not in step_env  # uv takes .python-version's Python, here this one
    dependabot = yaml.safe_load((project / ".github/dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in dependabot["updates"]}
    assert ecosystems == {"uv", "github-actions"}
    # The pre-commit hooks are the project's own tools: each hook's entry, on every file.
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert [hook["id"] for hook in hooks["hooks"]] == [
        "ruff-check",
        "ruff-format",
        "mypy",
        "lint-migrations",
    ]
    for hook in hooks["hooks"]:
        files = [] if hook.get("pass_filenames") is False else ["."]
        steps.append(shlex.join([*shlex.split(hook["entry"]), *files]))
    printed = {}
    for command in steps:
        step = subprocess.run(
            shlex.split(command),
            cwd=project,
            env={**environ, **env, **step_env},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert step.returncode == 0, output(step)
        printed[command] = step.stdout
    # Coverage: measured, and held to the project's fail_under.
    coverage = printed["uv run pytest --cov --slow"]
    assert re.search(r"Required test coverage of [\d.]+% reached", coverage)
