"""Load benchmark: authenticated `GET /api/v1/items?limit=20`, items-service vs the baseline.

Both run under the same gunicorn config against the same PostgreSQL database (100,000 items
over 100 owners), in the same run, driven by wrk with a token per owner. A second pair of runs
compares the first page with a page at depth 100,000 (an admin listing everyone's items).

The revocation check: items with it on (the default: every token looked up in each worker's
in-memory view of the revocation feed, which holds 10,000 revoked sessions and 1,000 revoked
users and gains 10 more each second during the run) against items with it off, in alternating
rounds. Then how long a revocation takes to reach every worker: a session revocation is applied
(as the event consumer applies it) while 8 kept-alive connections (spread over the workers)
keep asking with that session's token; the time from its commit to each connection's first 401.

Usage: `make bench` (or `uv run python bench/items_list.py [--seconds N]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server) and wrk on PATH.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from harness import (
    AUDIENCE,
    BENCH_DIR,
    ISSUER,
    SECRET,
    access_token,
    database_server,
    gunicorn,
    items_production_env,
    jwks_server,
    server_cpu,
    signing_key,
    upgrade_database,
)
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from items import create_app
from items.config import ItemsSettings
from items.models import RevocationFeedEntry
from items.services.event_service import IdentityEventService
from items.services.item_service import ItemService
from service_kit.db import CursorCodec, KeysetPosition
from service_kit.events.contract import CloudEvent, SessionRevoked
from service_kit.http.db import get_session
from service_kit.security.revocation import RevocationKind

OWNERS, ITEMS_PER_OWNER = 100, 1_000
DEPTH = 100_000
REVOCATION_LIFETIME_SECONDS = 930  # the TTL plus items' default leeway
REVOKED_SESSIONS, REVOKED_USERS = 10_000, 1_000
REVOCATIONS_PER_SECOND = 10
ROUNDS = 3  # rounds of the revocation check on and off, the order alternating per round
POLL_SECONDS = 0.2  # ITEMS_REVOCATION_POLL_SECONDS' default
VISIBILITY_TRIALS = 30
PROBE_CONNECTIONS = 8
LOPSIDED_SHARE = 0.75  # of the workers' CPU in one of the 2 workers: the run is done again


def prepare_database(server_url: str) -> tuple[str, list[uuid.UUID]]:
    """A database with 100 owners x 1,000 items; reused when an earlier run left it complete."""
    url = make_url(server_url).set(database="items_bench").render_as_string(hide_password=False)
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname='items_bench'")).first()
        if not exists:
            conn.execute(text('CREATE DATABASE "items_bench"'))
    admin.dispose()
    upgrade_database("items", url)
    engine = create_engine(url)
    with engine.connect() as conn:
        owners = [
            row[0]
            for row in conn.execute(
                text("SELECT owner_id FROM items GROUP BY owner_id HAVING count(*) = :n"),
                {"n": ITEMS_PER_OWNER},
            )
        ]
        total = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
    if len(owners) != OWNERS or total != OWNERS * ITEMS_PER_OWNER:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE items, idempotency_records, item_tags"))
        app = create_app(ItemsSettings(_env_file=None, database_url=url, log_level="WARNING"))  # type: ignore[call-arg]
        owners = [uuid.uuid4() for _ in range(OWNERS)]
        with app.app_context():
            service = ItemService(get_session())
            for owner in owners:
                service.seed_items(owner_id=owner, count=ITEMS_PER_OWNER)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE items"))
    engine.dispose()
    return url, owners


def deep_cursor(url: str) -> str:
    """The cursor that items-service would hand out after row 100,000 - 40 of the admin list."""
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT created_at, id FROM items WHERE deleted_at IS NULL "
                "ORDER BY created_at DESC, id DESC OFFSET :n LIMIT 1"
            ),
            {"n": DEPTH - 41},
        ).one()
    engine.dispose()
    return CursorCodec(SECRET, scope="items:-created_at").encode(KeysetPosition(row[0], row[1]))


def make_tokens(workdir: Path, owners: list[uuid.UUID]) -> tuple[list[str], str]:
    key = signing_key(workdir)
    (workdir / "private.jwk").write_text(jwt.algorithms.ECAlgorithm.to_jwk(key))
    now = datetime.now(UTC)
    users = [access_token(key, owner, "user", now=now) for owner in owners]
    return users, access_token(key, uuid.uuid4(), "admin", now=now)


def session_token(key_file: Path, session_id: uuid.UUID) -> str:
    """A token of a fresh user in session `session_id`, signed with the bench key."""
    key = jwt.PyJWK(json.loads(key_file.read_text())).key
    return access_token(key, uuid.uuid4(), "user", session=session_id)


def write_lua(workdir: Path, name: str, tokens: list[str], path: str) -> Path:
    script = workdir / f"{name}.lua"
    quoted = ",\n".join(f'  "{token}"' for token in tokens)
    script.write_text(
        f"local tokens = {{\n{quoted}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        f'  return wrk.format("GET", "{path}", '
        '{["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]})\n'
        "end\n"
    )
    return script


def serve(name: str, app_spec: str, env: dict[str, str], workdir: Path) -> Any:
    return gunicorn(app_spec, env=env, log_path=workdir / f"{name}.log")


def wrk(url: str, script: Path, seconds: int) -> dict[str, float]:
    """One measured run (after a 2 s warm-up). wrk keeps its 16 connections for the whole run,
    and every connection stays with the gunicorn worker that accepted it; now and then nearly
    all of them land on one worker, which then does all the work on one core while the other
    idles, and the run measures half the server. Such a run (the busiest worker used more
    than LOPSIDED_SHARE of the workers' CPU) is done again, up to 3 times in all."""
    for _attempt in range(3):
        run = _wrk_once(url, script, seconds)
        if run["busiest_worker_cpu_share"] <= LOPSIDED_SHARE:
            break
    return run


def _wrk_once(url: str, script: Path, seconds: int) -> dict[str, float]:
    subprocess.run(
        ["wrk", "-t2", "-c16", "-d2s", "-s", str(script), url], check=True, capture_output=True
    )  # warm-up: pools, caches, JIT-free but still
    before = server_cpu(url)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    after = server_cpu(url)
    cpu = after.total - before.total
    by_worker = [after.workers[pid] - before.workers.get(pid, 0.0) for pid in after.workers]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "requests_per_cpu_second": round(served / cpu, 1) if cpu > 0 else float("nan"),
        "busiest_worker_cpu_share": round(max(by_worker) / sum(by_worker), 2)
        if sum(by_worker) > 0
        else 1.0,
    }


