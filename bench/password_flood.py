"""Load benchmark: a flood of logins must not starve identity's other requests.

One run, through a real nginx gateway (auth rate limits lifted, as when many addresses log in at
once) in front of identity under gunicorn (2 workers x 4 threads) on PostgreSQL, with production
Argon2id parameters:

1. probe alone: 4 connections, each alternating `GET /api/v1/users/me` and a real refresh
   rotation (`POST /api/v1/auth/refresh`, every refresh token used once);
2. the same probe while 32 connections post correct logins as fast as they are answered.

Both phases run twice, with the password bulkheads off (identity's per-process bound at 0 and
its hashing threads at normal priority, the gateway's bound out of reach: the behaviour before
they existed) and at their defaults, so the before and after figures come from the same run.
Targets (bulkheads on, during the flood): probe p99 below 100 ms for both kinds, and logins
beyond the capacity answered at once (503 `overloaded` with `Retry-After`; at the gateway, the
p99 of a refusal below a fifth of the median admitted login) instead of queueing for a hash.

Usage: `make bench-flood` (or `uv run python bench/password_flood.py [--seconds N]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server) and nginx.
"""

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    BENCH_DIR,
    Connection,
    database_server,
    exit_on_missed_checks,
    fresh_database,
    gateway,
    gunicorn,
    percentiles,
    upgrade_database,
)

DATABASE = "identity_bench_flood"
PASSWORD = "bench password 0123"  # noqa: S105 - the benchmark's own throwaway accounts
FLOOD_CONNECTIONS, PROBE_CONNECTIONS = 32, 4
PROBE_P99_MS = 100.0
# (identity settings, gateway settings): the behaviour before the bulkheads, and the defaults.
CONFIGURATIONS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "bulkhead_off": (
        {"IDENTITY_PASSWORD_HASH_CONCURRENCY": "0", "IDENTITY_PASSWORD_HASH_NICENESS": "0"},
        {"GATEWAY_PASSWORD_CONCURRENCY": "9999"},
    ),
    "bulkhead_on": ({}, {}),
}


def identity(url: str, workdir: Path, *, settings: dict[str, str]) -> Any:
    """identity under gunicorn (2 workers x 4 threads) on `url`; yields its base URL."""
    env = {
        "IDENTITY_ENV": "development",
        "IDENTITY_DATABASE_URL": url,
        "IDENTITY_TRUSTED_PROXY_COUNT": "1",
        "IDENTITY_LOG_LEVEL": "WARNING",
        **settings,
    }
    log_path = workdir / f"identity-{len(list(workdir.glob('identity-*')))}.log"
    return gunicorn("identity:create_app()", env=env, log_path=log_path, ready_path="/health/ready")


def login(base: str, email: str) -> dict[str, Any]:
    """Log in, honouring Retry-After while the service is overloaded."""
    for _ in range(100):
        status, _, body, headers = Connection(base).call(
            "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}
        )
        if status != 503:
            break
        time.sleep(float(headers.get("Retry-After", "1")))
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body}")
    return body


def probe(base: str, sessions: list[dict[str, Any]], seconds: float) -> dict[str, list[float]]:
    """One connection per session, each alternating a read of /users/me and a refresh (the
    session's token pair is replaced by each refresh, so every refresh token is used once)."""
    latencies: dict[str, list[float]] = {"me": [], "refresh": []}
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        tokens = sessions[index]
        conn = Connection(base)
        while time.monotonic() < deadline:
            status, me_ms, _, _ = conn.call("GET", "/api/v1/users/me", token=tokens["access_token"])
            status_r, refresh_ms, body, _ = conn.call(
                "POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}
            )
            with lock:
                latencies["me"].append(me_ms)
                latencies["refresh"].append(refresh_ms)
                if status != 200:
                    failures[f"me {status}"] += 1
                if status_r != 200:
                    failures[f"refresh {status_r}"] += 1
            if status_r == 200:
                tokens = sessions[index] = body
            time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        latencies["failures"] = [float(n) for n in failures.values()]
        print(f"  probe failures: {dict(failures)}", flush=True)
    return latencies


