"""Load benchmark: authenticated `GET /api/v1/items?limit=20`, items-service vs the baseline.

Both run under the same gunicorn config against the same PostgreSQL database (100,000 items
over 100 owners), in the same run, driven by wrk with a token per owner. A second pair of runs
compares the first page with a page at depth 100,000 (an admin listing everyone's items).

Usage: `make bench` (or `uv run python bench/items_list.py [--seconds N]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server) and wrk on PATH.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from harness import free_port, gunicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from items import create_app
from items.config import ItemsSettings
from items.services.item_service import ItemService
from service_kit.db import CursorCodec, KeysetPosition
from service_kit.http.db import get_session

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
OWNERS, ITEMS_PER_OWNER = 100, 1_000
ISSUER, AUDIENCE = "http://bench.local", "api"
SECRET = "bench-" + "x" * 40
DEPTH = 100_000


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
    env = {**os.environ, "ITEMS_DATABASE_URL": url, "ITEMS_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "items", "db", "upgrade"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
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
            conn.execute(text("TRUNCATE items, idempotency_records"))
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
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": "bench", "alg": "ES256", "use": "sig"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = datetime.now(UTC)

    def token(sub: uuid.UUID, role: str) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(sub),
            "role": role,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(hours=2)).timestamp()),
            "jti": uuid.uuid4().hex,
            "sid": str(uuid.uuid4()),
        }
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "bench", "typ": "at+jwt"})

    return [token(owner, "user") for owner in owners], token(uuid.uuid4(), "admin")


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
    subprocess.run(
        ["wrk", "-t2", "-c16", "-d2s", "-s", str(script), url], check=True, capture_output=True
    )  # warm-up: pools, caches, JIT-free but still
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    server = os.environ.get(
        "BENCH_DATABASE_SERVER",
        os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    print("preparing database (100 owners x 1,000 items) ...", flush=True)
    url, owners = prepare_database(server)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    user_tokens, admin_token = make_tokens(workdir, owners)
    jwks_port = free_port()
    jwks_server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(jwks_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    list_path = "/api/v1/items?limit=20"
    page_script = write_lua(workdir, "page", user_tokens, list_path)
    first_script = write_lua(workdir, "first", [admin_token], list_path)
    deep_script = write_lua(
        workdir, "deep", [admin_token], f"{list_path}&cursor={deep_cursor(url)}"
    )
    items_env = {
        "ITEMS_ENV": "production",
        "ITEMS_DATABASE_URL": url,
        "ITEMS_SECRET_KEY": SECRET,
        "ITEMS_JWKS_URL": f"http://127.0.0.1:{jwks_port}/jwks.json",
        "ITEMS_TOKEN_ISSUER": ISSUER,
        "ITEMS_TOKEN_AUDIENCE": AUDIENCE,
        "ITEMS_LOG_LEVEL": "WARNING",
    }
    baseline_env = {
        "BENCH_DATABASE_URL": url,
        "BENCH_JWKS_FILE": str(workdir / "jwks.json"),
        "BENCH_ISSUER": ISSUER,
        "BENCH_AUDIENCE": AUDIENCE,
    }
    results: dict[str, Any] = {}
    try:
        time.sleep(0.5)
        with serve("baseline", "baseline_app:create_app()", baseline_env, workdir) as base:
            results["baseline"] = wrk(base, page_script, args.seconds)
        with serve("items", "items:create_app()", items_env, workdir) as base:
            results["items"] = wrk(base, page_script, args.seconds)
            results["items_first_page"] = wrk(base, first_script, args.seconds)
            results["items_deep_page"] = wrk(base, deep_script, args.seconds)
    finally:
        jwks_server.terminate()
        jwks_server.wait(timeout=10)
    throughput_ratio = results["items"]["rps"] / results["baseline"]["rps"]
    depth_cost_ratio = results["items_first_page"]["rps"] / results["items_deep_page"]["rps"]
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "results": results,
        "items_vs_baseline_rps": round(throughput_ratio, 3),
        "deep_vs_first_page_cost": round(depth_cost_ratio, 3),
        "targets": {"items_vs_baseline_rps": ">= 0.90", "deep_vs_first_page_cost": "<= 1.20"},
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
        )
        if not ok
    ]
    if any(r["errors"] for r in results.values()):
        failed.append("non-2xx responses")
    if failed:
        sys.exit("targets missed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
