"""Jinja helpers for the template: slug filters, validators and derived values.

Everything here is pure (no network, no subprocess), but for one read of the project being
updated: ``python_default`` keeps the Python its Dockerfile already uses.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment

_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def slugify(value: str) -> str:
    """Turn a display name into a distribution name: ``My Service!`` -> ``my-service``."""
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")


def _text_error(value: str, limit: int) -> str:
    """Names and descriptions end up in Python string literals and one-line docs.

    Copier prefixes the message with the question's name.
    """
    if not value.strip():
        return "must not be empty."
    if len(value) > limit:
        return f"at most {limit} characters (got {len(value)})."
    if any(c in value for c in '"\\\n`'):
        return "must not contain quotes, backslashes, backticks or newlines."
    return ""


def name_error(value: str) -> str:
    """Validator for ``project_name``: an empty string means the answer is fine."""
    return _text_error(value, 40)


def description_error(value: str) -> str:
    """Validator for ``description``: an empty string means the answer is fine."""
    return _text_error(value, 80)


def slug_error(value: str) -> str:
    """Validator for ``project_slug``: an empty string means the answer is fine."""
    if not _SLUG.fullmatch(value):
        return (
            f"{value!r} is not a valid distribution name; use lowercase "
            "letters, digits and single dashes, starting with a letter (e.g. my-service)."
        )
    package = package_name(value)
    if keyword.iskeyword(package) or package in {"test", "tests", "app", "alembic"}:
        return f"{value!r} would shadow a Python module; pick another name."
    return ""


# What a yes/no answer may be given as (``--data with_models=yes``); Copier itself would
# turn any other non-empty string, ``maybe`` included, into true.
BOOLEANS = {"true", "false", "yes", "no", "y", "n", "on", "off", "1", "0"}


def bool_error(raw: object) -> str:
    """Validator for a yes/no question, given the raw ``--data`` value or user default
    (None: not given).

    Copier casts the answer before validating it, so the validator looks at what was
    passed (``_copier_conf.data``, ``user_defaults``): anything but a boolean or one of
    BOOLEANS is refused.
    """
    if raw is None or isinstance(raw, bool) or str(raw).strip().lower() in BOOLEANS:
        return ""
    return f"{raw!r} is not a yes/no answer; use true or false."


# The ``python_version`` answer's choices: what the dependencies ship wheels for.
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
_IMAGE = re.compile(r"^FROM python:(\d+\.\d+)", re.M)


def python_default(destination: object) -> str:
    """Default of ``python_version``: the Python a project being updated already runs in its
    image (projects from before the question used 3.12's), else the Python rendering it."""
    dockerfile = Path(str(destination)) / "Dockerfile"
    if dockerfile.is_file() and (image := _IMAGE.search(dockerfile.read_text())):
        return image.group(1)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return running if running in PYTHONS else PYTHONS[1]


def package_name(slug: str) -> str:
    """The importable package name for a distribution name."""
    return slug.replace("-", "_")


@dataclass(frozen=True)
class ProviderDoc:
    """What the rendered README and .env.example say about a provider."""

    title: str
    database_url: str
    direct_url: str  # empty: the same as DATABASE_URL
    notes: tuple[str, ...]
    deploy: tuple[str, ...] = ()  # shell lines of the README's "Deploy" section
    replicas: str = ""  # where DATABASE_REPLICA_URLS come from (README, "Read replicas")


PROVIDER_DOCS: dict[str, ProviderDoc] = {
    "local": ProviderDoc(
        "Local or self-hosted PostgreSQL",
        "postgresql://app:change-me@localhost:5432/app",
        "",
        ("TLS is negotiated when the server offers it (`sslmode=prefer`).",),
        (
            "docker build -t IMAGE .   # or, without Docker: uv sync --locked --no-dev",
            "docker run --rm -e DATABASE_URL=... IMAGE python -m PACKAGE migrate",
            "docker run -d -p 8000:8000 -e DATABASE_URL=... IMAGE",
        ),
        "a streaming replica of your server: `pg_basebackup -R -D DIR -h PRIMARY` on the "
        "replica's machine, then start it; its URL is the primary's with the replica's host "
        "(the tests build theirs the same way, `db/embedded.py`'s `Standby`).",
    ),
    "docker": ProviderDoc(
        "Docker Compose",
        "postgresql://app:change-me@db:5432/app",
        "",
        (
            "`docker compose up` starts PostgreSQL, waits for its healthcheck, migrates, serves.",
            "The app container reaches the database as host `db`.",
        ),
        (
            "POSTGRES_PASSWORD=a-real-secret docker compose up --build -d",
            "docker compose logs -f app   # JSON lines, one per request",
        ),
        "a second PostgreSQL service streaming from `db` (a standby made with "
        "`pg_basebackup -R -h db`); its URL is the same as `db`'s with its service name "
        "as the host.",
    ),
    "neon": ProviderDoc(
        "Neon",
        "postgresql://app:change-me@ep-name-123456-pooler.eu-central-1.aws.neon.tech/neondb"
        "?sslmode=require&channel_binding=require",
        "postgresql://app:change-me@ep-name-123456.eu-central-1.aws.neon.tech/neondb"
        "?sslmode=require&channel_binding=require",
        (
            "Paste both strings from the dashboard as they are: the pooled one (host ends in "
            "`-pooler`) as DATABASE_URL, the direct one as DATABASE_DIRECT_URL.",
            "TLS is required; `sslmode=verify-full` verifies against the system trust store.",
            "Computes scale to zero: the first connection can take seconds (DB_CONNECT_TIMEOUT).",
        ),
        (
            "docker build -t IMAGE . && docker push IMAGE   # any container platform",
            "# release step, once per deploy, with the direct URL:",
            "docker run --rm -e DATABASE_URL=POOLED -e DATABASE_DIRECT_URL=DIRECT IMAGE \\",
            "    python -m PACKAGE migrate",
            "# the service: DATABASE_URL (pooled) and DATABASE_DIRECT_URL set, port $PORT",
        ),
        "Neon console > your branch > Computes > Add read replica: a read-only compute on the "
        "same storage; Connect on that compute gives its connection string (the `-pooler` "
        "one is fine: replicas are read with the same rules). Replicas scale to zero too.",
    ),
    "supabase": ProviderDoc(
        "Supabase",
        "postgresql://postgres.project-ref:change-me@aws-0-eu-central-1.pooler.supabase.com"
        ":6543/postgres",
        "postgresql://postgres:change-me@db.project-ref.supabase.co:5432/postgres",
        (
            "Port 6543 is the transaction pooler (statement caches are turned off for it); "
            "migrations use the direct connection on port 5432.",
            "The direct host (`db.project-ref.supabase.co`) has only an IPv6 address unless "
            "the project has the IPv4 add-on; the poolers have IPv4 too. Where the migration "
            "runs on a host without IPv6 (many CI runners and container platforms; it fails "
            "with `Network is unreachable` or a DNS error), set DATABASE_DIRECT_URL to the "
            "session pooler instead: the pooler's host and user on port 5432 "
            "(`postgresql://postgres.project-ref:change-me@aws-0-eu-central-1.pooler."
            "supabase.com:5432/postgres`). It keeps one server connection per client, so "
            "migrations work through it; only port 6543 is a transaction pooler.",
            "For verify-full, download the CA from the dashboard and set DB_SSL_ROOT_CERT.",
        ),
        (
            "docker build -t IMAGE . && docker push IMAGE   # any container platform",
            "# release step, once per deploy, with the direct URL (port 5432):",
            "docker run --rm -e DATABASE_URL=POOLER_6543 -e DATABASE_DIRECT_URL=DIRECT_5432 \\",
            "    IMAGE python -m PACKAGE migrate",
            "# the service: both URLs set, port $PORT",
        ),
        "Supabase dashboard > Project Settings > Infrastructure > Add read replica (paid "
        "plans); Connect then lists each replica's connection string and its pooler's.",
    ),
    "railway": ProviderDoc(
        "Railway",
        "postgresql://postgres:change-me@containers-us-west-1.railway.app:7432/railway",
        "",
        (
            "Railway's `DATABASE_URL` works unchanged (`postgres://` and `postgresql://`).",
            "Its certificate is self-signed: `sslmode=require` (encrypted, not verified).",
            "Behind Railway's PgBouncer template set DB_TRANSACTION_POOLER=true.",
        ),
        (
            "railway init && railway add --database postgres",
            "# in the app service's variables: DATABASE_URL = a reference to Postgres's",
            "railway up   # builds the Dockerfile; railway.json migrates before each deploy",
            "             # and switches traffic once /health/ready answers 200",
        ),
        "Railway has no managed read replicas: deploy a second PostgreSQL service as a "
        "streaming standby of the first (`pg_basebackup -R`) and reference its URL.",
    ),
}


class ProjectContext(ContextHook):
    """Adds the filters above and the values derived from the answers, computed once."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(
            slugify=slugify,
            slug_error=slug_error,
            name_error=name_error,
            description_error=description_error,
            bool_error=bool_error,
        )
        environment.globals["python_default"] = python_default

    def hook(self, context: dict[str, Any]) -> None:
        """Derive ``package_name`` from the slug, once a slug is known."""
        slug = context.get("project_slug")
        if isinstance(slug, str):
            context["package_name"] = package_name(slug)
        provider = context.get("provider")
        if isinstance(provider, str) and provider in PROVIDER_DOCS:
            context["provider_doc"] = PROVIDER_DOCS[provider]


__all__ = [
    "ProjectContext",
    "bool_error",
    "description_error",
    "name_error",
    "package_name",
    "python_default",
    "slug_error",
    "slugify",
]