def flood(base: str, emails: list[str], seconds: float, results: Any) -> None:
    """FLOOD_CONNECTIONS connections posting correct logins back to back (own process), each
    for an account of its own: identity's per-email login throttle counts every attempt before
    the password is checked, so a crowd of logins of one account would meet it instead of the
    hash bulkheads this measures.

    The flood's own process runs at the lowest CPU priority: it stands for clients elsewhere,
    so it takes only the CPU the system under test leaves idle instead of competing with it for
    these two cores (its requests still arrive as fast as they are answered)."""
    os.nice(19)
    by_status: dict[int, list[float]] = {}
    codes: Counter[str] = Counter()
    retry_after = Counter[str]()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(email: str) -> None:
        conn = Connection(base)
        while time.monotonic() < deadline:
            status, ms, body, headers = conn.call(
                "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}
            )
            with lock:
                by_status.setdefault(status, []).append(ms)
                if status >= 400:
                    codes[str(body.get("code"))] += 1
                    retry_after[headers.get("Retry-After", "-")] += 1

    threads = [threading.Thread(target=run, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"by_status": by_status, "codes": dict(codes), "retry_after": dict(retry_after)})


def gateway_times(access_log: Path, path: str) -> dict[str, list[float]]:
    """The gateway's own request times (ms) for `path`, by status: what the server took,
    whatever the (deprioritised) flood client took to read the answer."""
    times: dict[str, list[float]] = {}
    for line in access_log.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("uri") == path:
            times.setdefault(str(entry["status"]), []).append(entry["request_time"] * 1000)
    return times


def measure(base: str, seconds: float, access_log: Path) -> dict[str, Any]:
    email_probe = "probe@bench.example"
    emails_flood = [f"flood-{number}@bench.example" for number in range(FLOOD_CONNECTIONS)]
    for email in (email_probe, *emails_flood):
        Connection(base).call(
            "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}
        )
    sessions = [login(base, email_probe) for _ in range(PROBE_CONNECTIONS)]
    alone = probe(base, sessions, seconds)
    queue: Any = multiprocessing.get_context("spawn").Queue()
    flooder = multiprocessing.get_context("spawn").Process(
        target=flood, args=(base, emails_flood, seconds + 1, queue)
    )
    flooder.start()
    time.sleep(1)  # let the flood build up before probing
    during = probe(base, sessions, seconds)
    flooded = queue.get(timeout=seconds + 120)
    flooder.join()
    return {
        "probe_alone": {kind: percentiles(alone[kind]) for kind in ("me", "refresh")},
        "probe_during_flood": {kind: percentiles(during[kind]) for kind in ("me", "refresh")},
        "probe_failures_during_flood": int(sum(during.get("failures", []))),
        "flood_logins": {
            str(status): percentiles(values)
            for status, values in sorted(flooded["by_status"].items())
        },
        "login_times_at_gateway": {
            status: percentiles(values)
            for status, values in sorted(gateway_times(access_log, "/api/v1/auth/login").items())
        },
        "flood_error_codes": flooded["codes"],
        "flood_retry_after": flooded["retry_after"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    server = database_server()
    workdir = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    results: dict[str, Any] = {}
    for label, (identity_settings, gateway_settings) in CONFIGURATIONS.items():
        url = fresh_database(server, DATABASE)
        upgrade_database("identity", url)
        access_log = workdir / f"gateway-{label}.log"
        print(f"{label} {identity_settings or ''} {gateway_settings or ''}...", flush=True)
        with (
            identity(url, workdir, settings=identity_settings) as identity_base,
            gateway(
                access_log,
                identity_upstream=identity_base.removeprefix("http://"),
                settings=gateway_settings,
            ) as base,
        ):
            results[label] = measure(base, args.seconds, access_log)
        print(json.dumps(results[label], indent=2), flush=True)
    on = results["bulkhead_on"]
    rejected = on["login_times_at_gateway"].get("503", {"n": 0})
    checks = {
        "probe me p99 < 100 ms": on["probe_during_flood"]["me"].get("p99_ms", 1e9) < PROBE_P99_MS,
        "probe refresh p99 < 100 ms": on["probe_during_flood"]["refresh"].get("p99_ms", 1e9)
        < PROBE_P99_MS,
        "no probe failures": on["probe_failures_during_flood"] == 0,
        "logins beyond capacity refused (503 overloaded)": rejected["n"] > 0
        and set(on["flood_error_codes"]) == {"overloaded"},
        "refusals at once (503 p99 at the gateway < admitted login p50 / 5)": rejected.get(
            "p99_ms", 1e9
        )
        < on["login_times_at_gateway"].get("200", {}).get("p50_ms", 0) / 5,
        "refusals carry Retry-After": "-" not in on["flood_retry_after"],
    }
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "configurations": CONFIGURATIONS,
        "results": results,
        "checks": checks,
    }
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / "password_flood.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    exit_on_missed_checks(checks, passed="ok  ", failed="MISS")


if __name__ == "__main__":
    main()
