"""A team's project carried through every release in CHANGELOG.md, one at a time, to HEAD.

The team writes what teams write: a model and its migration, an endpoint of its own that
answers 404 through the shipped error handling, a setting default changed in code, a
paragraph at the top of the README, and tests for its code. In the example-API project
(the models came with 0.2.0) it also adds an endpoint on the shipped ``get_user_or_404``.
Each hop updates the way the project's README says at that version, then does exactly what
that release's project action in CHANGELOG.md says, and no more; ruff, ruff format,
mypy --strict and the project's whole suite then pass, and no edit of the team's is lost.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from copier import run_update

from tests.conftest import output, run, tool
from tests.test_update import (
    CONFLICT,
    NOTE_MIGRATION,
    PKG,
    THIS_PYTHON,
    VERSIONS,
    commit_all,
    edit,
    files,
    make_user_edits,
    render,
)

pytestmark = pytest.mark.slow  # see conftest.py: run by --slow and on CI

NOTES_API = '''"""The team's notes: an endpoint of its own, on the template's session."""

from fastapi import APIRouter, HTTPException

from my_service.db.session import DbSession
from my_service.models.note import Note

router = APIRouter(prefix="/notes", tags=["notes"])


@router.get("/{note_id}")
async def read_note(note_id: int, session: DbSession) -> dict[str, str]:
    """One note, or a 404."""
    note = await session.get(Note, note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="note not found")
    return {"body": note.body}
'''

NOTES_TEST = '''"""The team's own endpoint, against the real database."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from my_service.models.note import Note


async def test_a_note_or_a_404(client: httpx.AsyncClient, session: AsyncSession) -> None:
    session.add(Note(id=7, body="remember the milk"))
    await session.flush()
    assert (await client.get("/notes/7")).json() == {"body": "remember the milk"}
    missing = await client.get("/notes/8")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "note not found"
'''

GREETINGS_API = '''"""The team's greeting, on the example API's ``get_user_or_404``."""

import uuid

from fastapi import APIRouter

from my_service.api.v1.users import get_user_or_404
from my_service.db.session import DbSession

router = APIRouter(prefix="/api/v1/users", tags=["greetings"])


@router.get("/{user_id}/greeting")
async def greeting(user_id: uuid.UUID, session: DbSession) -> dict[str, str]:
    """A greeting for the user, or a 404."""
    user = await get_user_or_404(session, user_id)
    return {"greeting": f"Hello, {user.name}"}
'''

GREETINGS_TEST = '''"""The team's greeting."""

import uuid

import httpx


async def test_a_greeting_or_a_404(client: httpx.AsyncClient) -> None:
    made = await client.post("/api/v1/users", json={"email": "g@example.com", "name": "Grace"})
    assert made.status_code == 201, made.text
    answer = await client.get(f"/api/v1/users/{made.json()['id']}/greeting")
    assert answer.json() == {"greeting": "Hello, Grace"}
    assert (await client.get(f"/api/v1/users/{uuid.uuid4()}/greeting")).status_code == 404
