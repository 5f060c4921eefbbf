"""Latency benchmark: what a login costs beyond its password hash, and a refresh against a create.

Issue 9, point 6. One run, sequential requests on one kept-alive connection (latency, not
throughput), straight at the services' gunicorn (their config: 2 workers x 4 threads):

a. the bare Argon2id verification in this process (one after each login of b.) with
   identity's production parameters (argon2-cffi `PasswordHasher.verify`; median wall and CPU
   time);
b. `POST /api/v1/auth/login` on identity (fresh PostgreSQL database). The login overhead,
   target < 10 ms, is the median over logins of each login's time minus the time its own
   verification took in the server (`identity_password_hash_seconds_sum{operation="verify"}`
   on /metrics, read before and after every login): the hash the target excludes is the one
   the login ran, on the server's thread at the server's priority. Also recorded: login p50
   minus (a)'s p50 and the median of each login minus the verify here after it (the hash of
   another process, at another priority: noisier); server CPU per login minus the verify's
   CPU; and in process, a test-client login's time minus the time spent inside the hasher;
c. `POST /api/v1/auth/refresh`, a real rotation: each refresh token used once (the chain
   follows the new token every time);
d. `POST /api/v1/items` with a fresh `Idempotency-Key` on items (fresh database, an ES256
   token signed with a bench key served as JWKS); refresh p50 / create p50 < 3.

(c) and (d) run in alternating blocks so that a drift in the shared machine's load falls on
both. Every phase also records the server's CPU per request (its processes' user + system time
over the phase), which other load moves much less than latency.

Then, in this process with Flask's test client on the same PostgreSQL databases, the database
round trips of one login, one refresh and one create are counted (SQLAlchemy's
`before_cursor_execute`, plus the transactions' BEGIN / COMMIT / ROLLBACK) and the statements'
execution timed (`after_cursor_execute`).

`--profile SECONDS` also runs a refresh loop that long under py-spy (`--gil`, raw format, every
identity worker) and prints the heaviest frames.

Usage: `make bench-auth` (or `uv run python bench/auth_costs.py [--logins N] [--requests N]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server); py-spy for `--profile`.
Writes bench/results/auth_costs.json and exits non-zero when a target is missed.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from harness import (
    AUDIENCE,
    BENCH_DIR,
    ISSUER,
    SECRET,
    Connection,
    database_server,
    exit_on_missed_checks,
    fresh_database,
    gunicorn,
    items_production_env,
    jwks_server,
    percentiles,
    profile_summary,
    py_spy,
    server_cpu,
    upgrade_database,
)
from items_list import make_tokens
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from vs_reference import load_average

from identity import create_app as create_identity
from identity.config import IdentitySettings
from identity.security.hashing import Argon2idHasher
from items import create_app as create_items
from items.config import ItemsSettings

PASSWORD = "bench password 0123"  # noqa: S105 - the benchmark's own throwaway accounts
EMAIL = "auth-costs@bench.example"
LOGIN_OVERHEAD_MS = 10.0
REFRESH_OVER_CREATE = 3.0
IN_PROCESS_LOGINS = 20
BLOCKS = 4  # alternating blocks of refreshes and creates
CREATE_BODY = {"name": "bench item", "description": "made by bench/auth_costs.py"}


def argon2_profile() -> dict[str, int]:
    """identity's production Argon2id parameters (its settings' defaults)."""
    fields = IdentitySettings.model_fields
    return {
        "time_cost": int(fields["argon2_time_cost"].default),
        "memory_cost_kib": int(fields["argon2_memory_cost_kib"].default),
        "parallelism": int(fields["argon2_parallelism"].default),
    }


class BareVerify:
    """(a): argon2-cffi's verify with identity's parameters, here."""

    def __init__(self) -> None:
        profile = argon2_profile()
        self.hasher = PasswordHasher(
            time_cost=profile["time_cost"],
            memory_cost=profile["memory_cost_kib"],
            parallelism=profile["parallelism"],
            type=Type.ID,
        )
        self.stored = self.hasher.hash(PASSWORD)
        self.hasher.verify(self.stored, PASSWORD)  # warm-up
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def sample(self) -> None:
        started, started_cpu = time.perf_counter(), time.process_time()
        self.hasher.verify(self.stored, PASSWORD)
        self.cpu.append((time.process_time() - started_cpu) * 1000)
        self.wall.append((time.perf_counter() - started) * 1000)

    def result(self) -> dict[str, Any]:
        return {
            "parameters": argon2_profile(),
            "wall": percentiles(self.wall),
            "cpu_ms_median": round(statistics.median(self.cpu), 1),
        }


def expect(status: int, body: dict[str, Any], wanted: int, what: str) -> None:
    if status != wanted:
        raise RuntimeError(f"{what}: {status} {body}")


def server_verify_seconds(base: str) -> float:
    """Seconds identity's processes have spent verifying passwords (their /metrics)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    match = re.search(
        r'^identity_password_hash_seconds_sum\{operation="verify"\} (\S+)$', text, re.MULTILINE
    )
    return float(match.group(1)) if match else 0.0


