"""Load benchmark: items-service against the reference (bench/reference_app.py), both behind the
gateway, and items' own gunicorn on its own: the targets of the performance work.

One database (100,000 items over 100 owners, each owner with 1,000), both servers and a gateway
in front of each run for the whole benchmark; wrk (2 threads, 16 connections, a 2 s warm-up,
then N seconds) drives one side at a time. Each comparison is made in rounds, each round one
run of each side back to back, the order alternating from round to round (A B, B A, ...), so a
drift in the machine's load (other work shares the 2 cores) falls on both sides alike; a ratio
is the median over rounds of the ratio within the round.

1. list: `GET /api/v1/items?limit=20`, each request with the token of one of the 100 owners
   in turn; items / reference >= 1.2.
2. create: `POST /api/v1/items`, to items with a fresh `Idempotency-Key` on every request;
   items / the reference's create >= 1.0.
3. conditional read: `GET /api/v1/items/{id}` with `If-None-Match` (304) on items / the
   reference's list (1.) >= 1.5.
4. balance: the list straight at items' gunicorn (no gateway), 3 runs: the machine's CPU idle
   share < 10% in every run, and the slowest run within 10% of the fastest.

Usage: `make bench` (or `uv run python bench/vs_reference.py [--seconds N] [--rounds N]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server), nginx and wrk on PATH.
Writes bench/results/vs_reference.json and exits non-zero when a target is missed.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from harness import (
    AUDIENCE,
    BENCH_DIR,
    ISSUER,
    TOKEN_TTL_SECONDS,
    database_server,
    gateway,
    gunicorn,
    items_production_env,
    jwks_server,
    profile_summary,
    py_spy,
    server_cpu,
)
from items_list import make_tokens, prepare_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

CREATOR = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
"""The owner of every item the create runs make (removed before and after the benchmark, so the
database stays 100 x 1,000 for the other benchmarks)."""
PARTS = ("list", "not_modified", "direct", "create", "sessions")
"""What a run can be limited to with `--only`. `sessions` has no target: it measures the
reference's list with Flask-SQLAlchemy's sessions against the same views with service-kit's
(README, "Why not Flask-SQLAlchemy's session"), straight at gunicorn."""
BALANCE_RUNS = 3
TARGETS: dict[str, tuple[str, float]] = {
    "list_items_vs_reference": (">=", 1.2),
    "create_items_vs_reference": (">=", 1.0),
    "not_modified_items_vs_reference_list": (">=", 1.5),
    "direct_cpu_idle_share_max": ("<", 0.10),
    "direct_rps_spread": ("<", 0.10),
}
REFERENCE_GUNICORN = ("-k", "gthread", "-w", "2", "--threads", "4", "--keep-alive", "5")
"""The project's defaults (2 workers x 4 threads, keep-alive 5 s: longer than the gateway's 4 s
upstream keep-alive) and no access log (gunicorn's default)."""
CREATE_BODY = '{"name":"bench item","description":"made by bench/vs_reference.py"}'


def remove_created(server_url: str) -> None:
    """Delete what earlier create runs left (none of the 100 owners' items)."""
    url = make_url(server_url).set(database="items_bench")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM idempotency_records WHERE owner_id = :o"), {"o": CREATOR}
            )
            conn.execute(text("DELETE FROM items WHERE owner_id = :o"), {"o": CREATOR})
    except OperationalError:
        pass  # no database yet
    finally:
        engine.dispose()


def idempotency_records(url: str) -> int:
    """How many idempotency records items' creates made (one per key: every request a new one)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        made = conn.execute(
            text("SELECT count(*) FROM idempotency_records WHERE owner_id = :o"), {"o": CREATOR}
        ).scalar_one()
    engine.dispose()
    return int(made)


def reference_tokens(workdir: Path, subjects: list[uuid.UUID]) -> list[str]:
    """EdDSA tokens for `subjects`, signed with a fresh Ed25519 key whose public half goes to
    workdir/reference.pem for the reference to verify with."""
    key = Ed25519PrivateKey.generate()
    (workdir / "reference.pem").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    now = datetime.now(UTC)
    return [
        jwt.encode(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": str(subject),
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(seconds=TOKEN_TTL_SECONDS)).timestamp()),
            },
            key,
            algorithm="EdDSA",
        )
        for subject in subjects
    ]


def lua_script(
    workdir: Path,
    name: str,
    tokens: list[str],
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    idempotency_keys: bool = False,
) -> Path:
    """A wrk script: each request with the next of `tokens`; with `idempotency_keys` each also
    with a key of its own (the run's id from the command line, the thread's, a counter)."""
    quoted = ",\n".join(f'  "{token}"' for token in tokens)
    fields = "".join(f', ["{k}"] = "{v}"' for k, v in (headers or {}).items())
    if idempotency_keys:
        fields += ', ["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. i'
    script = workdir / f"{name}.lua"
    script.write_text(
        f"local tokens = {{\n{quoted}\n}}\n"
        "local threads = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        "  thread:set('thread_id', threads)\n"
        "end\n"
        "function init(args)\n"
        "  run_id = args[1] or 'run'\n"
        "end\n"
        f"local body = {json.dumps(body) if body is not None else 'nil'}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        f'  return wrk.format("{method}", "{path}", '
        f'{{["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]{fields}}}, body)\n'
        "end\n"
    )
    return script


def machine_cpu() -> tuple[float, float]:
    """(idle, total) jiffies of all cores so far (/proc/stat); idle includes iowait."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])


