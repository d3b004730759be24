"""A team's project carried through every release in CHANGELOG.md, one at a time, to HEAD.

It starts at the first release with the code a team writes: a model and its migration, an
endpoint of its own that answers 404 through the shipped error handling (then a second one
on the example API's ``get_user_or_404``, once the models exist), a setting default
changed in code, a README section. Each hop updates the way the project's README says at
that version, then does exactly what that release's project action in CHANGELOG.md says,
and no more; then ruff, ruff format, mypy --strict and the project's whole suite pass.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from copier import run_update

from tests.conftest import git, output, project_env, run, tool
from tests.test_update import (
    CONFLICT,
    PKG,
    THIS_PYTHON,
    VERSIONS,
    edit,
    files,
    make_user_edits,
    render,
)

CHAIN = [*reversed(VERSIONS), "HEAD"]  # oldest first
MODELS_ON = {"with_models": "true"}  # 0.2.0 brings the example API: the team turns it on

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


async def test_greeting_or_a_404(client: httpx.AsyncClient) -> None:
    made = await client.post("/api/v1/users", json={"email": "g@example.com", "name": "Grace"})
    assert made.status_code == 201, made.text
    answer = await client.get(f"/api/v1/users/{made.json()['id']}/greeting")
    assert answer.json() == {"greeting": "Hello, Grace"}
    assert (await client.get(f"/api/v1/users/{uuid.uuid4()}/greeting")).status_code == 404
'''

README_SECTION = "\n## Our team\n\nOn call: the platform team, #platform on chat.\n"
# The routers of the team's own modules, registered in app.py apart from the template's.
OWN_ROUTERS = "    app.include_router(notes_router)\n    return app\n"


def conflicts_in(project: Path) -> list[str]:
    """Files left with conflict markers, and rejected hunks."""
    found = files(project)
    marked = [str(path) for path, text in found.items() if CONFLICT.search(text)]
    return marked + [str(path) for path in found if path.suffix == ".rej"]


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def start(project: Path) -> None:
    """What the team wrote at the first release."""
    make_user_edits(project)
    (project / PKG / "api/notes.py").write_text(NOTES_API)
    (project / "tests/test_notes.py").write_text(NOTES_TEST)
    app = project / PKG / "app.py"
    edit(
        app,
        "from my_service.api.errors import install_error_handlers\n",
        "from my_service.api.errors import install_error_handlers\n"
        "from my_service.api.notes import router as notes_router\n",
    )
    edit(app, "    return app\n", OWN_ROUTERS)
    readme = project / "README.md"
    readme.write_text(readme.read_text() + README_SECTION)
    commit_all(project, "our notes")


def hop(project: Path, ref: str, **answers: str) -> None:
    """Update to ``ref`` the way the project's README says at its current version."""
    data = [f"{key}={value}" for key, value in answers.items()]
    if ref == "HEAD":
        data.append(THIS_PYTHON[1])  # a new question: the Python here (see test_update.py)
    if '"update":' in (project / "tasks.py").read_text():
        options = [option for pair in data for option in ("--data", pair)]
        proc = run([sys.executable, "tasks.py", "update", *options, "--vcs-ref", ref], project)
        assert proc.returncode == 0, output(proc)
    else:
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
    assert conflicts_in(project) == [], conflicts_in(project)


def merge_heads(project: Path, env: dict[str, str]) -> None:
    """The project action of a release that adds a migration, for projects with their own:
    the template's and the team's migrations are two heads; merge them."""
    proc = run(
        [sys.executable, "-m", "alembic", "merge", "heads", "-m", "merge the template's"],
        project,
        env,
    )
    assert proc.returncode == 0, output(proc)


def fix_merge_typing(project: Path) -> None:
    """0.x's revision template types ``down_revision`` as ``str | None``; a merge's is a
    tuple (the project action says to widen it)."""
    for path in (project / PKG / "migrations/versions").glob("*merge_the_template_s.py"):
        text = path.read_text()
        path.write_text(
            text.replace(
                "down_revision: str | None = (", "down_revision: str | Sequence[str] | None = ("
            )
        )


@pytest.mark.xdist_group("release-chain")
def test_a_team_project_through_every_release(
    template: Path,
    tmp_path: Path,
    mypy_cache: Path,
    checks_pass: Callable[[Path, str], None],
) -> None:
    project = render(template, tmp_path / "project", f"v{CHAIN[0]}")
    start(project)
    checks_pass(project, "chain_start")
    env = project_env(project, mypy_cache)
    for ref in CHAIN[1:]:
        relocks = 'uv("lock"' in (project / "tasks.py").read_text()
        hop(project, ref if ref == "HEAD" else f"v{ref}", **(MODELS_ON if ref == "0.2.0" else {}))
        if not relocks:  # 0.4.0's project action: projects whose update did not relock
            lock = run([tool("uv"), "lock", "--quiet"], project)
            assert lock.returncode == 0, output(lock)
        if ref == "0.2.0":  # the example models, and the team's endpoint on them
            merge_heads(project, env)
            fix_merge_typing(project)
            (project / PKG / "api/greetings.py").write_text(GREETINGS_API)
            (project / "tests/test_greetings.py").write_text(GREETINGS_TEST)
            edit(
                project / PKG / "app.py",
                "from my_service.api.notes import router as notes_router\n",
                "from my_service.api.greetings import router as greetings_router\n"
                "from my_service.api.notes import router as notes_router\n",
            )
            edit(
                project / PKG / "app.py",
                OWN_ROUTERS,
                "    app.include_router(greetings_router)\n" + OWN_ROUTERS,
            )
        if ref == "0.4.0":  # endpoints document every status they answer
            for module in ("notes", "greetings"):
                edit(
                    project / PKG / f"api/{module}.py",
                    "from fastapi import APIRouter",
                    "from fastapi import APIRouter\n\nfrom my_service.api.responses import errors",
                )
            edit(
                project / PKG / "api/notes.py",
                '@router.get("/{note_id}")',
                '@router.get("/{note_id}", responses=errors(404))',
            )
            edit(
                project / PKG / "api/greetings.py",
                '@router.get("/{user_id}/greeting")',
                '@router.get("/{user_id}/greeting", responses=errors(404))',
            )
        if ref == "HEAD":
            merge_heads(project, env)
            fix_merge_typing(project)
        readme = (project / "README.md").read_text()
        assert README_SECTION in readme, f"the README section was lost at {ref}"
        assert "default=12" in (project / PKG / "settings.py").read_text()
        commit_all(project, f"template {ref}")
        checks_pass(project, f"chain_{ref}")
