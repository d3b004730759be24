#!/usr/bin/env python3
"""Task runner: ``python3 tasks.py TARGET``. Needs only Python 3.11+ and installs the rest.

uv is used from PATH, or from this interpreter, or installed into ``.tools/`` on first use;
uv then creates ``.venv`` with *this* Python (no interpreter is downloaded).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def uv_command(tools: Path) -> list[str]:
    """How to run uv here, installing it into ``tools`` if the machine has none."""
    if found := shutil.which("uv"):
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    bindir = tools / ("Scripts" if os.name == "nt" else "bin")
    local = bindir / ("uv.exe" if os.name == "nt" else "uv")
    if not local.exists():
        print("tasks.py: installing uv into .tools/ (once)", file=sys.stderr)
        venv.create(tools, with_pip=True)
        pip = [str(bindir / "python"), "-m", "pip", "install", "--quiet", "uv"]
        subprocess.run(pip, check=True)  # noqa: S603  (fixed command)
    return [str(local)]


def uv_env() -> dict[str, str]:
    """Make uv use the interpreter running this script and never download one.

    uv also trusts the system's certificate store (as pip does), so that a company proxy's
    CA works without extra set-up.
    """
    env = {"UV_SYSTEM_CERTS": "1", "UV_NATIVE_TLS": "1", **os.environ}
    return {**env, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}


def uv(*args: str, cwd: Path = ROOT) -> None:
    """Run ``uv ARGS``; exit with its status when it fails."""
    command = [*uv_command(cwd / ".tools"), *args]
    done = subprocess.run(command, cwd=cwd, env=uv_env(), check=False)  # noqa: S603
    if done.returncode:
        raise SystemExit(done.returncode)


def _package() -> str:
    name: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    return name.replace("-", "_")


TARGETS = {
    "dev": "embedded PostgreSQL (unless DATABASE_URL is set), migrations, server on :8000",
    "test": "the test suite against a real PostgreSQL",
    "lint": "ruff check, ruff format --check, mypy --strict",
    "format": "ruff format and ruff check --fix",
    "migrate": "alembic upgrade head (DATABASE_DIRECT_URL when set)",
    "check": "lint, then test",
}


def parse(argv: list[str], targets: dict[str, str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` into targets and the arguments after ``--``; usage on a bad target."""
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    if not argv or any(target not in targets for target in argv):
        width = max(map(len, targets))
        listing = "\n".join(f"  {name.ljust(width)}  {what}" for name, what in targets.items())
        raise SystemExit(f"usage: python3 tasks.py TARGET [...] [-- ARGS]\n{listing}")
    return argv, extra


def main(argv: list[str]) -> None:
    """Run the targets named in ``argv`` (extra arguments after ``--`` go to the tool)."""
    argv, extra = parse(argv, TARGETS)
    uv("sync", "--quiet")
    for target in argv:
        if target == "dev":
            uv("run", "python", "-m", _package(), "dev", *extra)
        elif target == "migrate":
            uv("run", "python", "-m", _package(), "migrate", *extra)
        elif target == "test":
            uv("run", "pytest", *extra)
        elif target == "format":
            uv("run", "ruff", "format", ".")
            uv("run", "ruff", "check", "--fix", ".")
        elif target in {"lint", "check"}:
            uv("run", "ruff", "check", ".")
            uv("run", "ruff", "format", "--check", ".")
            uv("run", "mypy")
            if target == "check":
                uv("run", "pytest", *extra)


if __name__ == "__main__":
    main(sys.argv[1:])
