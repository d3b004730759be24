"""HTTP throughput: the rendered models variant against a raw-asyncpg app doing the same SQL.

    python3 tasks.py bench http [--duration 10] [--connections 32,64] [--rounds 2] [--ref HEAD]
        [--minimal] [--metrics] [--endpoints user,tasks,post]

Renders the models variant from this checkout, starts an embedded PostgreSQL, migrates,
seeds 1,000 users and 5,000 tasks, and serves the rendered app and a minimal FastAPI app
that runs the same statements through an asyncpg pool of the same size (5 + 10), one
uvicorn worker each, for each loop/http pair. wrk drives both, rendered and raw rounds
alternating, and the script prints per endpoint: req/s, p50, p99, requests over 1 s, and
the rendered/raw ratio per round and its median. ``--minimal`` adds two ceilings, each
app's median ratio to raw printed too: the rendered ORM calls in a bare app (minimal) and the
same statements through SQLAlchemy Core (core). The rendered app runs in production, so
without ``/metrics`` (no ``METRICS_TOKEN``) and without traces (no ``OTEL_*``); ``--metrics``
sets a token: every request is counted, as a scraped deployment's are. Figures only:
nothing fails on them.
Needs wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import asyncpg
from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.emulation import embedded_server, first_answer, free_port  # noqa: E402  (after the path is set)

PAIRS = (("asyncio", "h11"), ("uvloop", "httptools"))
ENDPOINTS = {
    "user": "GET /api/v1/users/{id}",
    "tasks": "GET /api/v1/tasks?limit=20",
    "post": "POST /api/v1/tasks",
}

RAW_APP = '''
"""The same statements as the rendered endpoints, through a raw asyncpg pool."""
import base64
import json
import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

USER = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = $1"
TASKS = (
    "SELECT id, owner_id, title, description, status, priority, tags, due_date, created_at,"
    " updated_at FROM tasks ORDER BY coalesce(due_date, 'infinity'::date), created_at, id"
    " LIMIT $1"
)
INSERT = (
    "INSERT INTO tasks (id, owner_id, title, status, priority, tags) VALUES"
    " ($1, $2, $3, 'todo', 'medium', '{}') RETURNING id, owner_id, title, description, status,"
    " priority, tags, due_date, created_at, updated_at"
)


@asynccontextmanager
async def lifespan(app):
    app.state.pool = await asyncpg.create_pool(os.environ["RAW_DSN"], min_size=5, max_size=15)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


class TaskCreate(BaseModel):
    owner_id: uuid.UUID
    title: str


@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: uuid.UUID):
    row = await app.state.pool.fetchrow(USER, user_id)
    if row is None:
        raise HTTPException(404)
    return dict(row)


def cursor(row):
    key = [row["due_date"], row["created_at"], row["id"]]
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


@app.get("/api/v1/tasks")
async def list_tasks(limit: int = 20):
    rows = await app.state.pool.fetch(TASKS, limit + 1)
    after = cursor(rows[limit - 1]) if len(rows) > limit else None
    return {"items": [dict(r) for r in rows[:limit]], "next": after, "limit": limit}


@app.post("/api/v1/tasks", status_code=201)
async def create_task(body: TaskCreate):
    row = await app.state.pool.fetchrow(INSERT, uuid.uuid4(), body.owner_id, body.title)
    return dict(row)
'''

# The start the two apps of --minimal share: the rendered project's database layer in a bare
# FastAPI app. `reads` is the engine in autocommit, as `ReadSession` has it.
BARE_APP = """
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from bench_service.api.errors import FOREIGN_KEY_VIOLATION, sqlstate
from bench_service.api.v1.paging import Page
from bench_service.api.v1.schemas import TaskCreate, TaskRead, UserRead
from bench_service.api.v1.tasks import PAGES
from bench_service.app import freeze_startup_objects
from bench_service.db.engine import create_database
from bench_service.models import Task, User
from bench_service.settings import Settings


@asynccontextmanager
async def lifespan(app):
    app.state.database = create_database(Settings())
    app.state.reads = app.state.database.engine.execution_options(isolation_level="AUTOCOMMIT")
    freeze_startup_objects()
    yield
    await app.state.database.dispose()


