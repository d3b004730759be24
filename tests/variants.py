"""The table of variants the template is tested with, and of answers it must refuse."""

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
NO_MODELS = ("src/my_service/migrations/versions/0001_initial.py",)
NOT_DOCKER = ("compose.yaml", "Dockerfile", ".dockerignore")

VARIANTS: tuple[Variant, ...] = (
    Variant("default", {}, present=NO_MODELS, absent=NOT_DOCKER, full_sync=True),
    Variant("docker", {"provider": "docker"}, present=(*NO_MODELS, *NOT_DOCKER)),
    Variant("neon-nullpool", {"provider": "neon", "pooling": "none"}, absent=NOT_DOCKER),
    Variant("supabase", {"provider": "supabase"}, absent=NOT_DOCKER),
    Variant("railway", {"provider": "railway"}, absent=NOT_DOCKER),
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
    Refused("unknown-provider", {"provider": "oracle"}, ("oracle",)),
    Refused("unknown-pooling", {"pooling": "pgpool"}, ("pgpool",)),
)
