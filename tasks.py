#!/usr/bin/env python3
"""Task runner of the template repository: ``python3 tasks.py TARGET``.

Needs only Python 3.11+ and git. uv is found or installed by the same bootstrap the
rendered projects use (``template/tasks.py``), so both stay in step.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "template" / "tasks.py")
assert _spec is not None
assert _spec.loader is not None
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)

TARGETS = {
    "new": "new DEST [--data KEY=VALUE ...]: render a new service from this clone",
    "test": "lint, then every variant rendered and checked, and the provider emulations",
    "lint": "ruff check, ruff format --check, mypy --strict on the template's own code",
    "bench": "render and test timings (bench/run.py); `bench http`: req/s against raw asyncpg;"
    " `bench replicas`: reads on two replicas, one stopped and restarted;"
    " `bench lists`: database time per page and req/s as the tasks table grows;"
    " `bench start`: serve and dev to their first answer, and their imports",
    "release": "tag every version listed in CHANGELOG.md (vX.Y.Z) at its commit",
    "lock": "refresh the uv.lock files rendered projects ship (template/.locks)",
}
# "## 0.2.0 - 2026-11-22 - commit a1413dd"
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2} - commit ([0-9a-f]{7,40})$", re.M)


def releases() -> list[tuple[str, str]]:
    """``(version, commit)`` for every release listed in CHANGELOG.md, newest first."""
    return RELEASE.findall((ROOT / "CHANGELOG.md").read_text())


def release() -> None:
    """Create the missing ``vX.Y.Z`` tags (tags may not travel with a clone of main)."""
    existing = set(subprocess.check_output(["git", "tag"], cwd=ROOT, text=True).split())  # noqa: S607
    for version, commit in releases():
        if f"v{version}" not in existing:
            subprocess.run(["git", "tag", f"v{version}", commit], cwd=ROOT, check=True)  # noqa: S607
            print(f"tagged v{version} at {commit}")


# copier copy options that take a value: the destination is the first other argument.
VALUE_OPTIONS = frozenset(
    {"-d", "--data", "--data-file", "-r", "--vcs-ref", "-a", "--answers-file"}
)
VALUE_OPTIONS |= {"-x", "--exclude", "-s", "--skip", "-o", "--conflict", "-c", "--context-lines"}
SRC_PATH = re.compile(r"^_src_path: .*$", re.M)


def destination(arguments: list[str]) -> Path | None:
    """The DEST of ``new DEST [OPTIONS]`` (options may come first)."""
    previous = ""
    for argument in arguments:
        if not argument.startswith("-") and previous not in VALUE_OPTIONS:
            return Path(argument)
        previous = argument.split("=", 1)[0]
    return None


def git_output(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S607
    return done.stdout.strip() if done.returncode == 0 else ""


def template_source(commit: str) -> tuple[str, str]:
    """Where teammates and CI will find this template: ``origin``'s URL when it has the
    rendered commit, else this clone's path; and a line saying which it is and why."""
    origin = git_output("remote", "get-url", "origin")
    if not origin:
        return str(ROOT), (
            "this clone has no origin, so `update` works only where this path exists; set "
            "_src_path in .copier-answers.yml to the template's URL for teammates and CI"
        )
    if not git_output("branch", "-r", "--contains", commit):
        return str(ROOT), (
            f"{commit} is not on origin ({origin}) yet: push it, then set _src_path in "
            f".copier-answers.yml to {origin} for teammates and CI"
        )
    local = "://" not in origin and not re.match(r"^[\w.-]+@[\w.-]+:", origin)
    where = "; it is a path: teammates and CI need it too" if local else ""
    return origin, f"this clone's origin, so that `update` works anywhere{where}"


def new(arguments: list[str]) -> None:
    """``copier copy`` of this clone, with the Jinja extension, and no uv needed on PATH.

    Copier renders the newest release tag when the clone has tags, else its HEAD; with
    nobody at a terminal to answer, every question takes its default (or ``--data``). The
    project then records ``origin`` as its template (not this clone's path), and what was
    rendered is said in one line.
    """
    copier = ["tool", "run", "--with", "copier-template-extensions", "copier", "copy"]
    options = ["--trust"] + ([] if sys.stdin.isatty() else ["--defaults"])
    bootstrap.uv(*copier, *options, str(ROOT), *arguments, cwd=ROOT)
    dest = destination(arguments)
    answers_file = (ROOT / dest / ".copier-answers.yml") if dest else None
    if answers_file is None or not answers_file.is_file():
        return
    answers = answers_file.read_text()
    commit = re.search(r"^_commit: (.+)$", answers, re.M)
    ref = commit.group(1).strip() if commit else "HEAD"
    source, why = template_source(ref)
    answers_file.write_text(SRC_PATH.sub(f"_src_path: {json.dumps(source)}", answers, count=1))
    if re.fullmatch(r"v\d+\.\d+\.\d+", ref):
        what = f"release {ref}"
    elif git_output("tag", "--list", "v*"):
        what = f"{ref}, not a release"
    else:
        what = f"{ref}, this clone's HEAD (it has no tags: `python3 tasks.py release` makes them)"
    print(f"template: {what}, recorded as {source}\n  ({why})")


def main(argv: list[str]) -> None:
    """Run the named targets; arguments after ``--`` go to pytest (or bench/run.py)."""
    argv, extra = bootstrap.parse(argv, TARGETS, with_arguments=frozenset({"new", "bench"}))
    if argv == ["new"]:
        new(extra)
        return
    if argv == ["bench"]:  # bench [http|replicas|lists|start] [OPTIONS]
        scripts = {
            "http": "bench/throughput.py",
            "replicas": "bench/replicas.py",
            "lists": "bench/lists.py",
            "start": "bench/start.py",
        }
        kind = extra[0] if extra[:1] and extra[0] in scripts else None
        script = scripts.get(kind or "", "bench/run.py")
        options = [argument for argument in extra[kind is not None :] if argument != "--"]
        bootstrap.uv("sync", "--quiet", cwd=ROOT)
        bootstrap.uv("run", "python", script, *options, cwd=ROOT)
        return
    if "release" in argv:
        release()
        argv = [target for target in argv if target != "release"]
        if not argv:
            return
    bootstrap.uv("sync", "--quiet", cwd=ROOT)
    for target in argv:
        if target in {"lint", "test"}:
            bootstrap.uv("run", "ruff", "check", ".", cwd=ROOT)
            bootstrap.uv("run", "ruff", "format", "--check", ".", cwd=ROOT)
            bootstrap.uv("run", "mypy", cwd=ROOT)
        if target == "test":
            bootstrap.uv("run", "pytest", "-n", "auto", "--dist", "loadgroup", *extra, cwd=ROOT)
        if target == "lock":
            bootstrap.uv("run", "python", "scripts/lock.py", cwd=ROOT)


if __name__ == "__main__":
    main(sys.argv[1:])