app = FastAPI(lifespan=lifespan)
"""

# --minimal: the rendered project's models, schemas and database layer (engine, pool,
# autocommit reads) in a FastAPI app without the template's HTTP layer: no middleware, no
# access log, no dependencies, routes on the app. The same ORM calls as the rendered endpoints;
# what it serves is the most an app that keeps the ORM session can serve.
MINIMAL_APP = (
    '"""The rendered endpoints\' ORM calls, without the template\'s HTTP layer."""\n'
    + BARE_APP
    + """


# Sessions are closed as the template's dependencies close them. (`async with session` closes
# in a task of its own, shielded: 20-25% of the single-row read's req/s.)
@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: uuid.UUID) -> UserRead:
    session = app.state.database.read_sessionmaker()
    try:
        user = await session.get(User, user_id)
        if user is None:
            raise HTTPException(404)
        return UserRead.model_validate(user)
    finally:
        await session.close()


@app.get("/api/v1/tasks")
async def list_tasks(limit: int = 20) -> Page[TaskRead]:
    session = app.state.database.read_sessionmaker()
    try:
        rows = (await session.scalars(PAGES.select(select(Task), None, limit))).all()
        return PAGES.page(rows, limit, TaskRead.model_validate)
    finally:
        await session.close()


@app.post("/api/v1/tasks", status_code=201)
async def create_task(body: TaskCreate) -> TaskRead:
    session = app.state.database.sessionmaker()
    try:
        task = Task(**body.model_dump())
        session.add(task)
        try:
            await session.flush()  # the foreign key checks the owner, as in the template
        except IntegrityError as exc:
            if sqlstate(exc) == FOREIGN_KEY_VIOLATION:
                raise HTTPException(404) from None
            raise
        await session.commit()
        return TaskRead.model_validate(task)
    finally:
        await session.close()
"""
)

# --minimal also serves `core`: the same statements through SQLAlchemy Core on a pooled
# connection of the same engine, no Session at all, statements built once with bind
# parameters: the cheapest way SQLAlchemy runs them, short of writing SQL strings.
CORE_APP = (
    '"""The same statements through SQLAlchemy Core: no Session, no HTTP layer."""\n'
    + BARE_APP
    + """

users, tasks = User.__table__, Task.__table__
USER = select(users).where(users.c.id == bindparam("id"))
TASKS = PAGES.select(select(Task), None, 0).limit(bindparam("limit"))
INSERT = insert(tasks).returning(*tasks.c)


# Connections are closed in `finally`, not `async with`, for the reason the minimal app gives.
@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: uuid.UUID) -> UserRead:
    connection = await app.state.reads.connect().start()
    try:
        row = (await connection.execute(USER, {"id": user_id})).one_or_none()
    finally:
        await connection.close()
    if row is None:
        raise HTTPException(404)
    return UserRead.model_validate(row)


@app.get("/api/v1/tasks")
async def list_tasks(limit: int = 20) -> Page[TaskRead]:
    connection = await app.state.reads.connect().start()
    try:
        rows = (await connection.execute(TASKS, {"limit": limit + 1})).all()
        return PAGES.page(rows, limit, TaskRead.model_validate)
    finally:
        await connection.close()


@app.post("/api/v1/tasks", status_code=201)
async def create_task(body: TaskCreate) -> TaskRead:
    connection = await app.state.database.engine.connect().start()
    try:
        try:
            row = (await connection.execute(INSERT, body.model_dump())).one()
        except IntegrityError as exc:
            if sqlstate(exc) == FOREIGN_KEY_VIOLATION:
                raise HTTPException(404) from None
            raise
        await connection.commit()
    finally:
        await connection.close()
    return TaskRead.model_validate(row)
"""
)