def fill_revocation_feed(url: str) -> None:
    """Empty the feed, then revoke sessions and users no bench token belongs to."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=REVOCATION_LIFETIME_SECONDS)
    sessions: list[dict[str, Any]] = [
        {
            "kind": RevocationKind.SESSION,
            "user_id": uuid.uuid4(),
            "session_id": uuid.uuid4(),
            "created_at": now,
            "expires_at": expires,
        }
        for _ in range(REVOKED_SESSIONS)
    ]
    users: list[dict[str, Any]] = [
        {
            "kind": RevocationKind.USER,
            "user_id": uuid.uuid4(),
            "not_before": int(now.timestamp()),
            "created_at": now,
            "expires_at": expires,
        }
        for _ in range(REVOKED_USERS)
    ]
    with engine.begin() as conn:
        conn.execute(delete(RevocationFeedEntry))
        conn.execute(insert(RevocationFeedEntry), sessions)
        conn.execute(insert(RevocationFeedEntry), users)
    engine.dispose()


def revoke_session(service: IdentityEventService, session_id: uuid.UUID) -> None:
    """Apply a session revocation as the event consumer does (one transaction, committed)."""
    payload = SessionRevoked(
        user_id=uuid.uuid4(), sequence=1, session_ids=[session_id], reason="bench"
    )
    service.apply(CloudEvent.of(payload, event_id=uuid.uuid4(), time=datetime.now(UTC)))


class RevocationChurn:
    """Revokes REVOCATIONS_PER_SECOND unrelated sessions a second from a thread, so every
    worker's poller has rows to read while wrk runs."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.applied = 0

    def __enter__(self) -> "RevocationChurn":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._engine.dispose()

    def _run(self) -> None:
        with Session(self._engine) as session:
            service = IdentityEventService(
                session, revocation_lifetime_seconds=REVOCATION_LIFETIME_SECONDS
            )
            while not self._stop.wait(1 / REVOCATIONS_PER_SECOND):
                revoke_session(service, uuid.uuid4())
                self.applied += 1


