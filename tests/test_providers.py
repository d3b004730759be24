"""Each provider's URL, pasted as the dashboard gives it, against a local emulation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from tests.conftest import output, run
from tests.emulation import (
    PASSWORD,
    PgBouncer,
    TlsPostgres,
    first_answer,
    free_port,
    start_pgbouncer,
    start_tls_postgres,
)
from tests.variants import BY_ID, PACKAGE, Variant

CLIENT = Path(__file__).with_name("emulation_client.py")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    server = start_tls_postgres(tmp_path_factory.mktemp("tls-postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pooler(
    tmp_path_factory: pytest.TempPathFactory, tls_server: TlsPostgres
) -> Iterator[PgBouncer]:
    bouncer = start_pgbouncer(tmp_path_factory.mktemp("pgbouncer"), tls_server)
    yield bouncer
    bouncer.stop()


def service(project: Path, env: dict[str, str], *args: str) -> Any:
    """Run ``python ARGS`` in the rendered project; it must succeed and not leak the password."""
    env = {"PYTHONPATH": str(project / "src"), **env}
    proc = run([sys.executable, *args], project, env, timeout=120)
    assert proc.returncode == 0, output(proc)
    assert PASSWORD not in proc.stdout + proc.stderr, output(proc)
    return proc


def load(project: Path, env: dict[str, str], requests: int = 60, rounds: int = 1) -> dict[str, Any]:
    proc = service(project, env, str(CLIENT), PACKAGE, str(requests), str(rounds))
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result))  # the figures for the note: pytest -s shows them
    return result


def test_neon_direct_over_tls(rendered: Callable[[Variant], Path], tls_server: TlsPostgres) -> None:
    """A Neon-shaped URL (sslmode=require&channel_binding=require) migrates and is ready."""
    project = rendered(BY_ID["neon-nullpool"])
    url = tls_server.url(query="sslmode=require&channel_binding=require")
    service(project, {"DATABASE_URL": url}, "-m", PACKAGE, "migrate")
    result = load(project, {"DATABASE_URL": url})
    assert result["failed"] == 0, result
    assert result["ready"] == 200, result
    assert result["ssl"] == "require"
    assert result["normalised"].endswith("/app"), result  # the libpq options are gone


def test_the_emulated_server_refuses_plaintext(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres
) -> None:
    """The TLS test above could fail: without TLS this server turns the service away."""
    project = rendered(BY_ID["neon-nullpool"])
    result = load(project, {"DATABASE_URL": tls_server.url(query="sslmode=disable")}, 2)
    assert result["failed"] == 2, result
    assert result["statuses"] == [503], result
    assert result["ready"] == 503, result


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_railway_urls_work_unchanged(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres, scheme: str
) -> None:
    project = rendered(BY_ID["railway-nullpool-sqlalchemy"])
    url = tls_server.url(scheme=scheme)
    service(project, {"DATABASE_URL": url}, "-m", PACKAGE, "migrate")
    result = load(project, {"DATABASE_URL": url})
    assert result["failed"] == 0, result
    assert result["ready"] == 200, result
    assert result["ssl"] == "require"  # Railway's default: encrypted, self-signed accepted


async def named_statements(url: str, *, reset: bool = False) -> list[str]:
    """Named prepared statements on the pooler's one server connection (then DEALLOCATE)."""
    connection = await asyncpg.connect(url, statement_cache_size=0, ssl="require")
    try:
        rows = await connection.fetch("SELECT name FROM pg_prepared_statements")
        if reset:
            await connection.execute("DEALLOCATE ALL")
        return [row["name"] for row in rows]
    finally:
        await connection.close()


def concurrent_load(
    project: Path, env: dict[str, str], processes: int = 3, rounds: int = 1
) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(processes) as pool:
        return list(pool.map(lambda _: load(project, env, rounds=rounds), range(processes)))


