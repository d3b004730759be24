#!/usr/bin/env python3
"""Task runner: ``python3 tasks.py TARGET``. Needs only Python 3.11+ and installs the rest.

uv is used from PATH, or from this interpreter, or installed into ``.tools/`` on first use;
uv then creates ``.venv`` with the Python ``.python-version`` names: this one when it is
that version (nothing is downloaded), else one uv finds or downloads.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
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
    """Make uv use the interpreter running this script, and download none, when it is the
    Python ``.python-version`` names (or there is none); else the named one, which uv finds
    on the machine or downloads once.

    uv also trusts the system's certificate store (as pip does), so that a company proxy's
    CA works without extra set-up.
    """
    env = {"UV_SYSTEM_CERTS": "1", "UV_NATIVE_TLS": "1", **os.environ}
    pin = ROOT / ".python-version"
    pinned = pin.read_text().strip() if pin.is_file() else None
    if pinned in {None, f"{sys.version_info[0]}.{sys.version_info[1]}"}:
        return {**env, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
    return {**env, "UV_PYTHON": str(pinned)}


PASSED_ON = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def call(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> int:
    """Run ``command`` and return its exit status, leaving Ctrl-C to it.

    The terminal sends SIGINT to the child too; the child shuts down cleanly (uvicorn,
    psql) while this process waits for it instead of dying with a traceback and leaving
    it behind. A Python handler, unlike SIG_IGN, is reset to the default in the child. Once
    the child has exited, SIG_IGN: a Ctrl-C pressed again while this process winds up must
    not kill it (Python drops its own handlers as the interpreter shuts down).
    """
    signal.signal(signal.SIGINT, lambda *_: None)
    child = subprocess.Popen(command, cwd=cwd, env=env)  # noqa: S603
    # SIGTERM and SIGHUP reach only this process (a `kill`, an IDE, a closed terminal's
    # session leader): passed on, so that the child stops as it would on them (uv passes
    # them on to its own child), and this process waits for it instead of leaving it.
    forwarded = {sig: signal.signal(sig, lambda n, _: child.send_signal(n)) for sig in PASSED_ON}
    try:
        status = child.wait()
    finally:
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 128 - status if status < 0 else status  # killed by signal N: 128 + N, as shells do


def uv(*args: str, cwd: Path = ROOT) -> None:
    """Run ``uv ARGS``; exit with its status when it fails."""
    status = call([*uv_command(cwd / ".tools"), *args], cwd=cwd, env=uv_env())
    if status:
        raise SystemExit(status)


def in_venv(module: str, *args: str, cwd: Path = ROOT) -> None:
    """Run ``python -m MODULE ARGS`` in ``.venv`` (synced first), as ``uv run`` would set it
    up, but with no uv process in between: without a terminal uv passes a Ctrl-C on to its
    child, which then gets two (one from the terminal's process group) and takes the second
    for "exit now" (uvicorn skips the app's shutdown). Exits with its status when it fails."""
    environment = cwd / os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv")
    bindir = environment / ("Scripts" if os.name == "nt" else "bin")
    path = os.pathsep.join([str(bindir), os.environ.get("PATH", "")])
    env = {**os.environ, "VIRTUAL_ENV": str(environment), "PATH": path}
    env.pop("PYTHONHOME", None)
    status = call([str(bindir / "python"), "-m", module, *args], cwd=cwd, env=env)
    if status:
        raise SystemExit(status)


def _package() -> str:
    name: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    return name.replace("-", "_")


def _migration_files() -> set[str]:
    return {path.name for path in ROOT.glob(f"src/{_package()}/migrations/versions/*.py")}


def _git_lines(*args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603, S607
    return done.stdout.splitlines()


def conflicts() -> list[str]:
    """Files an update left with conflicts: unmerged in git's index, or ``*.rej`` files."""
    unmerged = {line.split("\t", 1)[1] for line in _git_lines("ls-files", "--unmerged")}
    rejected = _git_lines("ls-files", "--others", "--", "*.rej")
    return sorted(unmerged | set(rejected))


# _commit as Copier records it: a release tag, or ``git describe`` of a later commit.
DESCRIBED = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g[0-9a-f]+)?$")


def _answers() -> dict[str, str]:
    text = (ROOT / ".copier-answers.yml").read_text()
    found = re.findall(r"^(_commit|_src_path): ['\"]?(.*?)['\"]?$", text, re.M)
    return dict(found)


def _newest_release(source: str) -> tuple[int, ...] | None:
    """The newest ``vX.Y.Z`` tag of the template, or None (no tags, or not reachable)."""
    done = subprocess.run(  # noqa: S603
        ["git", "ls-remote", "--tags", "--refs", source],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    tags = re.findall(r"refs/tags/v(\d+)\.(\d+)\.(\d+)$", done.stdout, re.M)
    return max((tuple(map(int, tag)) for tag in tags), default=None)


def update_refusal(extra: list[str]) -> tuple[int, str] | None:
    """Why ``update`` should not run Copier now, as (exit status, one line), or None.

    Copier's own messages say neither what to do (a project not in git) nor that nothing
    is wrong (a project on a commit after the newest release, after ``--vcs-ref``, would be
    "downgraded" to that release).
    """
    inside = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if inside.returncode != 0:
        return 1, (
            "update: the project has no git commit yet; Copier merges updates with git: "
            "git init && git add -A && git commit -m 'rendered', then update"
        )
    answers = _answers()
    described = DESCRIBED.match(answers.get("_commit", ""))
    if any(arg.startswith(("--vcs-ref", "-r")) for arg in extra) or not described:
        return None
    *base, after = described.groups()
    newest = _newest_release(answers.get("_src_path", ""))
    if after and int(after) > 0 and newest is not None and newest <= tuple(map(int, base)):
        return 0, (
            f"update: already on {answers['_commit']}, after the newest release "
            f"v{'.'.join(map(str, newest))}; nothing to take (update --vcs-ref HEAD follows "
            "the template's latest commit)"
        )
    return None


def update(extra: list[str]) -> None:
    """``copier update`` from the template, then a report: conflicts, new migrations."""
    if refusal := update_refusal(extra):
        status, line = refusal
        print(line, file=sys.stderr if status else sys.stdout)
        raise SystemExit(status)
    before = _migration_files()
    copier = ["tool", "run", "--with", "copier-template-extensions", "copier", "update"]
    options = ["--trust", "--skip-answered"]
    if not sys.stdin.isatty():  # no one to ask: new questions take their defaults
        options.append("--defaults")
    uv(*copier, *options, *extra)
    if conflicted := conflicts():
        listing = "\n".join(f"  {path}" for path in conflicted)
        print(f"update: conflicts to resolve in:\n{listing}", file=sys.stderr)
        print("resolve them (git diff shows both sides), then git add and commit", file=sys.stderr)
        raise SystemExit(1)
    # uv.lock is the project's own (an update never merges into it): lock the merged
    # pyproject.toml, keeping every pin it allows.
    uv("lock", "--quiet")
    if added := sorted(_migration_files() - before):
        # The template's new migrations follow its own last one; the project's may too.
        uv("sync", "--quiet")
        in_venv(_package(), "merge-heads")
        print(f"update: new migrations {', '.join(added)}: run python3 tasks.py migrate")
    print("update: no conflicts (uv.lock locked again: commit it with the update)")


TARGETS = {
    "dev": "dev [--reload]: embedded PostgreSQL (unless DATABASE_URL), migrate, serve on :8000",
    "test": "the test suite against a real PostgreSQL",
    "lint": "ruff check, ruff format --check, mypy --strict, squawk on the migrations",
    "format": "ruff format and ruff check --fix",
    "check": "lint, then test",
    "migrate": "alembic upgrade head (DATABASE_DIRECT_URL when set)",
    "revision": "revision -m MESSAGE: autogenerate a migration from the models",
    "merge-heads": "one revision merging the migration heads (the template's and yours)",
    "lint-migrations": "squawk on each migration's SQL (part of lint)",
    "seed": "sample data (idempotent)",
    "psql": "psql [ARGS]: a psql shell on the configured or embedded database",
    "db-url": "db-url [--show-password]: the database URL for psql and pg_dump",
    "update": "update [--data KEY=VALUE ...]: copier update, then report conflicts",
}
# Targets that take the rest of the command line as their arguments.
WITH_ARGUMENTS = frozenset({"dev", "revision", "psql", "update", "db-url"})
# Targets that are commands of the package's CLI (python -m PACKAGE NAME ...).
CLI = frozenset(
    {"dev", "migrate", "revision", "merge-heads", "lint-migrations", "seed", "psql", "db-url"}
)


def parse(
    argv: list[str], targets: dict[str, str], with_arguments: frozenset[str] = WITH_ARGUMENTS
) -> tuple[list[str], list[str]]:
    """Split ``argv`` into targets and their arguments; usage on a bad target.

    Targets in ``with_arguments`` take the rest of the line; others can be chained
    (``migrate check``) with arguments for the tool after ``--``.
    """
    if argv and argv[0] in targets and argv[0] in with_arguments:
        return argv[:1], argv[1:]
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    if not argv or any(target not in targets for target in argv):
        width = max(map(len, targets))
        listing = "\n".join(f"  {name.ljust(width)}  {what}" for name, what in targets.items())
        raise SystemExit(f"usage: python3 tasks.py TARGET [...] [-- ARGS]\n{listing}")
    return argv, extra


def targets() -> dict[str, str]:
    """This project's targets: ``seed`` only where the example models are."""
    has_seed = (ROOT / "src" / _package() / "seed.py").exists()
    return {name: what for name, what in TARGETS.items() if name != "seed" or has_seed}


def main(argv: list[str]) -> None:
    """Run the targets named in ``argv`` (extra arguments after ``--`` go to the tool)."""
    argv, extra = parse(argv, targets())
    if argv != ["update"]:  # update needs no environment (and `uv sync` may dirty uv.lock)
        uv("sync", "--quiet")
    for target in argv:
        if target in CLI:
            in_venv(_package(), target, *extra)
        elif target == "update":
            update(extra)
        elif target == "test":
            in_venv("pytest", *extra)
        elif target == "format":
            in_venv("ruff", "format", ".")
            in_venv("ruff", "check", "--fix", ".")
        elif target in {"lint", "check"}:
            in_venv("ruff", "check", ".")
            in_venv("ruff", "format", "--check", ".")
            in_venv("mypy")
            in_venv(_package(), "lint-migrations")
            if target == "check":
                in_venv("pytest", *extra)


if __name__ == "__main__":
    main(sys.argv[1:])