# wrk: random ids from a file; prints one JSON line of figures when done.
WRK_SCRIPT = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(42)
local mode = "%(mode)s"
request = function()
  local id = ids[math.random(#ids)]
  if mode == "user" then return wrk.format("GET", "/api/v1/users/" .. id) end
  if mode == "tasks" then return wrk.format("GET", "/api/v1/tasks?limit=20") end
  local body = '{"owner_id": "' .. id .. '", "title": "bench"}'
  return wrk.format("POST", "/api/v1/tasks", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  -- the share of requests over 1 s, from the latency percentiles (microseconds)
  local low, high = 0, 100
  for _ = 1, 30 do
    local mid = (low + high) / 2
    if latency:percentile(mid) <= 1000000 then low = mid else high = mid end
  end
  local over = 0
  if latency.max > 1000000 then over = math.ceil((100 - low) / 100 * summary.requests) end
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50": %%f, "p99": %%f, "over_1s": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, over, bad))
end
"""


async def seed(dsn: str, users: int, tasks: int) -> list[str]:
    """Users and tasks, as the example API would store them; returns the user ids."""
    connection = await asyncpg.connect(dsn)
    try:
        ids = [uuid.uuid4() for _ in range(users)]
        await connection.executemany(
            "INSERT INTO users (id, email, name) VALUES ($1, $2, $3)",
            [(i, f"user{n}@example.com", f"User {n}") for n, i in enumerate(ids)],
        )
        rng = random.Random(1)  # noqa: S311  (sample data, reproducible)
        today = date(2026, 11, 23)
        await connection.executemany(
            "INSERT INTO tasks (id, owner_id, title, status, priority, tags, due_date)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    uuid.uuid4(),
                    rng.choice(ids),
                    f"Task {n}",
                    rng.choice(["todo", "in_progress", "done"]),
                    rng.choice(["low", "medium", "high", "urgent"]),
                    rng.sample(["home", "work", "errand", "later"], rng.randint(0, 2)),
                    rng.choice([None, today + timedelta(days=rng.randint(-30, 60))]),
                )
                for n in range(tasks)
            ],
        )
    finally:
        await connection.close()
    return [str(i) for i in ids]


async def forget_writes(dsn: str) -> None:
    """Delete the tasks the POST runs created, so that the lists stay 5,000 tasks long."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DELETE FROM tasks WHERE title = 'bench'")
        await connection.execute("VACUUM ANALYZE tasks")
    finally:
        await connection.close()


def serve(args: list[str], cwd: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """uvicorn on ``port``; returns once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--no-access-log"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if first_answer(f"http://127.0.0.1:{port}/api/v1/tasks?limit=1", process) is not None:
        return process
    process.kill()
    sys.exit(f"uvicorn {' '.join(args)} never answered")


def wrk(port: int, script: Path, connections: int, duration: int) -> dict[str, float]:
    """One wrk run; its figures."""
    proc = subprocess.run(
        [
            str(shutil.which("wrk")),
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def ratio(got: dict[str, dict[str, float]], name: str) -> float:
    """``name``'s req/s over the raw app's, in one round."""
    return got[name]["rps"] / got["raw"]["rps"]


def report(rows: list[dict[str, dict[str, float]]]) -> None:
    """Each round's figures, and each app's median ratio to the raw app."""
    for n, got in enumerate(rows, 1):
        cells = "  ".join(
            f"{name} {f['rps']:7.0f} req/s p50 {f['p50']:6.1f} ms p99 {f['p99']:7.1f} ms "
            f">1s {f['over_1s']:.0f} err {f['errors']:.0f}"
            for name, f in got.items()
        )
        print(f"  round {n}: {cells}  ratio {ratio(got, 'rendered'):.2f}")
    for name in rows[0]:
        if name != "raw":
            median = statistics.median(ratio(got, name) for got in rows)
            print(f"  median ratio {median:.2f}" + ("" if name == "rendered" else f" ({name})"))


@contextmanager
def prepared(ref: str = "HEAD") -> Iterator[tuple[Path, Path, str, dict[str, str]]]:
    """Render the models variant at ``ref`` into a temporary directory ``tmp``, start an
    embedded PostgreSQL, migrate, seed 1,000 users and 5,000 tasks (their ids in
    ``tmp/ids.txt``); yield ``tmp``, the project, the server's URL and the environment the
    rendered app runs with (production). The server is stopped before ``tmp`` is deleted:
    the wheel's own stop at exit would find its data directory gone and leave it running.
    """
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        server = embedded_server(tmp / "pg")
        try:
            yield tmp, *render_and_seed(tmp, ref, str(server.get_uri()))
        finally:
            server.cleanup()


def render_and_seed(tmp: Path, ref: str, dsn: str) -> tuple[Path, str, dict[str, str]]:
    """``prepared``'s work between starting the server and stopping it."""
    project = tmp / "bench-service"
    run_copy(
        str(ROOT),
        str(project),
        data={"project_name": "Bench Service", "with_models": True},
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=ref,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "DATABASE_URL": dsn,
        "ENVIRONMENT": "production",
    }
    subprocess.run(
        [sys.executable, "-m", "bench_service", "migrate"],
        env=env,
        check=True,
        cwd=project,
        capture_output=True,
    )
    ids = asyncio.run(seed(dsn, 1000, 5000))
    (tmp / "ids.txt").write_text("\n".join(ids) + "\n")
    return project, dsn, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="32,64")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ref", default="HEAD", help="the template commit or tag to render")
    parser.add_argument("--endpoints", default="user,tasks,post", help="which to measure")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="serve the rendered app with METRICS_TOKEN set: requests and pools counted",
    )
    parser.add_argument(
        "--minimal",
        action="store_true",
        help="also serve two ceilings without the template's HTTP layer: its ORM calls"
        " (minimal) and the same statements through SQLAlchemy Core (core)",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with prepared(options.ref) as (tmp, project, dsn, env):
        env["RAW_DSN"] = dsn
        env.update({"METRICS_TOKEN": uuid.uuid4().hex} if options.metrics else {})
        # The rendered app logs as `serve` has it log in production: a JSON access line
        # per request (to /dev/null here). The raw app logs nothing.
        logging_config = tmp / "logging.json"
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, sys; from bench_service.log import log_config;"
                " json.dump(log_config('INFO', 'json'), open(sys.argv[1], 'w'))",
                str(logging_config),
            ],
            env=env,
            check=True,
        )
        (tmp / "raw_app.py").write_text(RAW_APP)
        scripts = {}
        for mode in ("user", "tasks", "post"):
            scripts[mode] = tmp / f"{mode}.lua"
            scripts[mode].write_text(WRK_SCRIPT % {"ids": tmp / "ids.txt", "mode": mode})
        apps = {
            "rendered": (
                ["--factory", "bench_service.app:create_app", "--log-config", str(logging_config)],
                project,
            ),
            "raw": (["raw_app:app"], tmp),
        }
        if options.minimal:
            (tmp / "minimal_app.py").write_text(MINIMAL_APP)
            (tmp / "core_app.py").write_text(CORE_APP)
            apps["minimal"] = (["minimal_app:app"], tmp)
            apps["core"] = (["core_app:app"], tmp)
        endpoints = {
            mode: label for mode, label in ENDPOINTS.items() if mode in options.endpoints.split(",")
        }
        print(f"{os.cpu_count()} CPUs; {options.duration}s per run; rounds alternate apps")
        for loop, http in PAIRS:
            servers = {}
            for name, (target, cwd) in apps.items():
                port = free_port()
                args = [*target, "--loop", loop, "--http", http]
                servers[name] = (serve(args, cwd, env, port), port)
            try:
                for connections in map(int, options.connections.split(",")):
                    for mode, label in endpoints.items():
                        rows = []
                        for _ in range(options.rounds):
                            got = {}
                            for name, (_, port) in servers.items():
                                got[name] = wrk(port, scripts[mode], connections, options.duration)
                                if mode == "post":
                                    asyncio.run(forget_writes(dsn))
                            rows.append(got)
                        print(f"\n{loop}/{http}, -c{connections}, {label}")
                        report(rows)
            finally:
                for process, _ in servers.values():
                    process.terminate()
                    process.wait(timeout=10)


if __name__ == "__main__":
    main()
