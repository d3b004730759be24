"""Lists as the table grows: database time per page and req/s, cursor pages against the
offset pages and counts the lists had before.

    python3 tasks.py bench lists [--sizes 5000,1000000,10000000] [--duration 5]
        [--connections 32] [--runs 5]

Renders the models variant from this checkout, starts an embedded PostgreSQL, migrates,
seeds 1,000 users and 5,000 tasks, then grows ``tasks`` to each size in turn
(``generate_series``; random owners, statuses, priorities, tags, due dates, a fifth
without one) and runs ``VACUUM ANALYZE``. At each size it prints PostgreSQL's own execution
time (``EXPLAIN ANALYZE``, the median of ``--runs``, warm) of the statements
``GET /api/v1/tasks`` sends: the first page, a page 100 rows from the end (the cursor of
that row) and filtered pages (``status=todo``; one owner's, from that owner's middle). Next
to them the statements of the offset lists (before revision 0004: ``ORDER BY`` with no
index, ``OFFSET``, and a ``count(*)`` per page). Then the rendered app (one uvicorn worker,
production settings) serves ``GET /api/v1/tasks?limit=20`` to wrk, three runs of
``--duration`` seconds (the median is printed). Figures only: nothing fails on them.
Needs wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

import asyncpg
from throughput import WRK_SCRIPT, prepared, serve, wrk

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.emulation import free_port  # noqa: E402  (after the path is set)

GROW = """
INSERT INTO tasks (id, owner_id, title, status, priority, tags, due_date, created_at, updated_at)
SELECT gen_random_uuid(), owners[1 + floor(random() * cardinality(owners))::int], 'Task ' || n,
       (ARRAY['todo', 'in_progress', 'done'])[1 + floor(random() * 3)::int],
       (ARRAY['low', 'medium', 'high', 'urgent'])[1 + floor(random() * 4)::int],
       CASE floor(random() * 4)::int WHEN 0 THEN '{}'::text[] WHEN 1 THEN '{home}'
           WHEN 2 THEN '{work}' ELSE '{errand,later}' END,
       CASE WHEN random() < 0.8 THEN DATE '2026-11-23' + floor(random() * 365)::int - 30 END,
       ts, ts
FROM (SELECT array_agg(id) AS owners FROM users) u,
     LATERAL (SELECT n, now() - interval '1 second' * n AS ts
              FROM generate_series($1::bigint, $2::bigint) n) g
"""

# The offset lists, as GET /api/v1/tasks sent them before revision 0004.
OFFSET_PAGE = (
    "SELECT * FROM tasks {where} ORDER BY due_date ASC NULLS LAST, created_at, id"
    " LIMIT 20 OFFSET {offset}"
)
COUNT = "SELECT count(*) FROM tasks {where}"

# Run in the rendered project (its package on the path): the statements the endpoint builds,
# with their values inlined, for EXPLAIN. argv: the owner, and the rows from the end.
STATEMENTS = """
import json, sys
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.asyncpg import dialect
from bench_service.api.v1.tasks import PAGES
from bench_service.models import Task, TaskStatus, col

keys = json.loads(sys.stdin.read())
def sql(query, key):
    cursor = None if key is None else PAGES.encode(PAGES.adapter.validate_python(key))
    statement = PAGES.select(query, cursor, 20)
    return str(statement.compile(dialect=dialect(), compile_kwargs={"literal_binds": True}))