@pytest.mark.slow  # load from several processes through PgBouncer (7-9 s)
def test_supabase_transaction_pooler(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres, pooler: PgBouncer
) -> None:
    """Three processes through PgBouncer in transaction mode: zero errors, no leftovers.

    The pooler runs on a free port, so it is declared (DB_TRANSACTION_POOLER=true); port
    6543 and -pooler hosts are detected without it (see test_neon_pooled_host_is_detected
    and the rendered project's tests).
    """
    project = rendered(BY_ID["supabase-queue-sqlmodel"])
    direct = tls_server.url(query="sslmode=require")
    env = {
        "DATABASE_URL": pooler.url(),
        "DATABASE_DIRECT_URL": direct,
        "DB_TRANSACTION_POOLER": "true",
    }
    service(project, env, "-m", PACKAGE, "migrate")
    asyncio.run(named_statements(pooler.url(), reset=True))  # whatever other tests left
    results = concurrent_load(project, env)
    assert [r["failed"] for r in results] == [0, 0, 0], results
    assert {r["ready"] for r in results} == {200}, results
    assert all(r["transaction_pooler"] for r in results)
    assert asyncio.run(named_statements(pooler.url())) == []


@pytest.mark.slow  # load from several processes through PgBouncer (7-9 s)
def test_pooler_without_the_fix_fails(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres, pooler: PgBouncer
) -> None:
    """The control: with pooler handling forced off, the same load breaks."""
    project = rendered(BY_ID["supabase-queue-sqlmodel"])
    env = {"DATABASE_URL": pooler.url(), "DB_TRANSACTION_POOLER": "false"}
    asyncio.run(named_statements(pooler.url(), reset=True))
    results = concurrent_load(project, env)
    leftovers = asyncio.run(named_statements(pooler.url(), reset=True))
    assert sum(r["failed"] for r in results) > 0 or leftovers, results


PGBOUNCER_PORT = 6432  # PgBouncer's default, which URLs pasted from its hosts carry


@pytest.fixture(scope="module")
def pooler_on_6432(
    tmp_path_factory: pytest.TempPathFactory, tls_server: TlsPostgres
) -> Iterator[PgBouncer]:
    """PgBouncer on its own default port (one test only: xdist workers cannot share it)."""
    bouncer = start_pgbouncer(tmp_path_factory.mktemp("pgbouncer-6432"), tls_server, PGBOUNCER_PORT)
    yield bouncer
    bouncer.stop()


@pytest.mark.slow  # load from several processes through PgBouncer (7-9 s)
def test_pgbouncer_on_its_default_port_as_pasted(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres, pooler_on_6432: PgBouncer
) -> None:
    """``...:6432/app?sslmode=require`` and nothing else said: detected, three processes
    through one server connection, 0 errors; migrate refuses it without a direct URL.
    (A variant with the example models: the emulated server is migrated to their head.)"""
    project = rendered(BY_ID["railway-nullpool-sqlalchemy"])
    pasted = f"{pooler_on_6432.url()}?sslmode=require"
    refused = run(
        [sys.executable, "-m", PACKAGE, "migrate"],
        project,
        {"PYTHONPATH": str(project / "src"), "DATABASE_URL": pasted},
    )
    assert refused.returncode == 2, output(refused)
    assert "DATABASE_DIRECT_URL" in refused.stderr, output(refused)
    env = {"DATABASE_URL": pasted, "DATABASE_DIRECT_URL": tls_server.url(query="sslmode=require")}
    service(project, env, "-m", PACKAGE, "migrate")
    asyncio.run(named_statements(pooler_on_6432.url(), reset=True))
    results = concurrent_load(project, env)
    assert [r["failed"] for r in results] == [0, 0, 0], results
    assert all(r["transaction_pooler"] for r in results), results
    assert asyncio.run(named_statements(pooler_on_6432.url())) == []


def test_an_undeclared_pooler_is_found_by_its_errors(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres, pooler: PgBouncer
) -> None:
    """A pooler on a port no rule knows, nothing declared: the first clash turns the caches
    off (the requests then in flight get 503 with Retry-After, never a 500), and the
    process has no error after that."""
    project = rendered(BY_ID["supabase-queue-sqlmodel"])
    env = {"DATABASE_URL": pooler.url()}
    asyncio.run(named_statements(pooler.url(), reset=True))
    results = concurrent_load(project, env, rounds=3)
    assert all(r["statuses"] in ([], [503]) for r in results), results
    # A process fails in the round it finds the pooler (the requests then in flight), only.
    assert all(sum(map(bool, r["failed_by_round"])) <= 1 for r in results), results
    assert any(r["found_pooler"] for r in results), results
    asyncio.run(named_statements(pooler.url(), reset=True))


