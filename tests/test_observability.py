"""The rendered service's ``/metrics`` scraped by a real Prometheus (Debian's ``prometheus``,
which .ci/run installs), from ``serve --workers 2`` in production with ``METRICS_TOKEN``;
PromQL answers about it; ``promtool check metrics`` on a scrape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import output, run
from tests.emulation import first_answer, free_port, require
from tests.variants import BY_ID, PACKAGE, Variant

pytestmark = pytest.mark.slow  # see conftest.py: run by --slow and on CI

TOKEN = "scrape-token-s3cret"
LIST_REQUESTS = 120


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """The result of an instant PromQL query."""
    url = f"{prometheus}/api/v1/query?query={urllib.parse.quote(promql)}"
    answer = httpx.get(url, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def wait_for(prometheus: str, promql: str, expected: float, timeout: float = 60) -> float:
    """Query until the (single) answer is ``expected``; return the last answer."""
    deadline, got = time.monotonic() + timeout, float("nan")
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        if result:
            got = float(result[0]["value"][1])
            if got == expected:
                return got
        time.sleep(0.5)
    return got


def test_prometheus_scrapes_every_worker(
    rendered: Callable[[Variant], Path],
    database_for: Callable[[str], str],
    tmp_path: Path,
) -> None:
    prometheus, promtool = require("prometheus"), require("promtool")
    project = rendered(BY_ID["local-queue-sqlalchemy"])
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "DATABASE_URL": database_for("metrics"),
        "ENVIRONMENT": "production",
        "METRICS_TOKEN": TOKEN,
    }
    migrated = run([sys.executable, "-m", PACKAGE, "migrate"], project, env, timeout=120)
    assert migrated.returncode == 0, output(migrated)
    port, prometheus_port = free_port(), free_port()
    service = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "serve", "--workers", "2"],
        cwd=project,
        env={**env, "PORT": str(port)},
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "service",
                        "authorization": {"credentials": TOKEN},
                        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                    }
                ],
            }
        )
    )
    scraper = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = first_answer(f"{service}/health/ready", server)
        assert ready is not None, "the service never answered"
        assert ready.status_code == 200, ready.text

        # Without the token: 401; with it, a scrape promtool finds nothing wrong with.
        assert httpx.get(f"{service}/metrics").status_code == 401
        scrape = httpx.get(f"{service}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scrape.status_code == 200
        lint = subprocess.run(
            [promtool, "check", "metrics"],
            input=scrape.text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr

        # Requests on many connections, so that both workers answer some.
        def get(path: str) -> int:
            return httpx.get(f"{service}{path}", timeout=10).status_code

        with ThreadPoolExecutor(16) as threads:
            statuses = list(threads.map(get, ["/api/v1/users?limit=5"] * LIST_REQUESTS))
            statuses += list(
                threads.map(get, ["/api/v1/users/00000000-0000-0000-0000-000000000000"] * 10)
            )
        assert statuses.count(200) == LIST_REQUESTS
        assert statuses.count(404) == 10

        prom = f"http://127.0.0.1:{prometheus_port}"
        counted = 'sum(http_requests_total{job="service",route="/api/v1/users",status="200"})'
        targets = f"{prom}/api/v1/targets"
        assert wait_for(prom, counted, LIST_REQUESTS) == LIST_REQUESTS, httpx.get(targets).text
        missing = 'sum(http_requests_total{route="/api/v1/users/{user_id}",status="404"})'
        assert wait_for(prom, missing, 10) == 10
        up = query(prom, 'up{job="service"}')
        assert [float(r["value"][1]) for r in up] == [1.0]
        pool = query(prom, 'db_pool_size{database="primary"}')
        assert [float(r["value"][1]) for r in pool] == [10.0]  # 5 a worker, both workers
        p99 = query(
            prom,
            "histogram_quantile(0.99, sum by (le) "
            '(http_request_duration_seconds_bucket{route="/api/v1/users"}))',
        )
        assert p99, "no latency histogram"
        print(f"PromQL {counted} = {LIST_REQUESTS}; p99 = {p99[0]['value'][1]} s")
    finally:
        scraper.terminate()
        server.terminate()
        scraper.wait(timeout=10)
        server.wait(timeout=15)