def run_wrk(url: str, script: Path, seconds: int, server: str) -> dict[str, float]:
    """One run at `url` (after a 2 s warm-up); the CPU of the gunicorn at `server` (its
    workers' shares) and of the whole machine over the measured part."""
    subprocess.run(
        ["wrk", "-t2", "-c16", "-d2s", "-s", str(script), url, "--", uuid.uuid4().hex],
        check=True,
        capture_output=True,
    )
    before, idle_before = server_cpu(server), machine_cpu()
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            uuid.uuid4().hex,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    after, idle_after = server_cpu(server), machine_cpu()
    cpu = after.total - before.total
    by_worker = [after.workers[pid] - before.workers.get(pid, 0.0) for pid in after.workers]
    served = int(_find(r"(\d+) requests in", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(percent: str) -> float:
        found = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)", out)
        return round(float(found.group(1)) * scale[found.group(2)], 2) if found else float("nan")

    return {
        "rps": float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
        "requests_per_cpu_second": round(served / cpu, 1) if cpu > 0 else float("nan"),
        "busiest_worker_cpu_share": round(max(by_worker) / sum(by_worker), 2)
        if sum(by_worker) > 0
        else 1.0,
        "cpu_idle_share": round(
            (idle_after[0] - idle_before[0]) / (idle_after[1] - idle_before[1]), 3
        ),
    }


def _find(pattern: str, text_: str) -> str:
    found = re.search(pattern, text_)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text_}")
    return found.group(1)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: what wrk asks (at `url`) and whose CPU is counted."""

    url: str
    script: Path
    server: str


def compare(
    items: Side, reference: Side, *, rounds: int, seconds: int, label: str
) -> dict[str, Any]:
    """`rounds` rounds of one run of each side, the order alternating; the median of the
    rounds' ratios (items / reference) of req/s and of requests per server CPU-second."""
    runs: dict[str, list[dict[str, float]]] = {"items": [], "reference": []}
    sides = {"items": items, "reference": reference}
    for index in range(rounds):
        for name in ("items", "reference") if index % 2 == 0 else ("reference", "items"):
            side = sides[name]
            run = run_wrk(side.url, side.script, seconds, side.server)
            runs[name].append(run)
            print(f"  {label} round {index + 1} {name}: {run}", flush=True)
    return {
        "ratio_rps": _median_ratio(runs, "rps"),
        "ratio_requests_per_cpu_second": _median_ratio(runs, "requests_per_cpu_second"),
        "runs": runs,
    }


