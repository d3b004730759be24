"""The variants the template is tested with, and the answers it must refuse.

``VARIANTS`` is the product of the answer choices in copier.yml (provider x pooling x
example models and their ORM), so a new choice is tested without editing this file. Ids
read as the answers: ``neon-nullpool-sqlmodel``; ``default`` is the one rendered with no
answers at all. ``PAIRWISE`` names the variants other tests build on (the former pairwise
table: every provider, every pooling x models pair, the risky provider pairs); they fuzz
their API at the rendered suite's full depth, the others more shallowly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COPIER = yaml.safe_load((Path(__file__).resolve().parent.parent / "copier.yml").read_text())


@dataclass(frozen=True)
class Variant:
    """One set of answers, with the files its render must and must not contain."""

    id: str
    answers: dict[str, Any]
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    full_sync: bool = False  # run the rendered README's test command with a fresh `uv sync`
    fuzz_examples: int = 25  # FUZZ_MAX_EXAMPLES for the rendered suite's fuzz test


BASE = {"project_name": "My Service"}
PACKAGE = "my_service"  # the rendered package of project_name "My Service"
PKG = f"src/{PACKAGE}"
DOCKER = ("compose.yaml",)
RAILWAY = ("railway.json",)
MODELS = (
    f"{PKG}/migrations/versions/0002_users_and_tasks.py",
    f"{PKG}/migrations/versions/0003_idempotency_keys.py",
    f"{PKG}/api/idempotency.py",
    "tests/test_idempotency.py",
    f"{PKG}/models/enums.py",
    f"{PKG}/models/user.py",
    f"{PKG}/models/task.py",
    f"{PKG}/api/v1/users.py",
    f"{PKG}/api/v1/tasks.py",
    f"{PKG}/seed.py",
    "tests/test_api.py",
    "tests/test_models.py",
)
ORM_FILES = {"sqlalchemy": (f"{PKG}/models/columns.py",), "sqlmodel": (f"{PKG}/models/base.py",)}
ALWAYS = (
    f"{PKG}/migrations/versions/0001_initial.py",
    "uv.lock",
    "Dockerfile",
    ".python-version",
    ".dockerignore",
    ".pre-commit-config.yaml",
    ".github/dependabot.yml",
    ".copier-answers.yml",
    ".github/workflows/ci.yml",
    "tests/test_pool.py",
    "tests/test_fuzz.py",
    "tests/test_state.py",
    "tests/test_migrate.py",
    "tests/test_replicas.py",
)
POOLING_IDS = {"queue": "queue", "none": "nullpool"}
PAIRWISE = frozenset(
    {
        "default",
        "local-nullpool",
        "neon-nullpool",
        "neon-nullpool-sqlmodel",
        "docker-queue-sqlalchemy",
        "supabase-queue-sqlmodel",
        "railway-nullpool-sqlalchemy",
    }
)
SHALLOW_FUZZ = 5


def choices(question: str) -> list[Any]:
    """The values a copier.yml question accepts (a bool question: False, True)."""
    spec = COPIER[question]
    return list(spec["choices"].values()) if "choices" in spec else [False, True]


def defaults() -> dict[str, Any]:
    """The copier.yml defaults of the questions the product varies."""
    return {key: COPIER[key]["default"] for key in ("provider", "pooling", "with_models")}


def generated(provider: str, pooling: str, orm: str | None) -> Variant:
    """The variant for one combination; its files follow from the answers."""
    answers: dict[str, Any] = {"provider": provider, "pooling": pooling, "with_models": bool(orm)}
    if orm:
        answers["orm"] = orm
    is_default = answers == defaults()
    words = (provider, POOLING_IDS[pooling], orm)
    name = "default" if is_default else "-".join(word for word in words if word)
    docker = DOCKER if provider == "docker" else ()
    railway = RAILWAY if provider == "railway" else ()
    models = (*MODELS, *ORM_FILES[orm]) if orm else ()
    unused = [files for key, files in ORM_FILES.items() if key != orm]
    return Variant(
        name,
        {} if is_default else answers,
        present=(*ALWAYS, *docker, *railway, *models),
        absent=(
            *(() if docker else DOCKER),
            *(() if railway else RAILWAY),
            *(() if orm else MODELS),
            *itertools.chain.from_iterable(unused),
        ),
        full_sync=is_default,
        fuzz_examples=25 if name in PAIRWISE else SHALLOW_FUZZ,
    )


VARIANTS: tuple[Variant, ...] = tuple(
    generated(provider, pooling, orm)
    for provider, pooling, orm in itertools.product(
        choices("provider"), choices("pooling"), [None, *choices("orm")]
    )
)
BY_ID = {v.id: v for v in VARIANTS}
assert set(BY_ID) >= PAIRWISE, "a pairwise id no longer matches the answers"


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
    Refused("models-maybe", {"with_models": "maybe"}, ("with_models", "maybe", "true or false")),
    Refused("unknown-orm", {"with_models": True, "orm": "peewee"}, ("orm", "peewee")),
)
