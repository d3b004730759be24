"""The READMEs' commands, typed as a user would: a fresh clone, no uv on PATH.

The template README's scaffold command runs with a PEP 668 ("externally managed") Python,
then every command the rendered README shows runs in that project: ``dev`` until
``/health/ready`` answers, and while it runs ``db-url``, ``seed`` (twice), ``psql``; a new
model through ``revision``, ``migrate``, ``lint`` and ``test``; Ctrl-C, and the
``kill -9`` / Ctrl-C / SIGTERM / SIGHUP lifecycle of the embedded server; ``update``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, output, own_temproot
from tests.emulation import free_port, orphaned_servers, require

pytestmark = pytest.mark.slow  # see conftest.py: run by --slow and on CI

DEBIAN_PYTHON = Path("/usr/bin/python3")
TIMEOUT = 900


def pep668_python() -> Path:
    """A Python whose installation is marked externally managed (Debian's, in CI)."""
    stdlib = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not stdlib or not (Path(stdlib) / "EXTERNALLY-MANAGED").is_file():
        message = f"{DEBIAN_PYTHON} is not a PEP 668 (externally managed) Python"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DEBIAN_PYTHON


def user_environment(python: Path, scratch: Path) -> dict[str, str]:
    """A newcomer's environment: PATH without uv, nothing of this test run's.

    One thing is added: nested pytest runs (``tasks.py test``) get a temp root of their own
    (``own_temproot``), or they would reset this run's to mode 0700 and lock the embedded
    server's system user out of the project's files.
    """
    path = [
        entry
        for entry in os.environ["PATH"].split(os.pathsep)
        if entry and not (Path(entry) / "uv").exists() and "pyenv" not in entry
    ]
    path.insert(0, str(python.parent))
    skip = ("UV_", "VIRTUAL_ENV", "PYTHON", "DATABASE_", "TEST_DATABASE", "PYTEST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return {**env, "PATH": os.pathsep.join(path), **own_temproot(scratch)}


@dataclass
class User:
    """Types ``python3 tasks.py ...`` commands with a PEP 668 Python and no uv on PATH."""

    python: Path
    env: dict[str, str]

    def run(
        self, cwd: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.python), "tasks.py", *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check:
            assert proc.returncode == 0, output(proc)
        return proc

    @contextmanager
    def dev(self, project: Path, port: int, *args: str) -> Iterator[subprocess.Popen[str]]:
        """``python3 tasks.py dev ARGS`` in its own process group, until /health/ready is 200."""
        proc = subprocess.Popen(
            [str(self.python), "tasks.py", "dev", *args],
            cwd=project,
            env={**self.env, "PORT": str(port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # as a terminal's foreground job: Ctrl-C reaches all
        )
        try:
            wait_ready(port, proc)
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def wait_ready(port: int, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/health/ready"
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dev exited {proc.returncode}:\n{read_all(proc)}"
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"/health/ready never answered 200 within {timeout} s")


def read_all(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.read()


def ctrl_c(proc: subprocess.Popen[str], *, again_after: str | None = None) -> str:
    """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group. With
    ``again_after``, Ctrl-C is pressed again and again from the moment a line containing it
    is written until the process exits."""
    os.killpg(proc.pid, signal.SIGINT)
    head = ""
    if again_after is not None:
        assert proc.stdout is not None
        for line in proc.stdout:
            head += line
            if again_after in line:
                break
        while proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    out = head + out
    assert proc.returncode in {0, 130}, out
    assert "Traceback" not in out, out
    return out


def postgres_processes(data_dir: Path) -> list[int]:
    """Pids of PostgreSQL servers running on ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        with suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if command[0].endswith(b"postgres") and str(data_dir).encode() in command:
                found.append(int(entry.name))
    return found


@pytest.fixture
def user(tmp_path: Path) -> User:
    python = pep668_python()
    refused = subprocess.run(
        [str(python), "-m", "pip", "install", "--user", "uv"],
        capture_output=True,
        text=True,
        check=False,
    )
    # What the old README told users to do: refused on such a Python.
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr
    return User(python, user_environment(python, tmp_path / "scratch"))


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A fresh clone of this repository (committed work only, no tags)."""
    clone = tmp_path / "copier-fastapi-postgres"
    git(tmp_path, "clone", "-q", str(ROOT), str(clone))
    return clone


PROJECT_MODEL = {
    "sqlalchemy": '''"""A project: a team's, with names and slugs unique per team."""

import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from my_service.db.base import Base


class Team(Base):
    """Owns projects."""

    __tablename__ = "teams"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Project(Base):
    """A named group of work."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("team_id", "name"), UniqueConstraint("team_id", "slug"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
''',
    "sqlmodel": '''"""A project: a user's, with names and slugs unique per owner."""

import uuid

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Project(SQLModel, table=True):
    """A named group of work."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("owner_id", "name"),
        UniqueConstraint("owner_id", "slug"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    slug: str = Field(max_length=100)
''',
}


# What the composite constraints must be named: after all their columns.
CONSTRAINTS = {
    "sqlalchemy": (
        "uq_projects_team_id_name",
        "uq_projects_team_id_slug",
        "fk_projects_team_id_teams",
    ),
    "sqlmodel": (
        "uq_projects_owner_id_name",
        "uq_projects_owner_id_slug",
        "fk_projects_owner_id_users",
    ),
}


def add_model(project: Path, orm: str) -> None:
    """What the rendered README says: a model module, imported in models/__init__.py."""
    package = project / "src" / "my_service"
    (package / "models" / "project.py").write_text(PROJECT_MODEL[orm])
    init = package / "models" / "__init__.py"
    line = "from my_service.models.project import Project  # noqa: F401\n"
    anchor = "\n# Alembic compares"  # the end of the imports
    init.write_text(init.read_text().replace(anchor, line + anchor, 1))


@pytest.mark.parametrize(
    ("answers", "orm"),
    [
        pytest.param([], "sqlalchemy", id="default", marks=pytest.mark.xdist_group("readme-a")),
        pytest.param(
            ["--data", "with_models=true", "--data", "orm=sqlmodel"],
            "sqlmodel",
            id="sqlmodel-models",
            marks=pytest.mark.xdist_group("readme-b"),
        ),
    ],
)
def test_readme_commands(user: User, template: Path, answers: list[str], orm: str) -> None:
    # Template README: scaffold (and run, below) from a fresh clone.
    user.run(template, "new", "../my-service", *answers)
    project = template.parent / "my-service"
    assert (project / "tasks.py").is_file()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "rendered")

    port = free_port()
    data_dir = project / ".data" / "postgres"
    with user.dev(project, port) as dev:
        while_dev_runs(user, project, orm, with_models=bool(answers))
        stopped = ctrl_c(dev)
        assert "Finished server process" in stopped, stopped
    handles = (data_dir / ".handle_pids.json").read_text()
    assert postgres_processes(data_dir) == [], f"handles {handles}\n{stopped}"

    # The new revision lints (ruff, mypy --strict), and the suite passes: the migrations
    # round-trip (down to base and up) and `alembic check` finds no drift.
    user.run(project, "lint")
    quick = user.run(project, "test", "--", "-k", "migrations")
    assert re.search(r"\d+ passed, \d+ deselected", quick.stdout), output(quick)
    slow = user.run(project, "test", "--", "--slow", "-k", "lost_race")  # the README's --slow
    assert "slow tests: run" in slow.stdout, output(slow)
    assert re.search(r"\b4 passed", slow.stdout), output(slow)  # the deadlock cases too
    tests = user.run(project, "check")  # lint, then the whole suite
    assert re.search(r"\d+ passed", tests.stdout), output(tests)

    # kill -9 of dev leaves the server running; the next dev takes it over, and Ctrl-C
    # then stops it, even pressed again once the server has stopped, while dev exits and
    # stops PostgreSQL (`uv run` with no terminal passes the first one on a second time).
    # That dev is the README's `dev --reload` (whose restarts tests/test_tooling.py tests).
    with user.dev(project, port) as killed:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    assert postgres_processes(data_dir) != []
    with user.dev(project, port, "--reload") as dev:
        ctrl_c(dev, again_after="Finished server process")
    assert postgres_processes(data_dir) == []
    if not answers:  # the same for every variant: once is enough
        stopped_by_signals(user, project, port, data_dir)

    # Updating from the template: nothing to merge at the same version, and no conflict.
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "projects")
    updated = user.run(project, "update")
    assert "update: no conflicts" in updated.stdout, output(updated)


def dev_process(group: int) -> int:
    """The pid of ``python -m my_service dev`` in process group ``group`` (under uv run)."""
    for entry in Path("/proc").iterdir():
        with suppress(OSError, ValueError, IndexError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            python = b"python" in command[0].rsplit(b"/", 1)[-1]  # not `uv run ...`
            if python and int(fields[2]) == group and command[-3:] == [b"my_service", b"dev", b""]:
                return int(entry.name)
    pytest.fail(f"no `python -m my_service dev` in process group {group}")


def stopped_by_signals(user: User, project: Path, port: int, data_dir: Path) -> None:
    """SIGTERM (an IDE's stop button, `kill`, `timeout`) and SIGHUP (a closed terminal) stop
    dev and its PostgreSQL as Ctrl-C does, whether they reach tasks.py or dev itself, with
    the shells' exit status 128 + N."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        for target in ("tasks.py", "dev"):
            with user.dev(project, port) as dev:
                os.kill(dev.pid if target == "tasks.py" else dev_process(dev.pid), sig)
                out, _ = dev.communicate(timeout=60)
            assert dev.returncode == 128 + sig, (sig.name, target, out)
            assert "Traceback" not in out, out
            assert postgres_processes(data_dir) == [], (sig.name, target, out)


def while_dev_runs(user: User, project: Path, orm: str, *, with_models: bool) -> None:
    """db-url, seed twice, psql; a new model through format, revision and migrate."""
    url = user.run(project, "db-url").stdout.strip()
    assert url.startswith("postgresql://postgres"), url
    # The project README's line, typed into a shell: the URL is libpq's (psql, pg_dump).
    line = """psql "$(python3 tasks.py db-url --show-password)" -c 'select 6 * 7'"""
    require("psql")  # .ci/run installs PostgreSQL's client with the server
    typed = subprocess.run(
        ["/bin/sh", "-c", line.replace("python3", str(user.python))],
        cwd=project,
        env=user.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert typed.returncode == 0, output(typed)
    assert "42\n(1 row)" in typed.stdout, output(typed)
    if with_models:
        first = user.run(project, "seed").stdout
        assert "seed.user@example.com created" in first, first
        assert "5 created" in first, first
        again = user.run(project, "seed").stdout
        assert "seed.user@example.com found" in again, again
        assert "0 created, 0 updated, 5 unchanged" in again, again
    query = user.run(project, "psql", "-At", "-c", "SELECT count(*) FROM alembic_version")
    assert query.stdout.strip() == "1", output(query)

    # A new model with a foreign key and two composite unique constraints.
    add_model(project, orm)
    user.run(project, "format")
    made = user.run(project, "revision", "-m", "add projects")
    written = sorted((project / "src/my_service/migrations/versions").glob("*_add_projects.py"))
    assert len(written) == 1, output(made)
    script = written[0].read_text()
    for name in CONSTRAINTS[orm]:
        assert name in script, script
    if orm == "sqlmodel":
        assert "import sqlmodel.sql.sqltypes" in script, script
    user.run(project, "migrate")


@pytest.mark.xdist_group("readme-b")
def test_bench_commands(user: User, template: Path) -> None:
    """The README's benchmarks, shortened by their own options (figures, never thresholds)."""
    require("wrk")  # .ci/run installs it
    timings = user.run(template, "bench", "--runs", "1", "--quick").stdout
    assert re.search(r"render \(copier copy, default answers\): median [\d.]+ s", timings), timings
    quick = "rendered test suite (quick tests), embedded PostgreSQL start included: median"
    assert quick in timings, timings
    assert re.search(r"with --slow [\d.]+ s", timings), timings
    assert orphaned_servers() == []  # each bench stops its server
    start = user.run(template, "bench", "start", "--runs", "1").stdout
    for command, path in (
        ("serve", "/health/ready"),
        ("dev", "/health/ready"),
        ("bare", "/health"),
        ("typed", "/health"),
    ):
        assert re.search(rf"  {command} +/health +median [\d.]+ s", start), start
        assert re.search(rf"  {command} +{path} +median [\d.]+ s", start), start
        assert re.search(rf"  {command} +CPU to /health +median [\d.]+ s", start), start
    for command in ("serve", "dev"):
        excess = (
            rf"  {command} +[+-]\d+ ms; [+-]\d+ ms over bare, [+-]\d+ ms; [+-]\d+ ms over typed\n"
        )
        assert re.search(excess, start), start
    assert re.search(r"\(-X importtime\): [\d.]+ s\n  \w+ +[\d.]+ s", start), start
    assert orphaned_servers() == []  # each bench stops its server
    options = ("--duration", "1", "--connections", "4", "--rounds", "1", "--minimal")
    http = user.run(template, "bench", "http", *options).stdout
    for pair in ("asyncio/h11", "uvloop/httptools"):
        for endpoint in (
            "GET /api/v1/users/{id}",
            "GET /api/v1/tasks?limit=20",
            "POST /api/v1/tasks",
        ):
            assert f"{pair}, -c4, {endpoint}" in http, http
    ratios = re.findall(r"median ratio (\d+\.\d+)\n", http)  # the rendered app's
    assert len(ratios) == 6, http
    ratios += re.findall(r"median ratio (\d+\.\d+) \((?:minimal|core)\)", http)
    assert len(ratios) == 18, http
    assert all(float(ratio) > 0 for ratio in ratios), http
    assert orphaned_servers() == []  # each bench stops its server
    short = ("--duration", "3", "--connections", "4")
    replicas = user.run(template, "bench", "replicas", *short).stdout
    for label in ("two replicas, steady", "replica 2 stopped at 1s", "no replica configured"):
        assert re.search(rf"{label}.*: \d+ req/s, .* non-2xx or errors \d+;", replicas), replicas
    assert re.search(r"transactions by server: primary \d+, replica 1 \d+, replica 2 \d+", replicas)
    assert orphaned_servers() == []  # each bench stops its server
    sizes = ("--sizes", "5000,20000", "--duration", "1", "--connections", "4", "--runs", "1")
    lists = user.run(template, "bench", "lists", *sizes).stdout
    for size in ("5,000", "20,000"):
        for case in ("first page", "page 100 rows from the end", "status=todo, first page"):
            assert re.search(rf"{size} {case} +[\d.]+ ms +[\d.]+ ms \+ +[\d.]+ ms count", lists), (
                lists
            )
        assert re.search(rf"{size} tasks: +\d+ req/s, .*errors 0 ", lists), lists
    for app in ("rendered", "raw", "minimal", "core"):
        cells = re.findall(
            rf"{app} +\d+ req/s p50 +[\d.]+ ms p99 +[\d.]+ ms >1s \d+ err (\d+)", http
        )
        assert len(cells) == 6, http  # 3 endpoints x 2 pairs x 1 round
        assert set(cells) == {"0"}, http  # every response a 2xx
    assert orphaned_servers() == []


def test_scaffold_without_a_clone(user: User, template: Path) -> None:
    """The README's alternative: Copier in a venv, from the template's URL (here a path)."""
    work = template.parent
    venv = subprocess.run(
        [str(user.python), "-m", "venv", ".copier"], cwd=work, env=user.env, check=False
    )
    assert venv.returncode == 0
    pip = [str(work / ".copier/bin/pip"), "install", "-q", "copier", "copier-template-extensions"]
    assert subprocess.run(pip, cwd=work, env=user.env, check=False).returncode == 0
    copier = [str(work / ".copier/bin/copier"), "copy", "--trust", "--defaults"]
    proc = subprocess.run(
        [*copier, str(template), "my-service"],
        cwd=work,
        env=user.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, output(proc)
    project = work / "my-service"
    with user.dev(project, free_port()) as dev:
        ctrl_c(dev)
