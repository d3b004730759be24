"""Read replicas under load: where the reads go, and what a replica going away costs.

    python3 tasks.py bench replicas [--duration 12] [--connections 32]

Renders the models variant from this checkout, starts an embedded PostgreSQL, migrates,
seeds 1,000 users and 5,000 tasks, and builds two streaming replicas of it with the wheel's
``pg_basebackup -R`` (the rendered project's ``Standby``). It serves the rendered app (one
uvicorn worker, production settings) with ``DATABASE_REPLICA_URLS`` naming both, and drives
``GET /api/v1/users/{id}`` with wrk twice: once steady, once while replica 2 is stopped a
third of the way in and started again at two thirds. For each run it prints req/s, p99,
non-2xx responses and errors, and the transactions each server committed meanwhile (each
read is one; the replica checks add about one a second per server). Then the same read
with no replica configured, for comparison. Figures only: nothing fails on them. Needs wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import asyncpg
from throughput import WRK_SCRIPT, prepared, serve, wrk

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.emulation import free_port  # noqa: E402  (after the path is set)

COMMITTED = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"


async def committed(dsns: dict[str, str]) -> dict[str, int]:
    """Each server's committed transactions so far (0 for one that does not answer)."""
    counts = {}
    for name, dsn in dsns.items():
        try:
            connection = await asyncpg.connect(dsn, timeout=2)
        except (OSError, asyncpg.PostgresError):
            counts[name] = 0
            continue
        try:
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            counts[name] = int(await connection.fetchval(COMMITTED))
        finally:
            await connection.close()
    return counts


def run(
    label: str, port: int, script: Path, options: argparse.Namespace, dsns: dict[str, str]
) -> None:
    """One wrk run against ``port``; its figures and the reads each server served."""
    before = asyncio.run(committed(dsns))
    figures = wrk(port, script, options.connections, options.duration)
    after = asyncio.run(committed(dsns))
    served = ", ".join(f"{name} {max(after[name] - before[name], 0)}" for name in dsns)
    print(
        f"{label}: {figures['rps']:.0f} req/s, p99 {figures['p99']:.1f} ms, "
        f"{figures['requests']:.0f} requests, non-2xx or errors {figures['errors']:.0f}; "
        f"transactions by server: {served}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=12)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with prepared() as (tmp, project, dsn, env):
        script = tmp / "user.lua"
        script.write_text(WRK_SCRIPT % {"ids": tmp / "ids.txt", "mode": "user"})
        sys.path.insert(0, str(project / "src"))
        from bench_service.db.embedded import Standby  # noqa: PLC0415  (rendered just now)

        replicas = [Standby(dsn, tmp / f"replica-{n}") for n in (1, 2)]
        dsns = {"primary": dsn} | {f"replica {n}": r.url for n, r in enumerate(replicas, 1)}
        print(f"{os.cpu_count()} CPUs; wrk -c{options.connections}, {options.duration}s per run")
        factory = ["--factory", "bench_service.app:create_app"]
        with_replicas = {**env, "DATABASE_REPLICA_URLS": ",".join(r.url for r in replicas)}
        app = serve(factory, project, with_replicas, port := free_port())
        try:
            time.sleep(2)  # the first replica checks
            run("two replicas, steady", port, script, options, dsns)
            third = options.duration / 3

            def stop_and_start() -> None:
                time.sleep(third)
                replicas[1].stop()
                time.sleep(third)
                replicas[1].start()

            outage = threading.Thread(target=stop_and_start)
            outage.start()
            label = f"replica 2 stopped at {third:.0f}s, started at {2 * third:.0f}s"
            run(label, port, script, options, dsns)
            outage.join()
        finally:
            app.terminate()
            app.wait(timeout=10)
        app = serve(factory, project, env, port := free_port())
        try:
            run("no replica configured", port, script, options, dsns)
        finally:
            app.terminate()
            app.wait(timeout=10)
            for replica in replicas:
                replica.delete()


if __name__ == "__main__":
    main()
