"""Rendered projects' pytest runs, each in a fork of a process that imported their libraries.

Every rendered suite imports the same third-party libraries (SQLAlchemy, FastAPI, Alembic,
schemathesis, ...): about 1.4 s of a run, and the template's tests run a rendered suite over
thirty times. One server process per xdist worker imports them once and forks a child per
run. The child is as isolated as a new interpreter where it matters: nothing of a project
was imported before the fork, and it gets its own working directory, environment,
``sys.path`` and output files. The server itself never starts a thread or an event loop,
so forking it is safe.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

SERVER = r"""
import json, os, sys, traceback, warnings

# A warning raised here would be lost to the projects' runs, where it may be an error:
# a library that warns on import must not be on this list.
with warnings.catch_warnings():
    warnings.simplefilter("error")
    import alembic.command, asyncpg, fastapi, httpx, hypothesis, pydantic_settings  # noqa
    import pytest, schemathesis, sqlalchemy.ext.asyncio, sqlmodel, uvicorn  # noqa

for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            sys.path[:0] = request["path"]
            for fd, name in ((1, "stdout"), (2, "stderr")):
                os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            # pytest would rewrite its plugins' modules (hypothesis', anyio's, ...) had they
            # not been imported already, and warns; the projects turn warnings into errors.
            args = ["-W", "ignore::pytest.PytestAssertRewriteWarning", *request["args"]]
            sys.argv = ["pytest", *args]
            code = int(pytest.main(args))
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class PytestServer:
    """``run(project, env, args)``: the project's pytest in a fresh fork, as a process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(
        self, project: Path, env: Mapping[str, str], args: list[str], timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Like ``python -m pytest ARGS`` in ``project`` with ``env`` (PYTHONPATH honoured)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        with tempfile.TemporaryDirectory() as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            request = {
                "cwd": str(project),
                "env": dict(env),
                "path": [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p],
                "args": args,
                "stdout": str(out),
                "stderr": str(err),
            }
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            pid = int(self.process.stdout.readline())
            watchdog = threading.Timer(timeout, os.kill, (pid, signal.SIGKILL))
            watchdog.start()
            try:
                returncode = int(self.process.stdout.readline())
            finally:
                watchdog.cancel()
            return subprocess.CompletedProcess(
                ["pytest", *args],
                returncode,
                out.read_text(errors="replace"),
                err.read_text(errors="replace"),
            )

    def close(self) -> None:
        """Stop the server (its children are done: ``run`` waits for each)."""
        with self.process:  # closes its pipes; waits
            pass