def _median_ratio(runs: dict[str, list[dict[str, float]]], measure: str) -> float:
    return round(
        statistics.median(
            a[measure] / b[measure] for a, b in zip(runs["items"], runs["reference"], strict=True)
        ),
        3,
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def conditional_target(url: str, owner: uuid.UUID) -> tuple[str, str]:
    """The public id and ETag of the owner's newest item (the one the 304 runs ask for)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT public_id, version FROM items WHERE owner_id = :owner "
                "AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            {"owner": owner},
        ).one()
    engine.dispose()
    return str(row.public_id), f'"{row.version}"'


def check(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    return value >= bound if op == ">=" else value < bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help="comma-separated parts to run (of: %(default)s); the others' targets are not checked",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="instead of the comparisons, run each chosen items part that long under py-spy",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--only takes parts of {','.join(PARTS)}")
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is not installed")
    started_load = load_average()
    print(f"load average at the start: {started_load}", flush=True)
    server = database_server()
    remove_created(server)
    print("preparing database (100 owners x 1,000 items) ...", flush=True)
    url, owners = prepare_database(server)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ref-"))
    items_tokens, _admin = make_tokens(workdir, [*owners, CREATOR])
    items_list_tokens, items_creator = items_tokens[:-1], items_tokens[-1]
    ref_tokens = reference_tokens(workdir, [*owners, CREATOR])
    ref_list_tokens, ref_creator = ref_tokens[:-1], ref_tokens[-1]
    item_id, etag = conditional_target(url, owners[0])
    list_path = "/api/v1/items?limit=20"
    json_type = {"Content-Type": "application/json"}
    scripts = {
        "items_list": lua_script(workdir, "items_list", items_list_tokens, list_path),
        "reference_list": lua_script(workdir, "reference_list", ref_list_tokens, list_path),
        "items_create": lua_script(
            workdir,
            "items_create",
            [items_creator],
            "/api/v1/items",
            method="POST",
            headers=json_type,
            body=CREATE_BODY,
            idempotency_keys=True,
        ),
        "reference_create": lua_script(
            workdir,
            "reference_create",
            [ref_creator],
            "/api/v1/items",
            method="POST",
            headers=json_type,
            body=CREATE_BODY,
            idempotency_keys=True,  # the same request; the reference ignores the header
        ),
        "items_not_modified": lua_script(
            workdir,
            "items_not_modified",
            [items_list_tokens[0]],
            f"/api/v1/items/{item_id}",
            headers={"If-None-Match": etag.replace('"', '\\"')},
        ),
    }
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        jwks_url = stack.enter_context(jwks_server(workdir))
        items_env = items_production_env(url, jwks_url)
        reference_env = {
            "BENCH_DATABASE_URL": url,
            "BENCH_REFERENCE_PUBLIC_KEY": str(workdir / "reference.pem"),
            "BENCH_ISSUER": ISSUER,
            "BENCH_AUDIENCE": AUDIENCE,
        }
        items = stack.enter_context(
            gunicorn("items:create_app()", env=items_env, log_path=workdir / "items.log")
        )
        reference = stack.enter_context(
            gunicorn(
                "reference_app:create_app()",
                env=reference_env,
                log_path=workdir / "reference.log",
                ready_path="/api/v1/items",
                options=REFERENCE_GUNICORN,
            )
        )
        items_gateway = stack.enter_context(
            gateway(workdir / "gateway-items.log", items_upstream=items.removeprefix("http://"))
        )
        reference_gateway = stack.enter_context(
            gateway(
                workdir / "gateway-reference.log",
                items_upstream=reference.removeprefix("http://"),
            )
        )
        _sanity(items_gateway, reference_gateway, item_id, etag, items_list_tokens[0], ref_tokens)

        def versus(items_script: str, reference_script: str, label: str) -> dict[str, Any]:
            """Items (its wrk script `items_script`) against the reference, both through
            their gateways."""
            return compare(
                Side(items_gateway, scripts[items_script], items),
                Side(reference_gateway, scripts[reference_script], reference),
                rounds=args.rounds,
                seconds=args.seconds,
                label=label,
            )

        if args.profile:
            results["profiles"] = profile_items(
                items, items_gateway, scripts, parts, seconds=args.profile, workdir=workdir
            )
            parts = set()
        if "list" in parts:
            print("1. list through the gateway", flush=True)
            results["list"] = versus("items_list", "reference_list", "list")
        if "not_modified" in parts:
            print("3. If-None-Match (304) on items vs the reference's list", flush=True)
            results["not_modified"] = versus("items_not_modified", "reference_list", "304")
        direct = []
        if "direct" in parts:
            print("4. list straight at items' gunicorn", flush=True)
            for index in range(BALANCE_RUNS):
                run = run_wrk(items, scripts["items_list"], args.seconds, items)
                print(f"  direct run {index + 1}: {run}", flush=True)
                direct.append(run)
            results["direct"] = direct
        if "create" in parts:
            print("2. create through the gateway", flush=True)
            results["create"] = versus("items_create", "reference_create", "create")
        if "sessions" in parts:
            print("sessions: the reference's list, Flask-SQLAlchemy vs service-kit", flush=True)
            results["sessions"] = compare_sessions(
                stack, reference_env, scripts["reference_list"], workdir=workdir, args=args
            )
    keyed_creates = idempotency_records(url)
    remove_created(server)
    shutil.rmtree(workdir, ignore_errors=True)
    measured: dict[str, float] = {}
    for part, name in (
        ("list", "list_items_vs_reference"),
        ("create", "create_items_vs_reference"),
        ("not_modified", "not_modified_items_vs_reference_list"),
    ):
        if part in results:
            measured[name] = results[part]["ratio_rps"]
    if direct:
        direct_rps = [run["rps"] for run in direct]
        measured["direct_cpu_idle_share_max"] = max(run["cpu_idle_share"] for run in direct)
        measured["direct_rps_spread"] = round(
            (max(direct_rps) - min(direct_rps)) / max(direct_rps), 3
        )
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average": {"start": started_load, "end": load_average()},
        "wrk": f"2 threads, 16 connections, {args.seconds} s after a 2 s warm-up",
        "rounds": args.rounds,
        "measured": measured,
        "targets": {name: f"{op} {bound}" for name, (op, bound) in TARGETS.items()},
        "items_idempotency_records_made": keyed_creates,
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if "sessions" in results:
        print(
            "  requests/s, Flask-SQLAlchemy sessions / service-kit sessions (no target): "
            f"{results['sessions']['ratio_rps']}"
        )
    for name, value in measured.items():
        op, bound = TARGETS[name]
        print(f"  {name}: {value} (target {op} {bound}) {'ok' if check(name, value) else 'MISSED'}")
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    if not args.profile:
        (BENCH_DIR / "results" / "vs_reference.json").write_text(
            json.dumps(summary, indent=2) + "\n"
        )
    failed = [name for name, value in measured.items() if not check(name, value)]
    runs = [*direct]
    for name in ("list", "create", "not_modified"):
        if name in results:
            runs += results[name]["runs"]["items"] + results[name]["runs"]["reference"]
    if "create" in results and keyed_creates == 0:
        failed.append("items' creates left no idempotency record (keys not sent?)")
    if any(run["errors"] for run in runs):
        failed.append("error responses (4xx/5xx)")
    if failed:
        sys.exit("targets missed: " + ", ".join(failed))


def compare_sessions(
    stack: ExitStack,
    reference_env: dict[str, str],
    script: Path,
    *,
    workdir: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The reference app twice, its sessions from Flask-SQLAlchemy and from service-kit's
    `Database` (autocommit reads), each straight at its gunicorn; the ratio is Flask-SQLAlchemy
    over service-kit."""
    servers = {
        kind: stack.enter_context(
            gunicorn(
                "reference_app:create_app()",
                env={**reference_env, "BENCH_REFERENCE_SESSIONS": kind},
                log_path=workdir / f"reference-{kind}.log",
                ready_path="/api/v1/items",
                options=REFERENCE_GUNICORN,
            )
        )
        for kind in ("flask-sqlalchemy", "service-kit")
    }
    flask_sqlalchemy, service_kit = servers["flask-sqlalchemy"], servers["service-kit"]
    return compare(
        Side(flask_sqlalchemy, script, flask_sqlalchemy),
        Side(service_kit, script, service_kit),
        rounds=args.rounds,
        seconds=args.seconds,
        label="sessions (items = Flask-SQLAlchemy, reference = service-kit)",
    )


PROFILED_SCRIPTS = {
    "list": "items_list",
    "not_modified": "items_not_modified",
    "create": "items_create",
}


def profile_items(
    items: str,
    items_gateway: str,
    scripts: dict[str, Path],
    parts: set[str],
    *,
    seconds: int,
    workdir: Path,
) -> dict[str, Any]:
    """Each chosen part's load on items through its gateway (wrk as in the comparisons) for
    `seconds` under py-spy; the heaviest frames, the raw stacks in
    bench/results/vs_reference_profile_PART.txt."""
    profiles = {}
    for part, script in PROFILED_SCRIPTS.items():
        if part not in parts:
            continue
        with py_spy(items, seconds, workdir, part) as outputs:
            subprocess.run(
                [
                    *("wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(scripts[script])),
                    *(items_gateway, "--", uuid.uuid4().hex),
                ],
                check=True,
                capture_output=True,
            )
        profiles[part] = profile_summary(
            outputs, BENCH_DIR / "results" / f"vs_reference_profile_{part}.txt"
        )
        print(f"profile of {part}: {json.dumps(profiles[part], indent=1)}", flush=True)
    return profiles


def _sanity(
    items_gateway: str,
    reference_gateway: str,
    item_id: str,
    etag: str,
    items_token: str,
    ref_tokens: list[str],
) -> None:
    """Each route answers as the runs expect, before any run."""
    auth = {"Authorization": f"Bearer {items_token}"}
    answers = [
        requests.get(f"{items_gateway}/api/v1/items?limit=20", headers=auth, timeout=10),
        requests.get(
            f"{items_gateway}/api/v1/items/{item_id}",
            headers={**auth, "If-None-Match": etag},
            timeout=10,
        ),
        requests.get(
            f"{reference_gateway}/api/v1/items?limit=20",
            headers={"Authorization": f"Bearer {ref_tokens[0]}"},
            timeout=10,
        ),
        requests.get(
            f"{reference_gateway}/api/v1/items/{item_id}",
            headers={"Authorization": f"Bearer {ref_tokens[0]}"},
            timeout=10,
        ),
    ]
    expected = [200, 304, 200, 200]
    got = [answer.status_code for answer in answers]
    if got != expected:
        raise RuntimeError(f"sanity requests answered {got}, expected {expected}")
    if len(answers[0].json()["data"]) != 20 or len(answers[2].json()["data"]) != 20:
        raise RuntimeError("a list page of fewer than 20 items")


if __name__ == "__main__":
    main()
