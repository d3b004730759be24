"""Every provider's image, built and run the way its Dockerfile says, without Docker.

Docker does not run on these machines (and no registry image can be pulled), so the test
reads the Dockerfile and does what it says: the build stage's ``COPY`` into a clean
directory, its ``ENV``, and each ``RUN`` command with the same flags (``uv sync --locked
--no-dev``); then the documented release step (``migrate``) and the ``CMD`` with the
runtime stage's ``ENV`` (``HOST=0.0.0.0``), answered on the machine's own non-loopback
address; then the ``HEALTHCHECK`` command. The Dockerfile must also pass hadolint.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import output, run, tool
from tests.emulation import first_answer, free_port
from tests.variants import BY_ID, PACKAGE, Variant

pytestmark = pytest.mark.slow  # see conftest.py: run by --slow and on CI

# One variant per provider: the image does not depend on pooling or models.
PROVIDER_VARIANTS = {
    BY_ID[name].answers.get("provider", "local"): BY_ID[name]
    for name in ("default", "docker-queue", "neon-queue", "supabase-queue", "railway-queue")
}


@dataclass
class Stage:
    """One ``FROM`` stage: what it copies, sets and runs."""

    base: str
    name: str = ""
    copies: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    user: str = "root"
    healthcheck: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)``, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def stages(dockerfile: str) -> list[Stage]:
    """The Dockerfile's stages, in order."""
    result: list[Stage] = []
    for instruction, arguments in instructions(dockerfile):
        if instruction == "FROM":
            base, _, name = arguments.partition(" AS ")
            result.append(Stage(base.strip(), name.strip()))
            continue
        stage = result[-1]
        if instruction == "COPY":
            stage.copies.append(shlex.split(arguments))
        elif instruction == "ENV":
            stage.env.update(dict(part.split("=", 1) for part in shlex.split(arguments)))
        elif instruction == "RUN":
            words = [w for w in shlex.split(arguments) if not w.startswith("--mount=")]
            stage.runs.append(shlex.join(words))
        elif instruction == "USER":
            stage.user = arguments
        elif instruction == "HEALTHCHECK":
            stage.healthcheck = json.loads(arguments[arguments.index("CMD") + 3 :])
        elif instruction == "CMD":
            stage.cmd = json.loads(arguments)
    return result


def non_loopback_address() -> str:
    """This machine's address on its network (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("203.0.113.1", 9))  # TEST-NET-3: only picks the outgoing interface
        address: str = probe.getsockname()[0]
    assert not address.startswith("127."), "no network interface besides loopback"
    return address


def build_outside_docker(project: Path, build: Stage, app: Path, environ: dict[str, str]) -> None:
    """The build stage's COPY into ``app``, then its RUN commands with its ENV."""
    app.mkdir()
    for words in build.copies:
        if any(w.startswith("--from=") for w in words):
            continue  # uv itself: this environment's
        *sources, _destination = words
        for source in sources:
            path = project / source
            if path.is_dir():
                shutil.copytree(path, app / source)
            else:
                shutil.copy(path, app / source)
    for command in build.runs:
        words = shlex.split(command)
        assert words[0] == "uv", command
        proc = run([tool("uv"), *words[1:]], app, {**environ, **build.env})
        assert proc.returncode == 0, output(proc)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(v, id=provider, marks=pytest.mark.xdist_group(v.id))
        for provider, v in PROVIDER_VARIANTS.items()
    ],
)
def test_image_builds_and_serves(
    variant: Variant,
    rendered: Callable[[Variant], Path],
    database_for: Callable[[str], str],
    tmp_path: Path,
) -> None:
    project = rendered(variant)
    build, runtime = stages((project / "Dockerfile").read_text())
    assert build.name == "build"
    assert runtime.base == build.base  # the same Python, without uv or build tools
    assert runtime.user not in {"root", "0"}
    assert runtime.env["HOST"] == "0.0.0.0"  # noqa: S104  (listening outside the container)
    assert runtime.cmd == ["python", "-m", PACKAGE, "serve"]
    assert all("--locked" in command for command in build.runs if "uv sync" in command)
    assert (project / ".dockerignore").is_file()
    lint = run([tool("hadolint"), "Dockerfile"], project)
    assert lint.returncode == 0, output(lint)

    # The build stage, in a clean directory holding only what it copies.
    app = tmp_path / "app"
    environ = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    build_outside_docker(project, build, app, environ)

    # The release step, then the CMD, with the runtime environment.
    port = free_port()
    env = {
        **environ,
        **{k: v.replace("$PATH", environ["PATH"]) for k, v in runtime.env.items()},
        "PATH": f"{app / '.venv/bin'}{os.pathsep}{environ['PATH']}",
        "PORT": str(port),
        "DATABASE_URL": database_for(f"image_{variant.id}"),
    }
    proc = run(["python", "-m", PACKAGE, "migrate"], app, env)  # the venv's python, via PATH
    assert proc.returncode == 0, output(proc)
    server = subprocess.Popen(runtime.cmd, cwd=app, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://{non_loopback_address()}:{port}/health/ready"
        ready = first_answer(url, server)
        assert ready is not None, f"nothing answered on {url}"
        assert ready.status_code == 200, ready.text
        assert ready.headers["x-request-id"]
        check = subprocess.run(runtime.healthcheck, cwd=app, env=env, check=False)
        assert check.returncode == 0, "the HEALTHCHECK command failed"
    finally:
        server.terminate()
        _, log = server.communicate(timeout=10)
    # Production logs: one JSON object per line.
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    assert all(json.loads(line)["level"] for line in lines)


@pytest.mark.xdist_group("railway-queue")
def test_railway_config(rendered: Callable[[Variant], Path]) -> None:
    """railway.json: the Dockerfile builder, migrate before each deploy, the readiness path."""
    project = rendered(PROVIDER_VARIANTS["railway"])
    config = json.loads((project / "railway.json").read_text())
    assert config["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
    assert config["deploy"]["preDeployCommand"] == [f"python -m {PACKAGE} migrate"]
    assert config["deploy"]["healthcheckPath"] == "/health/ready"