def logins(base: str, count: int, verify: BareVerify) -> dict[str, Any]:
    """(a) and (b): `count` logins on one connection (after 3 to warm up), each followed by a
    bare verify here, so that a drift in the machine's load falls on both; the server's CPU is
    counted over the logins alone, and each login's own verification read from /metrics
    before and after it."""
    conn = Connection(base)
    status, _, body, _ = conn.call(
        "POST", "/api/v1/auth/register", {"email": EMAIL, "password": PASSWORD}
    )
    expect(status, body, 201, "register")
    for _ in range(3):
        conn.call("POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
    times: list[float] = []
    own_verify: list[float] = []
    cpu = 0.0
    for _ in range(count):
        verified_before = server_verify_seconds(base)
        before = server_cpu(base).total
        status, ms, body, _ = conn.call(
            "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}
        )
        cpu += server_cpu(base).total - before
        own_verify.append((server_verify_seconds(base) - verified_before) * 1000)
        expect(status, body, 200, "login")
        times.append(ms)
        verify.sample()
    conn.close()
    paired = [ms - verified for ms, verified in zip(times, verify.wall[-count:], strict=True)]
    beyond_own = [ms - verified for ms, verified in zip(times, own_verify, strict=True)]
    return {
        "latency": percentiles(times),
        "server_verify": percentiles(own_verify),
        "minus_its_own_verify": percentiles(beyond_own),
        "server_cpu_ms_per_request": round(cpu * 1000 / count, 1),
        "minus_the_verify_after_it": percentiles(paired),
    }


class TimedHasher(Argon2idHasher):
    """identity's Argon2id hasher, recording how long each verify took (the in-process
    measurement subtracts it from the request's time)."""

    def __init__(self) -> None:
        profile = argon2_profile()
        super().__init__(
            time_cost=profile["time_cost"],
            memory_cost_kib=profile["memory_cost_kib"],
            parallelism=profile["parallelism"],
        )
        self.spent_ms = 0.0

    def verify(self, password_hash: str, password: str) -> bool:
        started = time.perf_counter()
        try:
            return super().verify(password_hash, password)
        finally:
            self.spent_ms += (time.perf_counter() - started) * 1000


class RefreshChain:
    """A session whose refresh token is rotated on every call, each token used once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.conn = Connection(base)
        status, _, body, _ = self.conn.call(
            "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}
        )
        expect(status, body, 200, "login")
        self.token = str(body["refresh_token"])
        self.used: set[str] = set()

    def refresh(self) -> float:
        if self.token in self.used:
            raise RuntimeError("a refresh token would be used twice")
        self.used.add(self.token)
        status, ms, body, _ = self.conn.call(
            "POST", "/api/v1/auth/refresh", {"refresh_token": self.token}
        )
        expect(status, body, 200, "refresh")
        self.token = str(body["refresh_token"])
        return ms


class Creator:
    """Creates items on one connection, each request with an `Idempotency-Key` of its own."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.conn = Connection(base)

    def create(self) -> float:
        status, ms, body, _ = self.conn.call(
            "POST",
            "/api/v1/items",
            CREATE_BODY,
            token=self.token,
            extra_headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        expect(status, body, 201, "create")
        return ms


def refresh_and_create(
    chain: RefreshChain, creator: Creator, per_kind: int
) -> dict[str, dict[str, Any]]:
    """(c) and (d): `per_kind` of each in BLOCKS alternating blocks (after 20 of each to warm
    up); latency and server CPU per request of each kind."""
    for _ in range(20):
        chain.refresh()
        creator.create()
    times: dict[str, list[float]] = {"refresh": [], "create": []}
    cpu: dict[str, float] = {"refresh": 0.0, "create": 0.0}
    block = max(1, per_kind // BLOCKS)
    for index in range(BLOCKS):
        order = ("refresh", "create") if index % 2 == 0 else ("create", "refresh")
        for kind in order:
            base = chain.base if kind == "refresh" else creator.base
            before = server_cpu(base).total
            for _ in range(block):
                times[kind].append(chain.refresh() if kind == "refresh" else creator.create())
            cpu[kind] += server_cpu(base).total - before
    return {
        kind: {
            "latency": percentiles(times[kind]),
            "server_cpu_ms_per_request": round(cpu[kind] * 1000 / len(times[kind]), 2),
        }
        for kind in times
    }


@contextmanager
def counting_round_trips() -> Iterator[list[str]]:
    """Every statement any engine sends while the block runs, with BEGIN / COMMIT / ROLLBACK
    (connection events) and the pool's reset-on-return (a ROLLBACK only when one is open)."""
    seen: list[str] = []
    started: list[float] = []

    def on_execute(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split())[:110])
        started.append(time.perf_counter())

    def on_executed(*_args: Any) -> None:
        seen.append(f"(executed in {(time.perf_counter() - started.pop()) * 1000:.2f} ms)")

    def on_begin(_conn: Any) -> None:
        seen.append("BEGIN")

    def on_commit(_conn: Any) -> None:
        seen.append("COMMIT")

    def on_rollback(_conn: Any) -> None:
        seen.append("ROLLBACK")

    def on_reset(*_args: Any) -> None:
        seen.append("(pool reset on return)")

    hooks: list[tuple[Any, str, Any]] = [
        (Engine, "before_cursor_execute", on_execute),
        (Engine, "after_cursor_execute", on_executed),
        (Engine, "begin", on_begin),
        (Engine, "commit", on_commit),
        (Engine, "rollback", on_rollback),
        (Pool, "reset", on_reset),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield seen
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


def summarise(statements: list[str]) -> dict[str, Any]:
    markers = {"BEGIN", "COMMIT", "ROLLBACK", "(pool reset on return)"}
    timings = [s for s in statements if s.startswith("(executed in ")]
    sql = [s for s in statements if s not in markers and s not in timings]
    return {
        "statements": len(sql),
        "statements_ms": round(sum(float(s.split()[2]) for s in timings), 2),
        "begin": statements.count("BEGIN"),
        "commit": statements.count("COMMIT"),
        "rollback": statements.count("ROLLBACK"),
        "pool_resets": statements.count("(pool reset on return)"),
        "sequence": statements,
    }


def round_trips(identity_url: str, items_url: str, jwks_url: str, token: str) -> dict[str, Any]:
    """Statements of one login, one refresh and one create, in this process (Flask's test
    client) on the benchmark's databases; each counted after two of its kind warmed up."""
    hasher = TimedHasher()
    identity = create_identity(
        IdentitySettings(_env_file=None, database_url=identity_url, log_level="WARNING"),  # type: ignore[call-arg]
        hasher=hasher,
    ).test_client()
    items = create_items(
        ItemsSettings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=items_url,
            secret_key=SECRET,
            jwks_url=jwks_url,
            token_issuer=ISSUER,
            token_audience=AUDIENCE,
            log_level="WARNING",
        )
    ).test_client()
    credentials = {"email": EMAIL, "password": PASSWORD}
    counted: dict[str, Any] = {}
    for _ in range(2):
        response = identity.post("/api/v1/auth/login", json=credentials)
    with counting_round_trips() as seen:
        response = identity.post("/api/v1/auth/login", json=credentials)
    expect(response.status_code, response.json or {}, 200, "login (in process)")
    counted["login"] = summarise(seen)
    overheads = []
    for _ in range(IN_PROCESS_LOGINS):
        hasher.spent_ms = 0.0
        started = time.perf_counter()
        response = identity.post("/api/v1/auth/login", json=credentials)
        overheads.append((time.perf_counter() - started) * 1000 - hasher.spent_ms)
        expect(response.status_code, response.json or {}, 200, "login (in process)")
    counted["login_overhead_in_process"] = percentiles(overheads)
    refresh_token = response.json["refresh_token"] if response.json else ""
    for _ in range(2):
        response = identity.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        refresh_token = response.json["refresh_token"] if response.json else ""
    with counting_round_trips() as seen:
        response = identity.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    expect(response.status_code, response.json or {}, 200, "refresh (in process)")
    counted["refresh"] = summarise(seen)

    def create() -> Any:
        return items.post(
            "/api/v1/items",
            json=CREATE_BODY,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )

    create()
    create()
    with counting_round_trips() as seen:
        response = create()
    expect(response.status_code, response.json or {}, 201, "create (in process)")
    counted["create"] = summarise(seen)
    return counted


def profile_loop(
    name: str, action: Callable[[], object], base: str, seconds: int, workdir: Path
) -> dict[str, Any]:
    """`action` in a loop for `seconds` under py-spy on every identity worker (see
    `harness.py_spy`); the frames with the most samples (own and inclusive) over all workers,
    the raw stacks in bench/results/auth_costs_profile_NAME.txt."""
    stop = threading.Event()
    calls = 0

    def loop() -> None:
        nonlocal calls
        while not stop.is_set():
            action()
            calls += 1

    with py_spy(base, seconds, workdir, name) as outputs:
        worker = threading.Thread(target=loop)
        worker.start()
        try:
            time.sleep(seconds)
        finally:
            stop.set()
            worker.join()
    summary = profile_summary(
        outputs, BENCH_DIR / "results" / f"auth_costs_profile_{name}.txt", top=30
    )
    return {"seconds": seconds, "requests": calls, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--requests", type=int, default=400, help="refreshes and creates each")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS")
    args = parser.parse_args()
    started_load = load_average()
    print(f"load average at the start: {started_load}", flush=True)
    server = database_server()
    identity_url = fresh_database(server, "identity_bench_auth")
    items_url = fresh_database(server, "items_bench_auth")
    upgrade_database("identity", identity_url)
    upgrade_database("items", items_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    owner = uuid.uuid4()
    (token,), _admin = make_tokens(workdir, [owner])
    results: dict[str, Any] = {}
    verify = BareVerify()
    with ExitStack() as stack:
        jwks_url = stack.enter_context(jwks_server(workdir))
        identity = stack.enter_context(
            gunicorn(
                "identity:create_app()",
                env={
                    "IDENTITY_ENV": "development",
                    "IDENTITY_DATABASE_URL": identity_url,
                    "IDENTITY_LOG_LEVEL": "WARNING",
                },
                log_path=workdir / "identity.log",
                ready_path="/health/ready",
            )
        )
        items = stack.enter_context(
            gunicorn(
                "items:create_app()",
                env=items_production_env(items_url, jwks_url),
                log_path=workdir / "items.log",
            )
        )
        print(f"a./b. {args.logins} logins, each followed by a bare verify here ...", flush=True)
        results["login"] = logins(identity, args.logins, verify)
        results["verify"] = verify.result()
        print(json.dumps({k: results[k] for k in ("verify", "login")}), flush=True)
        print(f"c./d. {args.requests} refreshes and {args.requests} creates ...", flush=True)
        chain, creator = RefreshChain(identity), Creator(items, token)
        results.update(refresh_and_create(chain, creator, args.requests))
        print(json.dumps({k: results[k] for k in ("refresh", "create")}), flush=True)
        if args.profile:
            print(f"py-spy on identity's workers, {args.profile} s of each ...", flush=True)
            results["refresh_profile"] = profile_loop(
                "refresh", chain.refresh, identity, args.profile, workdir
            )
            login_conn = Connection(identity)
            credentials = {"email": EMAIL, "password": PASSWORD}
            results["login_profile"] = profile_loop(
                "login",
                lambda: login_conn.call("POST", "/api/v1/auth/login", credentials),
                identity,
                args.profile,
                workdir,
            )
        print("round trips (in process, Flask test client) ...", flush=True)
        results["round_trips"] = round_trips(identity_url, items_url, jwks_url, token)
    bare = results["verify"]
    overhead_ms = results["login"]["minus_its_own_verify"]["p50_ms"]
    difference_ms = round(results["login"]["latency"]["p50_ms"] - bare["wall"]["p50_ms"], 1)
    overhead_cpu_ms = round(
        results["login"]["server_cpu_ms_per_request"] - bare["cpu_ms_median"], 1
    )
    ratio = round(
        results["refresh"]["latency"]["p50_ms"] / results["create"]["latency"]["p50_ms"], 2
    )
    ratio_cpu = round(
        results["refresh"]["server_cpu_ms_per_request"]
        / results["create"]["server_cpu_ms_per_request"],
        2,
    )
    figures = {
        "login_overhead_ms": overhead_ms,
        "login_p50_minus_bare_verify_p50_ms": difference_ms,
        "login_overhead_paired_p50_ms": results["login"]["minus_the_verify_after_it"]["p50_ms"],
        "login_overhead_server_cpu_ms": overhead_cpu_ms,
        "login_overhead_in_process_p50_ms": results["round_trips"]["login_overhead_in_process"][
            "p50_ms"
        ],
        "refresh_over_create_p50": ratio,
        "refresh_over_create_server_cpu": ratio_cpu,
    }
    checks = {
        f"login - its own verify, p50 = {overhead_ms} ms < {LOGIN_OVERHEAD_MS:g} ms": overhead_ms
        < LOGIN_OVERHEAD_MS,
        f"refresh p50 / create p50 = {ratio} < {REFRESH_OVER_CREATE:g}": ratio
        < REFRESH_OVER_CREATE,
    }
    trips = {
        kind: {k: v for k, v in counted.items() if k != "sequence"}
        for kind, counted in results["round_trips"].items()
        if kind in ("login", "refresh", "create")
    }
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_start": started_load,
        "load_average_end": load_average(),
        "figures": figures,
        "round_trips": trips,
        "results": results,
        "checks": checks,
    }
    (BENCH_DIR / "results" / "auth_costs.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"figures": figures, "round_trips": trips}, indent=2))
    for kind in ("refresh", "login"):
        if f"{kind}_profile" in results:
            print(f"{kind} profile (GIL held), own samples:")
            for frame, part in results[f"{kind}_profile"]["top_own"][:15]:
                print(f"  {part:6.1%} {frame}")
    print(f"load average at the end: {summary['load_average_end']}")
    shutil.rmtree(workdir, ignore_errors=True)
    exit_on_missed_checks(checks)


if __name__ == "__main__":
    main()
