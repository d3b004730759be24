"""``python3 tasks.py update`` from every release keeps users' work, reports conflicts, and can
switch answers.

Releases are the tags ``tasks.py release`` creates from CHANGELOG.md, in a temporary clone
(tags need not travel with the clone CI tests). Each project updates to this repository's
HEAD the way its own README says: ``python3 tasks.py update`` from 0.3.0 on, ``copier
update`` before (those projects' tasks.py has no ``update`` yet).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy, run_update

from tasks import releases
from tests.conftest import ROOT, clone_with_releases, git, output, run, tool
from tests.variants import BASE

pytestmark = pytest.mark.slow  # see conftest.py: run by --slow and on CI

VERSIONS = [version for version, _commit in releases()]
NEWEST = VERSIONS[0]
PKG = Path("src/my_service")
CONFLICT = re.compile(r"^(<<<<<<<|>>>>>>>)", re.MULTILINE)

NOTE_MODEL = '''"""A model the user added after rendering."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from my_service.db.base import Base, TimestampMixin


class Note(TimestampMixin, Base):
    """A short note."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(500))
'''

NOTE_MIGRATION = '''"""Notes (the user's own migration).

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the notes table."""
    now = sa.text("now()")
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        *[
            sa.Column(name, sa.DateTime(timezone=True), server_default=now, nullable=False)
            for name in ("created_at", "updated_at")
        ],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )


def downgrade() -> None:
    """Drop the notes table."""
    op.drop_table("notes")
'''


def render(template: Path, destination: Path, ref: str, **answers: Any) -> Path:
    """Render the template at ``ref`` and commit it, as a user starting a project does."""
    run_copy(
        str(template),
        str(destination),
        data={**BASE, **answers},
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=ref,
    )
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "rendered")
    return destination


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def make_user_edits(project: Path) -> dict[Path, str]:
    """A new model and migration, a changed route (and its test), a changed setting, and
    the project's own uv.lock (``uv sync`` makes one; releases before 0.4.0 shipped none)."""
    lock = run([tool("uv"), "lock", "--quiet"], project)
    assert lock.returncode == 0, output(lock)
    (project / PKG / "models/note.py").write_text(NOTE_MODEL)
    (project / PKG / "migrations/versions/0100_notes.py").write_text(NOTE_MIGRATION)
    edit(
        project / PKG / "models/__init__.py",
        "from my_service.db.base import Base\n",
        "from my_service.db.base import Base\n"
        "from my_service.models.note import Note  # noqa: F401\n",
    )
    edit(
        project / PKG / "api/health.py",
        'return {"status": "ok"}',
        'return {"status": "ok", "service": "my-service"}',
    )
    edit(
        project / "tests/test_health.py",
        'assert response.json() == {"status": "ok"}',
        'assert response.json() == {"status": "ok", "service": "my-service"}',
    )
    edit(
        project / PKG / "settings.py",
        "db_pool_size: int = Field(default=5, ge=1)",
        "db_pool_size: int = Field(default=12, ge=1)",
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "user edits")
    return {
        PKG / "models/note.py": "class Note(TimestampMixin, Base)",
        PKG / "migrations/versions/0100_notes.py": 'revision: str = "0100"',
        PKG / "models/__init__.py": "from my_service.models.note import Note",
        PKG / "api/health.py": '"service": "my-service"',
        Path("tests/test_health.py"): '{"status": "ok", "service": "my-service"}',
        PKG / "settings.py": "default=12",
        Path("uv.lock"): 'name = "my-service"',
    }


# Projects from before the python_version question take their Dockerfile's 3.12, which uv
# would download (this machine has no network): the update picks the Python running here.
THIS_PYTHON = ("--data", f"python_version={sys.version_info[0]}.{sys.version_info[1]}")


def update(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The rendered README's command, to the template's HEAD (newer than its last tag)."""
    command = [sys.executable, "tasks.py", "update", *THIS_PYTHON, *arguments, "--vcs-ref", "HEAD"]
    return run(command, project)


def update_as_its_readme_says(project: Path) -> None:
    """``python3 tasks.py update`` where the project has it, else ``copier update``."""
    if '"update":' in (project / "tasks.py").read_text():
        proc = update(project)
        assert proc.returncode == 0, output(proc)
        assert "update: no conflicts" in proc.stdout, output(proc)
        return
    run_update(
        str(project),
        data={THIS_PYTHON[1].split("=")[0]: THIS_PYTHON[1].split("=")[1]},
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
        skip_answered=True,
    )


def files(project: Path) -> dict[Path, str]:
    skip = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv", ".tools"}
    return {
        path.relative_to(project): path.read_text()
        for path in project.rglob("*")
        if path.is_file() and not skip & set(path.relative_to(project).parts)
    }


def release_params() -> list[object]:
    return [
        pytest.param(v, id=f"v{v}", marks=pytest.mark.xdist_group(f"update-{v}")) for v in VERSIONS
    ]


@pytest.mark.parametrize("version", release_params())
def test_update_keeps_user_edits(
    version: str,
    template: Path,
    tmp_path: Path,
    checks_pass: Callable[[Path, str], str],
) -> None:
    project = render(template, tmp_path / "project", f"v{version}")
    assert f"_commit: v{version}" in (project / ".copier-answers.yml").read_text()
    edits = make_user_edits(project)
    untouched_before = {p: t for p, t in files(project).items() if p not in edits}
    relocks = 'uv("lock"' in (project / "tasks.py").read_text()

    update_as_its_readme_says(project)
    if not relocks:  # CHANGELOG 0.4.0's project action for older projects: `uv lock`
        lock = run([tool("uv"), "lock", "--quiet"], project)
        assert lock.returncode == 0, output(lock)

    after = files(project)
    conflicted = [str(p) for p, text in after.items() if CONFLICT.search(text)]
    assert conflicted == [], conflicted
    assert not [p for p in after if p.suffix == ".rej"]
    for path, marker in edits.items():
        assert marker in after[path], f"user edit lost in {path}"
    # Files the user never touched are exactly what the template renders today.
    fresh = files(render(template, tmp_path / "fresh", "HEAD"))
    for path in untouched_before:
        if path.name == ".copier-answers.yml" or (
            path in fresh and path == PKG / "models/__init__.py"
        ):
            continue
        if path in fresh:
            assert after[path] == fresh[path], f"{path} differs from a fresh render"
    assert set(fresh) - set(after) == set(), "files the new version adds are missing"
    # The project's lock was not merged into, and was locked again for the new pyproject.
    relocked = run([tool("uv"), "lock", "--check", "--offline"], project)
    assert relocked.returncode == 0, output(relocked)
    checks_pass(project, f"update_edits_{version}")


@pytest.mark.xdist_group("update-conflict")
def test_update_reports_conflicts(tmp_path: Path) -> None:
    """A line the user and a newer template both changed: named, unmerged, exit status 1."""
    template = clone_with_releases(tmp_path / "copier-fastapi-postgres")
    project = render(template, tmp_path / "project", f"v{NEWEST}")
    line = '"uq": "uq_%(table_name)s_%(column_0_N_name)s"'
    # The template's next change, and the user's own, to the same line.
    edit(template / "template/src/{{ package_name }}/db/base.py", line, line.replace("uq_", "uk_"))
    git(template, "commit", "-qam", "template: unique constraints named uk_")
    base = project / PKG / "db/base.py"
    edit(base, line, line.replace('s"', 's_key"'))
    git(project, "commit", "-qam", "our own unique-constraint names")

    proc = update(project)
    assert proc.returncode == 1, output(proc)
    assert "conflicts to resolve in:\n  src/my_service/db/base.py\n" in proc.stderr, output(proc)
    unmerged = run(["git", "ls-files", "--unmerged"], project).stdout
    assert "src/my_service/db/base.py" in unmerged, unmerged
    assert "<<<<<<< before updating" in base.read_text()


@pytest.mark.xdist_group("update-switch")
def test_update_switches_answers(
    template: Path, tmp_path: Path, checks_pass: Callable[[Path, str], str]
) -> None:
    """local -> neon and no models -> SQLModel models, in one update."""
    project = render(template, tmp_path / "project", f"v{NEWEST}")
    proc = update(
        project, "--data", "provider=neon", "--data", "with_models=true", "--data", "orm=sqlmodel"
    )
    assert proc.returncode == 0, output(proc)
    versions = template / "template" / "src" / "{{ package_name }}" / "migrations" / "versions"
    names = sorted(re.sub(r"\{%.*?%\}", "", path.name) for path in versions.iterdir())
    added = ", ".join(name for name in names if name.endswith(".py") and name[:4] > "0001")
    assert f"new migrations {added}: run python3 tasks.py migrate" in proc.stdout
    answers = (project / ".copier-answers.yml").read_text()
    assert "provider: neon" in answers
    assert "orm: sqlmodel" in answers
    assert (project / PKG / "migrations/versions/0002_users_and_tasks.py").is_file()
    assert 'db_provider: ProviderName = "neon"' in (project / PKG / "settings.py").read_text()
    conflicted = [str(p) for p, text in files(project).items() if CONFLICT.search(text)]
    assert conflicted == [], conflicted
    checks_pass(project, "update_switch")


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-qm", message)


@pytest.mark.xdist_group("update-anywhere")
def test_update_from_anywhere(tmp_path: Path) -> None:
    """A project rendered in Alice's clone records the template's public repository (the
    clone's origin), not her path: Bob updates it from his own clone of the project. After
    ``update --vcs-ref HEAD``, a plain ``update`` says nothing newer is released; in a
    project with no commit yet, ``update`` says what to do in one line."""
    bare = tmp_path / "public" / "copier-fastapi-postgres.git"
    git(tmp_path, "clone", "-q", "--bare", str(ROOT), str(bare))
    public = bare.as_uri()  # file:// stands in for the template's https:// URL
    alice = tmp_path / "alice" / "copier-fastapi-postgres"
    git(tmp_path, "clone", "-q", public, str(alice))
    git(alice, "tag", "v9.0.0")  # the template's next release, published
    git(alice, "push", "-q", "origin", "v9.0.0")

    made = run([sys.executable, "tasks.py", "new", "../service"], alice)
    assert made.returncode == 0, output(made)
    assert f"template: release v9.0.0, recorded as {public}\n" in made.stdout, output(made)
    project = alice.parent / "service"
    answers = (project / ".copier-answers.yml").read_text()
    assert f"_src_path: {json.dumps(public)}" in answers, answers
    assert str(alice) not in answers
    git(project, "init", "-q")
    commit_all(project, "rendered")
    shared = tmp_path / "service.git"  # the team's repository of the service
    git(tmp_path, "clone", "-q", "--bare", str(project), str(shared))

    # The template's next release, then Bob, elsewhere, takes it.
    readme = alice / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nA line of release 9.0.1.\n")
    commit_all(alice, "template: a line in the README")
    git(alice, "tag", "v9.0.1")
    git(alice, "push", "-q", "origin", "HEAD:main", "v9.0.1")
    bob = tmp_path / "bob" / "service"
    git(tmp_path, "clone", "-q", str(shared), str(bob))
    taken = run([sys.executable, "tasks.py", "update"], bob)
    assert taken.returncode == 0, output(taken)
    assert "A line of release 9.0.1." in (bob / "README.md").read_text()
    assert "_commit: v9.0.1\n" in (bob / ".copier-answers.yml").read_text()
    commit_all(bob, "template 9.0.1")

    # An unreleased commit, taken with --vcs-ref HEAD; then a plain update has nothing newer.
    readme.write_text(readme.read_text() + "\nA line after 9.0.1.\n")
    commit_all(alice, "template: another line")
    git(alice, "push", "-q", "origin", "HEAD:main")
    ahead = run([sys.executable, "tasks.py", "update", "--vcs-ref", "HEAD"], bob)
    assert ahead.returncode == 0, output(ahead)
    commit_all(bob, "template main")
    again = run([sys.executable, "tasks.py", "update"], bob)
    assert again.returncode == 0, output(again)
    assert re.search(
        r"^update: already on v9\.0\.1-1-g[0-9a-f]+, after the newest release v9\.0\.1; ",
        again.stdout,
    ), output(again)
    assert "Downgrades" not in again.stderr

    # A project rendered but not committed yet.
    fresh = run([sys.executable, "tasks.py", "new", "../uncommitted"], alice)
    assert fresh.returncode == 0, output(fresh)
    refused = run([sys.executable, "tasks.py", "update"], alice.parent / "uncommitted")
    assert refused.returncode == 1, output(refused)
    assert refused.stderr.count("\n") == 1, output(refused)
    assert "git init && git add -A && git commit" in refused.stderr, output(refused)
