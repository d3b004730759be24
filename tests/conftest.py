"""Fixtures for the template's own tests.

Each variant is rendered once per test run (``rendered``), and every rendered project runs
its checks with this environment's interpreter and tools: one dependency environment for
all variants (``default`` additionally does a full ``uv sync`` of its own). One embedded
PostgreSQL serves the whole run, shared by xdist workers; each variant gets a database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fasteners import InterProcessLock

from tasks import releases
from tests.forkserver import PytestServer
from tests.variants import BASE, SHALLOW_FUZZ, Variant

ROOT = Path(__file__).resolve().parent.parent


def run(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output for the assertion message."""
    return subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tool(name: str) -> str:
    """A command installed in this environment (uv, hadolint), not looked up on PATH."""
    return str(Path(sys.executable).parent / name)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """What a failed command printed, for assertion messages."""
    return f"$ {' '.join(map(str, proc.args))}\n{proc.stdout}\n{proc.stderr}"


def git(cwd: Path, *args: str) -> None:
    """``git ARGS`` in ``cwd`` as a user with an identity (commits need one); must succeed."""
    proc = run(["git", "-c", "user.name=User", "-c", "user.email=user@example.com", *args], cwd)
    assert proc.returncode == 0, output(proc)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL of the run's one embedded server (started by the first worker that asks)."""
    from .emulation import embedded_server

    shared = tmp_path_factory.getbasetemp().parent  # the same for every xdist worker
    with InterProcessLock(shared / "postgres.lock"):
        server = embedded_server(shared / "postgres")
    return str(server.get_uri())


@pytest.fixture(scope="session")
def database_for(postgres_url: str) -> Any:
    """``database_for(name)``: a fresh database on the shared server; returns its URL."""
    import asyncio

    import asyncpg

    async def create(name: str) -> None:
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    def make(name: str) -> str:
        name = f"{name}_{uuid.uuid4().hex[:8]}".replace("-", "_")
        asyncio.run(create(name))
        return postgres_url.replace("/postgres?", f"/{name}?")

    return make


@pytest.fixture(scope="session")
def rendered(copie_session: Any) -> Any:
    """``rendered(variant)``: the variant rendered once per worker (pytest-copie)."""
    cache: dict[str, Path] = {}

    def get(variant: Variant) -> Path:
        if variant.id not in cache:
            result = copie_session.copy(extra_answers={**BASE, **variant.answers})
            # pytest-copie returns a Result even when rendering raised.
            assert result.exception is None, repr(result.exception)
            assert result.project_dir is not None
            cache[variant.id] = Path(result.project_dir)
        return cache[variant.id]

    return get


@pytest.fixture(scope="session")
def mypy_cache(worker_id: str) -> Path:
    """One mypy cache per worker, shared by every project it checks, and kept between runs
    (``.mypy_cache/`` is git-ignored; a fresh clone, as CI's, starts cold).

    Third-party modules dominate a cold run (about 10 s); mypy reuses an entry whose
    source hash matches, whatever the project's path, so the next project takes about 1 s.
    """
    cache = ROOT / ".mypy_cache" / f"variants-{worker_id}"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


# A rendered project's pytest, run from this environment: without this repository's own
# plugins (pytest-copie imports Copier: half a second per run).
NESTED_PYTEST = ["-q", "-p", "no:cacheprovider", "-p", "no:copie", "-p", "no:xdist"]


