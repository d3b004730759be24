"""The table of variants the template is tested with, and of answers it must refuse.

Coverage: every provider; every pooling x models combination (queue/none x no models,
SQLAlchemy, SQLModel); the risky pairs provider x pooling (a transaction-pooler provider
with and without an in-process pool), provider x models and orm x models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One set of answers, with the files its render must and must not contain."""

    id: str
    answers: dict[str, Any]
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    full_sync: bool = False  # run the rendered README's test command with a fresh `uv sync`


BASE = {"project_name": "My Service"}
PKG = "src/my_service"
DOCKER = ("compose.yaml", "Dockerfile", ".dockerignore")
MODELS = (
    f"{PKG}/migrations/versions/0002_users_and_tasks.py",
    f"{PKG}/models/enums.py",
    f"{PKG}/models/user.py",
    f"{PKG}/models/task.py",
    f"{PKG}/api/v1/users.py",
    f"{PKG}/api/v1/tasks.py",
    f"{PKG}/seed.py",
    "tests/test_api.py",
    "tests/test_models.py",
)
SQLALCHEMY = (*MODELS, f"{PKG}/models/columns.py")
SQLMODEL = (*MODELS, f"{PKG}/models/base.py")
ALWAYS = (
    f"{PKG}/migrations/versions/0001_initial.py",
    ".copier-answers.yml",
    ".github/workflows/ci.yml",
    "tests/test_pool.py",
)


def variant(
    id: str, answers: dict[str, Any], present: tuple[str, ...], absent: tuple[str, ...]
) -> Variant:
    """A variant whose files present/absent follow from the docker/models answers."""
    return Variant(id, answers, (*ALWAYS, *present), absent)


VARIANTS: tuple[Variant, ...] = (
    Variant("default", {}, ALWAYS, (*DOCKER, *SQLALCHEMY, *SQLMODEL), full_sync=True),
    variant("neon-nullpool", {"provider": "neon", "pooling": "none"}, (), (*DOCKER, *MODELS)),
    variant(
        "docker-queue-sqlalchemy",
        {"provider": "docker", "with_models": True},
        (*DOCKER, *SQLALCHEMY),
        (f"{PKG}/models/base.py",),
    ),
    variant(
        "supabase-queue-sqlmodel",
        {"provider": "supabase", "with_models": True, "orm": "sqlmodel"},
        SQLMODEL,
        (*DOCKER, f"{PKG}/models/columns.py"),
    ),
    variant(
        "railway-nullpool-sqlalchemy",
        {"provider": "railway", "pooling": "none", "with_models": True},
        SQLALCHEMY,
        DOCKER,
    ),
    variant(
        "neon-nullpool-sqlmodel",
        {"provider": "neon", "pooling": "none", "with_models": True, "orm": "sqlmodel"},
        SQLMODEL,
        DOCKER,
    ),
    variant("local-nullpool", {"pooling": "none"}, (), (*DOCKER, *MODELS)),
)


@dataclass(frozen=True)
class Refused:
    """Answers Copier must refuse, and words the message must contain."""

    id: str
    answers: dict[str, Any]
    message: tuple[str, ...] = field(default=())


REFUSED: tuple[Refused, ...] = (
    Refused("slug-with-spaces", {"project_slug": "my service"}, ("project_slug",)),
    Refused("slug-uppercase", {"project_slug": "MyService"}, ("project_slug",)),
    Refused("slug-keyword", {"project_slug": "class"}, ("project_slug", "shadow")),
    Refused("slug-leading-digit", {"project_slug": "1service"}, ("project_slug",)),
    Refused("empty-name", {"project_name": " "}, ("project_name", "empty")),
    Refused("name-with-quote", {"project_name": 'My "Service"'}, ("project_name", "quotes")),
    Refused("long-description", {"description": "x" * 81}, ("description", "80")),
    Refused("description-newline", {"description": "two\nlines"}, ("description", "newlines")),
    Refused("unknown-provider", {"provider": "oracle"}, ("provider", "oracle")),
    Refused("unknown-pooling", {"pooling": "pgpool"}, ("pooling", "pgpool")),
    Refused("unknown-orm", {"with_models": True, "orm": "peewee"}, ("orm", "peewee")),
)