def test_migrations_refuse_the_pooler(
    rendered: Callable[[Variant], Path], pooler: PgBouncer
) -> None:
    project = rendered(BY_ID["supabase-queue-sqlmodel"])
    proc = run(
        [sys.executable, "-m", PACKAGE, "migrate"],
        project,
        {
            "PYTHONPATH": str(project / "src"),
            "DATABASE_URL": pooler.url(),
            "DB_TRANSACTION_POOLER": "true",
        },
    )
    assert proc.returncode == 2, output(proc)
    assert "DATABASE_DIRECT_URL" in proc.stderr
    assert PASSWORD not in proc.stderr


def test_a_wrong_password_is_one_line(
    rendered: Callable[[Variant], Path], tls_server: TlsPostgres
) -> None:
    """Against a server that checks passwords: the user, the host, the hint, and no echo."""
    project = rendered(BY_ID["neon-nullpool"])
    wrong = "Wrong-Pass-7"
    url = tls_server.url(query="sslmode=require").replace(PASSWORD, wrong)
    proc = run(
        [sys.executable, "-m", PACKAGE, "migrate"],
        project,
        {"PYTHONPATH": str(project / "src"), "DATABASE_URL": url},
    )
    assert proc.returncode == 1, output(proc)
    lines = [line for line in proc.stderr.splitlines() if " INFO " not in line]
    assert lines == [
        f"DATABASE_URL: password authentication failed for user 'app' on 127.0.0.1:"
        f"{tls_server.port} (check the password; @ : / ? # in the user name or password "
        "must be percent-encoded (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23))"
    ], output(proc)
    assert wrong not in proc.stdout + proc.stderr


def test_neon_pooled_host_is_detected(rendered: Callable[[Variant], Path]) -> None:
    project = rendered(BY_ID["neon-nullpool"])
    code = (
        "from my_service.settings import Settings\n"
        "t = Settings(_env_file=None).require_database()\n"
        "print(t.masked, t.transaction_pooler, t.connect_args['statement_cache_size'])\n"
    )
    url = (
        "postgresql://neondb_owner:npg_x@ep-cool-1-pooler.eu-central-1.aws.neon.tech/neondb"
        "?sslmode=require&channel_binding=require"
    )
    proc = run(
        [sys.executable, "-c", code],
        project,
        {"PYTHONPATH": str(project / "src"), "DATABASE_URL": url},
    )
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.split() == [
        "postgresql+asyncpg://neondb_owner:***@ep-cool-1-pooler.eu-central-1.aws.neon.tech/neondb",
        "True",
        "0",
    ]


def test_docker_compose_file(rendered: Callable[[Variant], Path]) -> None:
    project = rendered(BY_ID["docker-queue-sqlalchemy"])
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"].startswith("postgres:18")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in db["volumes"])
    assert "pgdata" in compose["volumes"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    command = " ".join(app["command"])
    assert command.index("migrate") < command.index("serve")
    dockerfile = (project / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2
    assert "USER 10001" in dockerfile
    assert "uv sync" in dockerfile


def test_docker_commands_work_outside_docker(
    rendered: Callable[[Variant], Path], database_for: Callable[[str], str]
) -> None:
    """The compose command (migrate, then serve) against a real database, without Docker."""
    project = rendered(BY_ID["docker-queue-sqlalchemy"])
    env = {
        "PYTHONPATH": str(project / "src"),
        "DATABASE_URL": database_for("docker_cmd"),
        "ENVIRONMENT": "production",
    }
    service(project, env, "-m", PACKAGE, "migrate")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "serve"],
        cwd=project,
        env={**os.environ, **env, "PORT": str(port)},
    )
    try:
        ready = first_answer(f"http://127.0.0.1:{port}/health/ready", server)
        assert ready is not None, "the server never answered"
        assert ready.status_code == 200, ready.text
    finally:
        server.terminate()
        server.wait(timeout=10)