owner = select(Task).where(col(Task.owner_id) == sys.argv[1])
print(json.dumps({
    "first page": sql(select(Task), None),
    "page 100 rows from the end": sql(select(Task), keys["deep"]),
    "status=todo, first page": sql(select(Task).where(col(Task.status) == TaskStatus.TODO), None),
    "one owner's, from the middle": sql(owner, keys["owner"]),
}))
"""
KEY = "SELECT json_build_array(due_date, created_at, id) FROM tasks {where} {order} OFFSET {n} LIMIT 1"  # noqa: E501
ORDER = "ORDER BY coalesce(due_date, 'infinity'::date), created_at, id"


async def grow(dsn: str, start: int, end: int) -> None:
    """Tasks ``start`` to ``end`` (numbered), then VACUUM ANALYZE. The secondary indexes are
    dropped while the rows go in and built again after (the same definitions, read from
    ``pg_indexes``): row by row into seven indexes, six million rows took over ten minutes."""
    connection = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'tasks' AND indexname <> 'pk_tasks'"
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        step = 1_000_000
        for low in range(start, end + 1, step):
            await connection.execute(GROW, low, min(low + step - 1, end))
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("VACUUM ANALYZE tasks")
        await connection.execute("CHECKPOINT")  # not while wrk runs
    finally:
        await connection.close()


async def explain(connection: asyncpg.Connection, sql: str, runs: int) -> float:
    """Median execution time (ms) of ``sql``, by EXPLAIN ANALYZE, after one warm-up run."""
    times = []
    for _ in range(runs + 1):
        plan = await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        times.append(json.loads(plan)[0]["Execution Time"])
    return float(statistics.median(times[1:]))


async def measure(dsn: str, env: dict[str, str], size: int, runs: int) -> list[str]:
    """The table's lines for one size."""
    connection = await asyncpg.connect(dsn, command_timeout=None)
    try:
        owner = await connection.fetchval(
            "SELECT owner_id FROM tasks GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1"
        )
        owned = await connection.fetchval("SELECT count(*) FROM tasks WHERE owner_id = $1", owner)
        by_owner = f"WHERE owner_id = '{owner}'"
        keys = {
            "deep": json.loads(
                await connection.fetchval(KEY.format(where="", order=ORDER, n=size - 100))
            ),
            "owner": json.loads(
                await connection.fetchval(KEY.format(where=by_owner, order=ORDER, n=owned // 2))
            ),
        }
        built = subprocess.run(
            [sys.executable, "-c", STATEMENTS, str(owner)],
            input=json.dumps(keys),
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        cursor_pages: dict[str, str] = json.loads(built.stdout)
        todo = "WHERE status = 'todo'"
        offset_pages = {
            "first page": (OFFSET_PAGE.format(where="", offset=0), COUNT.format(where="")),
            "page 100 rows from the end": (
                OFFSET_PAGE.format(where="", offset=size - 100),
                COUNT.format(where=""),
            ),
            "status=todo, first page": (
                OFFSET_PAGE.format(where=todo, offset=0),
                COUNT.format(where=todo),
            ),
            "one owner's, from the middle": (
                OFFSET_PAGE.format(where=by_owner, offset=owned // 2),
                COUNT.format(where=by_owner),
            ),
        }
        lines = []
        for case, sql in cursor_pages.items():
            now = await explain(connection, sql, runs)
            page, count = offset_pages[case]
            slow = min(runs, 3)  # a deep offset page sorts the table: seconds each at 10M
            before_page = await explain(connection, page, slow)
            before_count = await explain(connection, count, slow)
            lines.append(
                f"{size:>11,} {case:<30} {now:8.3f} ms   {before_page:9.2f} ms + "
                f"{before_count:8.2f} ms count"
            )
        return lines
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,1000000,10000000")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    sizes = sorted(int(size) for size in options.sizes.split(","))
    with prepared("HEAD") as (tmp, project, dsn, env):
        script = tmp / "tasks.lua"
        script.write_text(WRK_SCRIPT % {"ids": tmp / "ids.txt", "mode": "tasks"})
        have, served = 5000, []
        print(f"{'tasks':>11} {'statement':<30} {'cursor':>11}   {'offset list (before 0004)':>30}")
        for size in sizes:
            if size > have:
                asyncio.run(grow(dsn, have + 1, size))
                have = size
            for line in asyncio.run(measure(dsn, env, size, options.runs)):
                print(line, flush=True)
            port = free_port()
            app = serve(["--factory", "bench_service.app:create_app"], project, env, port)
            try:
                runs = [wrk(port, script, options.connections, options.duration) for _ in range(3)]
            finally:
                app.terminate()
                app.wait(timeout=10)
            served.append((size, sorted(runs, key=lambda run: run["rps"])[1]))  # the median
        how = f"-c{options.connections}, median of 3 runs of {options.duration}s"
        print(f"\nGET /api/v1/tasks?limit=20, {how}:")
        for size, figures in served:
            print(
                f"{size:>11,} tasks: {figures['rps']:6.0f} req/s, p50 {figures['p50']:6.1f} ms,"
                f" p99 {figures['p99']:7.1f} ms, errors {figures['errors']:.0f}"
                f" ({figures['rps'] / served[0][1]['rps']:.2f} x the smallest)"
            )


if __name__ == "__main__":
    main()
