"""Run a rendered service in process and hammer it: ``python emulation_client.py PKG N [R]``.

Settings come from the environment (DATABASE_URL, ...), exactly as in production. Prints
one JSON line: how many of N concurrent requests failed (in each of R rounds, one after
the other), readiness, and what the URL normaliser made of DATABASE_URL (password masked).
"""

import asyncio
import importlib
import json
import sys
from typing import Any

import httpx
from sqlalchemy import text


async def main(package: str, requests: int, rounds: int = 1) -> dict[str, Any]:
    """Start the app's lifespan, send ``requests`` concurrent parameterised queries."""
    app_module = importlib.import_module(f"{package}.app")
    session_module = importlib.import_module(f"{package}.db.session")
    settings = importlib.import_module(f"{package}.settings").Settings()
    app = app_module.create_app(settings)
    db_session = session_module.DbSession

    @app.get("/work/{n}")
    async def work(n: int, session: db_session) -> dict[str, int]:
        # Two different statements per request: each would be a named prepared statement.
        first = (await session.execute(text("SELECT CAST(:n AS int) + 1"), {"n": n})).scalar_one()
        second = (await session.execute(text("SELECT CAST(:n AS int) * 2"), {"n": n})).scalar_one()
        return {"sum": int(first) + int(second)}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulated") as client:
            failed: list[list[int]] = []
            for _ in range(rounds):
                batch = (client.get(f"/work/{n}") for n in range(requests))
                responses = await asyncio.gather(*batch)
                failed.append(
                    [
                        r.status_code
                        for n, r in enumerate(responses)
                        if r.status_code != 200 or r.json() != {"sum": n + 1 + 2 * n}
                    ]
                )
            ready = await client.get("/health/ready")
            found = app.state.database.transaction_pooler
    target = settings.require_database()
    return {
        "failed": sum(map(len, failed)),
        "failed_by_round": [len(round_) for round_ in failed],
        "statuses": sorted({status for round_ in failed for status in round_}),
        "found_pooler": found,
        "ready": ready.status_code,
        "ready_body": ready.json(),
        "normalised": target.masked,
        "connect_args": sorted(target.connect_args),
        "ssl": str(target.connect_args.get("ssl")),
        "transaction_pooler": target.transaction_pooler,
    }


if __name__ == "__main__":
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), rounds))))