'''

INTRO = "\nThe team's billing service. On call: the platform team, #platform on chat.\n"


@dataclass(frozen=True)
class Chain:
    """A project from its first release on, and the answers it was rendered with."""

    id: str
    answers: dict[str, bool]
    first: str  # the release it starts at
    routers: tuple[str, ...]  # the team's own modules under api/

    @property
    def hops(self) -> list[str]:
        oldest_first = [f"v{version}" for version in reversed(VERSIONS)]
        return [*oldest_first[oldest_first.index(self.first) + 1 :], "HEAD"]


CHAINS = (
    Chain("own-models", {}, f"v{VERSIONS[-1]}", ("notes",)),
    # 0.1.0 had no example API: an example-API project starts at 0.2.0.
    Chain("example-api", {"with_models": True}, "v0.2.0", ("notes", "greetings")),
)


def conflicts_in(project: Path) -> list[str]:
    found = files(project)
    marked = [str(path) for path, text in found.items() if CONFLICT.search(text)]
    return marked + [str(path) for path in found if path.suffix == ".rej"]


def start(project: Path, chain: Chain) -> dict[Path, str]:
    """What the team wrote at the release it started at; what each edit leaves behind."""
    kept = make_user_edits(project)  # a model, its migration, a route, a setting, uv.lock
    if chain.answers.get("with_models"):  # the team's migration follows the head it found
        migration = project / PKG / "migrations/versions/0100_notes.py"
        assert NOTE_MIGRATION in migration.read_text()
        edit(migration, 'down_revision: str | None = "0001"', 'down_revision: str | None = "0002"')
        edit(migration, "Revises: 0001", "Revises: 0002")
        # Where ruff's import sorting puts the team's import among the example models'.
        note = "from my_service.models.note import Note  # noqa: F401\n"
        edit(project / PKG / "models/__init__.py", note, "")
        edit(
            project / PKG / "models/__init__.py",
            "from my_service.models.task import",
            note + "from my_service.models.task import",
        )
    sources = {"notes": (NOTES_API, NOTES_TEST), "greetings": (GREETINGS_API, GREETINGS_TEST)}
    app = project / PKG / "app.py"
    for module in chain.routers:
        api, test = sources[module]
        (project / PKG / f"api/{module}.py").write_text(api)
        (project / f"tests/test_{module}.py").write_text(test)
        kept[PKG / f"api/{module}.py"] = "@router.get("
        edit(
            app,
            "from my_service.api.errors import install_error_handlers\n",
            "from my_service.api.errors import install_error_handlers\n"
            f"from my_service.api.{module} import router as {module}_router\n",
        )
        edit(app, "    return app\n", f"    app.include_router({module}_router)\n    return app\n")
        kept[PKG / "app.py"] = f"app.include_router({module}_router)"
    title, rest = (project / "README.md").read_text().split("\n", 1)
    (project / "README.md").write_text(f"{title}\n{INTRO}{rest}")
    kept[Path("README.md")] = INTRO
    commit_all(project, "the team's code")
    return kept


def hop(project: Path, ref: str) -> None:
    """Update to ``ref`` the way the project's README says at its current version."""
    data = [THIS_PYTHON[1]] if ref == "HEAD" else []  # a new question (see test_update.py)
    if '"update":' in (project / "tasks.py").read_text():
        options = [option for pair in data for option in ("--data", pair)]
        proc = run([sys.executable, "tasks.py", "update", *options, "--vcs-ref", ref], project)
        assert proc.returncode == 0, output(proc)
    else:  # 0.1.0 and 0.2.0: `copier update`, as their README says
        run_update(
            str(project),
            data=dict(pair.split("=", 1) for pair in data),
            defaults=True,
            overwrite=True,
            unsafe=True,
            quiet=True,
            vcs_ref=ref,
            skip_answered=True,
        )


def project_action(project: Path, ref: str, chain: Chain, relocked: bool) -> None:
    """Exactly what CHANGELOG.md asks of a project for the release ``ref``."""
    if not relocked:  # 0.4.0: after an update that did not lock again, `uv lock` once
        lock = run([tool("uv"), "lock", "--quiet"], project)
        assert lock.returncode == 0, output(lock)
    if ref == "v0.4.0":  # 0.4.0: endpoints document every status they answer
        for module in chain.routers:
            api = project / PKG / f"api/{module}.py"
            first_own_import = api.read_text().index("\nfrom my_service.") + 1
            text = api.read_text()
            text = (
                text[:first_own_import]
                + "from my_service.api.responses import errors\n"
                + text[first_own_import:]
            )
            documented = re.sub(r'(@router\.get\("[^"]+")\)', r"\1, responses=errors(404))", text)
            api.write_text(documented)
        # ... and a parameter PostgreSQL can refuse has its column's bounds in the schema.
        notes = project / PKG / "api/notes.py"
        edit(
            notes,
            "from fastapi import APIRouter, HTTPException\n",
            "from typing import Annotated\n\nfrom fastapi import APIRouter, HTTPException, Path\n",
        )
        edit(notes, "note_id: int,", "note_id: Annotated[int, Path(ge=1, le=2_147_483_647)],")
        formatted = run([sys.executable, "-m", "ruff", "format", str(notes)], project)
        assert formatted.returncode == 0, output(formatted)  # as `python3 tasks.py format`
    if ref == "HEAD" and chain.answers.get("with_models"):
        # Unreleased: migrations of your own after 0002 and the template's 0003 are two heads.
        merged = run([sys.executable, "tasks.py", "merge-heads"], project)
        assert merged.returncode == 0, output(merged)
        assert "wrote " in merged.stdout, output(merged)


@pytest.mark.parametrize(
    "chain",
    [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(f"chain-{c.id}")) for c in CHAINS],
)
def test_a_team_project_through_every_release(
    chain: Chain,
    template: Path,
    tmp_path: Path,
    checks_pass: Callable[[Path, str], str],
) -> None:
    project = render(template, tmp_path / "project", chain.first, **chain.answers)
    kept = start(project, chain)
    suites = [f"{chain.first}: {checks_pass(project, f'{chain.id}_{chain.first}')}"]
    for ref in chain.hops:
        relocks = 'uv("lock"' in (project / "tasks.py").read_text()
        hop(project, ref)
        assert conflicts_in(project) == [], (ref, conflicts_in(project))
        project_action(project, ref, chain, relocked=relocks)
        if ref == "HEAD":  # the team keeps the ping, as the CHANGELOG offers (in code)
            settings = project / PKG / "settings.py"
            edit(settings, "db_pool_pre_ping: bool = False", "db_pool_pre_ping: bool = True")
        after = files(project)
        for path, marker in kept.items():
            assert marker in after[path], f"{ref}: the team's edit of {path} was lost"
        commit_all(project, f"template {ref}")
        suites.append(f"{ref}: {checks_pass(project, f'{chain.id}_{ref}')}")
    print(f"\n{chain.id}, the project's suite after each release:", *suites, sep="\n  ")
