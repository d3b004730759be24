"""Start-up: ``serve`` and ``dev`` to their first 200 on ``/health`` and ``/health/ready``,
and where imports go.

    python3 tasks.py bench start [--runs 5] [--ref HEAD]

Renders the models variant from this checkout (an embedded PostgreSQL, migrated and seeded,
as ``bench http`` prepares it), then times each command from the moment its process is
spawned to the first 200 on ``/health`` (alive), then on ``/health/ready`` (database
reachable, migrations at head: what a load balancer waits for), asking every 5 ms:
``serve`` in production, ``dev`` (which migrates before it serves) against the running
server, and two floors under uvicorn that import the same libraries: ``bare``, one route,
and ``typed``, one route with a pydantic response model and a pydantic-settings class (what
any FastAPI app with models pays on top: FastAPI's pydantic.v1 check on the first typed
route, pydantic's plugin lookup on the first model). The commands take turns, round by
round (serve, dev, bare, typed, serve, ...), so a machine whose speed drifts slows them
alike; each is then also reported as its median excess over the floors in the same round.
Warm: one round is thrown away first, and bytecode is written (``PYTHONDONTWRITEBYTECODE``
is unset for the children: with it, every start compiles every module, 2-3x slower). Then
``python -X importtime`` of what ``serve`` imports before it answers, summed by top-level
package. Figures only: nothing fails on them.
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from throughput import prepared

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.emulation import first_answer, free_port  # noqa: E402  (after the path is set)

PACKAGE = "bench_service"
READY = ("/health", "/health/ready")


# The floors: the same libraries imported, one route, uvicorn; nothing of the template's.
BARE_APP = """
import asyncpg, pydantic_settings, sqlalchemy.ext.asyncio, sqlalchemy.orm
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health():
    return {"status": "ok"}
"""
TYPED_APP = """
import asyncpg, sqlalchemy.ext.asyncio, sqlalchemy.orm
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    database_url: str = ""


class Health(BaseModel):
    status: str


settings = Settings()
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="ok")
"""
FLOORS = ("bare", "typed")


def cpu_seconds(pid: int) -> float:
    """CPU time a running process has used so far, all its threads (Linux: nanoseconds from
    /proc/PID/task/*/schedstat; NaN elsewhere)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*/schedstat"))
        return sum(int(task.read_text().split()[0]) for task in tasks) / 1e9 or math.nan
    except OSError:
        return math.nan


def time_to_answers(
    args: list[str], cwd: Path, env: dict[str, str], paths: tuple[str, ...]
) -> list[float]:
    """Seconds from spawning ``args`` (which serve on $PORT) to the first 200 on each of
    ``paths``, asked one after the other, then the CPU seconds it had used at the first."""
    command = " ".join(args[1:])
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*args, "--port", str(port)] if "uvicorn" in args else args,
        cwd=cwd,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        elapsed, cpu = [], math.nan
        for path in paths:
            while True:
                response = first_answer(f"http://127.0.0.1:{port}{path}", proc, interval=0.005)
                if response is None:
                    _, stderr = proc.communicate() if proc.poll() is not None else (b"", b"")
                    raise SystemExit(f"{command}: no answer on {path} in 30 s {stderr.decode()}")
                if response.status_code == 200:
                    break
                if path == "/health" or time.perf_counter() - started > 30:
                    raise SystemExit(f"{command}: {path} answered {response.status_code}")
                time.sleep(0.005)  # /health/ready: 503 until the database is checked
            elapsed.append(time.perf_counter() - started)
            if len(elapsed) == 1:
                cpu = cpu_seconds(proc.pid)
        return [*elapsed, cpu]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def median_excess(rounds: list[dict[str, list[float]]], name: str, floor: str, at: int) -> float:
    """Milliseconds by which ``name`` exceeded ``floor`` (figure ``at``), median of rounds."""
    return statistics.median(timings[name][at] - timings[floor][at] for timings in rounds) * 1000


def import_times(project: Path, env: dict[str, str]) -> tuple[float, Counter[str]]:
    """``-X importtime`` of the CLI and the app: total seconds, microseconds by package."""
    code = f"import {PACKAGE}.cli, {PACKAGE}.app"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: Counter[str] = Counter()  # microseconds
    for line in proc.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|(\s*)(\S+)", line)
        if found:
            by_package[found[3].split(".")[0]] += int(found[1])
    return sum(by_package.values()) / 1e6, by_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ref", default="HEAD", help="the template commit or tag to render")
    args = parser.parse_args()
    with prepared(args.ref) as (_, project, _, env):
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        (project / "bare_app.py").write_text(BARE_APP)
        (project / "typed_app.py").write_text(TYPED_APP)
        commands = {
            "serve": ([sys.executable, "-m", PACKAGE, "serve"], env),
            "dev": ([sys.executable, "-m", PACKAGE, "dev"], {**env, "ENVIRONMENT": "development"}),
            **{
                floor: ([sys.executable, "-m", "uvicorn", f"{floor}_app:app"], env)
                for floor in FLOORS
            },
        }
        paths = {name: ("/health",) if name in FLOORS else READY for name in commands}
        print(f"start to the first 200, {args.runs} warm rounds (ref {args.ref}),")
        print(f"Python {platform.python_version()} at {sys.executable}:")
        rounds = []  # per round {name: seconds to each path, then CPU}; the first thrown away
        for _ in range(args.runs + 1):
            rounds.append(
                {
                    name: time_to_answers(command, project, command_env, paths[name])
                    for name, (command, command_env) in commands.items()
                }
            )
        rounds = rounds[1:]
        for name in commands:
            for index, path in enumerate((*paths[name], "CPU to /health")):
                times = [timings[name][index] for timings in rounds]
                print(
                    f"  {name:<6} {path:<14} median {statistics.median(times):.3f} s "
                    f"(min {min(times):.3f}, max {max(times):.3f})"
                )
        print("  (bare: FastAPI, SQLAlchemy's asyncio ORM, asyncpg and pydantic-settings")
        print("   imported, one route, uvicorn: the floor under the template's stack;")
        print("   typed: the same with a response model and a settings class;")
        print("   CPU: what the process had used when it first answered, all its threads)")
        print("above the floors, median of the rounds' differences, to /health (wall; CPU):")
        for name in ("serve", "dev"):
            excess = [
                f"{median_excess(rounds, name, floor, 0):+.0f} ms"
                f"; {median_excess(rounds, name, floor, -1):+.0f} ms over {floor}"
                for floor in FLOORS
            ]
            print(f"  {name:<6} {', '.join(excess)}")
        total, by_package = import_times(project, env)
        print(f"imports of {PACKAGE}.cli and {PACKAGE}.app (-X importtime): {total:.3f} s")
        for package, micros in by_package.most_common(12):
            print(f"  {package:<24} {micros / 1e6:.3f} s")


if __name__ == "__main__":
    main()