NestedPytest = Callable[[Path, Mapping[str, str]], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def nested_pytest(pytestconfig: pytest.Config) -> Iterator[NestedPytest]:
    """``nested_pytest(project, env)``: the project's pytest (NESTED_PYTEST), env added; with
    its slow tests when this run has its own."""
    server = PytestServer()
    slow = run_slow(pytestconfig)

    def run_pytest(project: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        # Projects from releases before the quick/slow split have no --slow: they run all.
        knows_slow = '"--slow"' in (project / "tests" / "conftest.py").read_text()
        args = [*NESTED_PYTEST, *(["--slow"] if slow and knows_slow else [])]
        return server.run(project, {**os.environ, **env}, args)

    yield run_pytest
    server.close()


def own_temproot(project: Path) -> dict[str, str]:
    """A pytest temp root of its own for a nested pytest run.

    Every pytest run resets ``/tmp/pytest-of-<user>`` to mode 0700 when it starts. As root,
    the embedded and emulated servers run as other system users, so a nested run sharing
    that folder would lock them out of their data directories in the middle of this run.
    """
    temproot = project.parent / f"{project.name}-pytest-tmp"
    temproot.mkdir(exist_ok=True)
    return {"PYTEST_DEBUG_TEMPROOT": str(temproot)}


def project_env(project: Path, mypy_cache: Path) -> dict[str, str]:
    """Environment for running a rendered project's tools from this environment."""
    return {
        "PYTHONPATH": str(project / "src"),
        "MYPY_CACHE_DIR": str(mypy_cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **own_temproot(project),
    }


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before any test: the embedded servers' system user, as root (``ensure_embedded_user``)."""
    from .emulation import ensure_embedded_user

    ensure_embedded_user()


# Slow tests: the README's commands as a user types them, updates across releases, the
# image, Prometheus, fresh `uv sync`s; and each variant's own slow tests. `python3 tasks.py
# test` leaves them out unless CI=true (as .ci/run and CI services set) or `-- --slow`.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the slow tests (CI does)")


def run_slow(config: pytest.Config) -> bool:
    """``--slow``, or on CI (``CI=true``)."""
    return bool(config.getoption("--slow")) or os.environ.get("CI") == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if run_slow(config):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        left_out = set(slow)
        items[:] = [item for item in items if item not in left_out]


def pytest_report_header(config: pytest.Config) -> str:
    if run_slow(config):
        return "slow tests: run (the variants' own too)"
    return "slow tests: left out (`python3 tasks.py test -- --slow` runs them; CI=true does too)"


# Test function -> the phase it is reported under (test_variants.py); setup there is mostly
# rendering (the ``rendered`` fixture), the first time a worker meets a variant.
PHASES = {
    "test_no_leftover_jinja": "render checks",
    "test_expected_files": "render checks",
    "test_answers_file_has_no_secrets": "render checks",
    "test_ruff": "ruff",
    "test_mypy_strict": "mypy",
    "test_own_tests": "variants' pytest",
    "test_readme_test_command_from_scratch": "README test command (uv sync)",
}
VARIANT_CHECKS = {name for name in PHASES if name != "test_readme_test_command_from_scratch"}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many variants passed every check, and where the time went (summed over workers)."""
    from collections import Counter, defaultdict

    seconds: Counter[str] = Counter()
    passed: defaultdict[str, set[str]] = defaultdict(set)
    refused = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not hasattr(report, "when") or not hasattr(report, "duration"):
                continue
            path, _, name = report.nodeid.partition("::")
            function, _, param = name.partition("[")
            file = Path(path).stem
            if file == "test_variants":
                phase = "render" if report.when == "setup" else PHASES.get(function, function)
                if report.when == "call" and report.passed and function in VARIANT_CHECKS:
                    passed[param.rstrip("]")].add(function)
            else:
                phase = file.removeprefix("test_")
                refused += function == "test_refused" and report.when == "call" and report.passed
            seconds[phase] += report.duration
    if not seconds:
        return
    from tests.variants import REFUSED, VARIANTS

    complete = [v.id for v in VARIANTS if passed[v.id] == VARIANT_CHECKS]
    terminalreporter.write_sep("-", "variants")
    terminalreporter.write_line(
        f"{len(complete)} of {len(VARIANTS)} variants rendered and passed every check (no "
        "leftover Jinja, files present/absent, answers without secrets, ruff check and format, "
        f"mypy --strict, their own pytest); {refused} of {len(REFUSED)} bad answers refused"
    )
    terminalreporter.write_line(
        "seconds, summed over workers: "
        + ", ".join(f"{phase} {total:.0f}" for phase, total in seconds.most_common())
    )


# Releases, and the checks a rendered project must pass (test_update, test_release_chain).
def clone_with_releases(destination: Path) -> Path:
    """A clone of this repository with its release tags (``python3 tasks.py release``)."""
    git(destination.parent, "clone", "-q", str(ROOT), str(destination))
    proc = run([sys.executable, "tasks.py", "release"], destination)
    assert proc.returncode == 0, output(proc)
    tags = run(["git", "tag"], destination).stdout.split()
    assert sorted(tags) == sorted(f"v{version}" for version, _commit in releases()), tags
    return destination


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tagged clone for the tests that do not change the template."""
    return clone_with_releases(tmp_path_factory.mktemp("template") / "copier-fastapi-postgres")


@pytest.fixture
def checks_pass(
    mypy_cache: Path, database_for: Callable[[str], str], nested_pytest: NestedPytest
) -> Callable[[Path, str], str]:
    """``checks_pass(project, name)``: ruff, ruff format, mypy --strict and its own tests;
    returns the tests' summary line (``236 passed in 60.1s``)."""

    def check(project: Path, name: str) -> str:
        env = {
            **project_env(project, mypy_cache),
            "TEST_DATABASE_URL": database_for(name),
            "FUZZ_MAX_EXAMPLES": str(SHALLOW_FUZZ),  # the variants' tests fuzz at full depth
        }
        for command in (
            ["ruff", "check", "--no-cache", "."],
            ["ruff", "format", "--no-cache", "--check", "."],
            ["mypy"],
        ):
            proc = run([sys.executable, "-m", *command], project, env)
            assert proc.returncode == 0, output(proc)
        proc = nested_pytest(project, env)
        assert proc.returncode == 0, output(proc)
        return proc.stdout.strip().splitlines()[-1]

    return check