def _status(connection: http.client.HTTPConnection, path: str, token: str) -> int:
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    response.read()
    return response.status


def revocation_visibility(base: str, url: str, key_file: Path) -> dict[str, Any]:
    """Per trial: commit a session revocation, then ask with its token over PROBE_CONNECTIONS
    kept-alive connections (each stays with one worker) until each has seen 401; the seconds
    from the commit to the first 401 and to the last connection's first 401."""
    parts = urlsplit(base)
    path = "/api/v1/items?limit=1"
    engine = create_engine(url)
    first_seen: list[float] = []
    all_seen: list[float] = []
    with Session(engine) as session, ExitStack() as stack:
        service = IdentityEventService(
            session, revocation_lifetime_seconds=REVOCATION_LIFETIME_SECONDS
        )
        connections = []
        for _ in range(PROBE_CONNECTIONS):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            stack.callback(connection.close)
            connections.append(connection)
        for _ in range(VISIBILITY_TRIALS):
            session_id = uuid.uuid4()
            token = session_token(key_file, session_id)
            if any(_status(c, path, token) != 200 for c in connections):
                raise RuntimeError("a fresh token was refused before its revocation")
            revoke_session(service, session_id)
            committed = time.monotonic()
            seen: dict[int, float] = {}
            while len(seen) < len(connections):
                if time.monotonic() - committed > 10:
                    raise RuntimeError("a revocation did not reach every worker in 10 s")
                for index, connection in enumerate(connections):
                    if index not in seen and _status(connection, path, token) == 401:
                        seen[index] = time.monotonic() - committed
            first_seen.append(min(seen.values()))
            all_seen.append(max(seen.values()))
            time.sleep(POLL_SECONDS / 3)  # the next commit lands anywhere in a poll interval
    engine.dispose()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return {
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }

    return {
        "trials": VISIBILITY_TRIALS,
        "connections": PROBE_CONNECTIONS,
        "first_401": summary(first_seen),
        "every_connection_401": summary(all_seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    server = database_server()
    print("preparing database (100 owners x 1,000 items) ...", flush=True)
    url, owners = prepare_database(server)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    user_tokens, admin_token = make_tokens(workdir, owners)
    list_path = "/api/v1/items?limit=20"
    page_script = write_lua(workdir, "page", user_tokens, list_path)
    first_script = write_lua(workdir, "first", [admin_token], list_path)
    deep_script = write_lua(
        workdir, "deep", [admin_token], f"{list_path}&cursor={deep_cursor(url)}"
    )
    with jwks_server(workdir) as jwks_url:
        items_env = items_production_env(url, jwks_url)
        unchecked_env = {**items_env, "ITEMS_REVOCATION_CHECK": "false"}
        fill_revocation_feed(url)
        baseline_env = {
            "BENCH_DATABASE_URL": url,
            "BENCH_JWKS_FILE": str(workdir / "jwks.json"),
            "BENCH_ISSUER": ISSUER,
            "BENCH_AUDIENCE": AUDIENCE,
        }
        results: dict[str, Any] = {}
        with serve("baseline", "baseline_app:create_app()", baseline_env, workdir) as base:
            results["baseline"] = wrk(base, page_script, args.seconds)
        rounds: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
        environments = {"on": items_env, "off": unchecked_env}
        with RevocationChurn(url) as churn:
            for index in range(ROUNDS):
                # One server at a time, started afresh for each run, and the order alternating,
                # so a drift in the machine's load falls on both sides alike.
                for check in ("on", "off") if index % 2 == 0 else ("off", "on"):
                    with serve(
                        f"items-{check}", "items:create_app()", environments[check], workdir
                    ) as base:
                        rounds[check].append(wrk(base, page_script, args.seconds))
            churned = churn.applied
        results["items"] = _mean(rounds["on"])  # the revocation check on (the default)
        results["items_revocation_check_off"] = _mean(rounds["off"])
        with serve("items", "items:create_app()", items_env, workdir) as base:
            results["items_first_page"] = wrk(base, first_script, args.seconds)
            results["items_deep_page"] = wrk(base, deep_script, args.seconds)
            visibility = revocation_visibility(base, url, workdir / "private.jwk")
    throughput_ratio = results["items"]["rps"] / results["baseline"]["rps"]
    depth_cost_ratio = results["items_first_page"]["rps"] / results["items_deep_page"]["rps"]
    # Each round's two runs are seconds apart: their ratio cancels the machine's drift,
    # and the median of the rounds drops one disturbed by a neighbour.
    revocation_ratio = _median_ratio(rounds, "rps")
    revocation_cpu_ratio = _median_ratio(rounds, "requests_per_cpu_second")
    visibility_p99_s = visibility["every_connection_401"]["p99_ms"] / 1000
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "results": results,
        "items_vs_baseline_rps": round(throughput_ratio, 3),
        "deep_vs_first_page_cost": round(depth_cost_ratio, 3),
        "revocation_check_on_vs_off_rps": round(revocation_ratio, 3),
        "revocation_check_on_vs_off_requests_per_cpu_second": round(revocation_cpu_ratio, 3),
        "revocation_check_rounds": {
            check: [(run["rps"], run["requests_per_cpu_second"]) for run in runs]
            for check, runs in rounds.items()
        },
        "revocation_feed": {
            "revoked_sessions": REVOKED_SESSIONS,
            "revoked_users": REVOKED_USERS,
            "applied_during_the_runs": churned,
        },
        "revocation_visibility": visibility,
        "targets": {
            "items_vs_baseline_rps": ">= 0.90",
            "deep_vs_first_page_cost": "<= 1.20",
            "revocation_check_on_vs_off_rps": ">= 0.95",
            "revocation_visibility_every_connection_p99": "<= 1 s",
        },
    }
    print(json.dumps(summary, indent=2))
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    failed = [
        name
        for name, ok in (
            ("items_vs_baseline_rps", throughput_ratio >= 0.90),
            ("deep_vs_first_page_cost", depth_cost_ratio <= 1.20),
            ("revocation_check_on_vs_off_rps", revocation_ratio >= 0.95),
            ("revocation_visibility_every_connection_p99", visibility_p99_s <= 1.0),
        )
        if not ok
    ]
    if any(r["errors"] for r in results.values()):
        failed.append("non-2xx responses")
    if failed:
        sys.exit("targets missed: " + ", ".join(failed))


def _median_ratio(rounds: dict[str, list[dict[str, float]]], measure: str) -> float:
    """The median over rounds of (check on / check off) for `measure`."""
    return statistics.median(
        on[measure] / off[measure] for on, off in zip(rounds["on"], rounds["off"], strict=True)
    )


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: round(statistics.fmean(run[name] for run in runs), 2) for name in runs[0]}


if __name__ == "__main__":
    main()
