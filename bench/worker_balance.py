"""How wrk's 16 connections spread over items' 2 gunicorn workers, with and without
`GUNICORN_REUSE_PORT`: each run on a freshly started items (the list straight at its gunicorn),
the two settings alternating round by round (A B, B A, ...) so load from elsewhere falls on both.

Per run: req/s, requests per server CPU-second, the busiest worker's share of the workers' CPU,
the machine's CPU idle share, and how many of the 16 connections each worker holds (counted
with `ss` halfway through the run). Writes bench/results/worker_balance.json.

Usage: `uv run python bench/worker_balance.py [--rounds N] [--seconds N]`.
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import BENCH_DIR, database_server, gunicorn, items_production_env, jwks_server
from items_list import make_tokens, prepare_database
from vs_reference import load_average, lua_script, run_wrk

SETTINGS = {"default": "false", "reuse_port": "true"}


def connections_per_worker(port: str) -> list[int]:
    """Established connections to `port` by the process holding them, most first."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    started_load = load_average()
    url, owners = prepare_database(database_server())
    workdir = Path(tempfile.mkdtemp(prefix="bench-balance-"))
    tokens, _admin = make_tokens(workdir, owners)
    script = lua_script(workdir, "list", tokens, "/api/v1/items?limit=20")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SETTINGS}
    with jwks_server(workdir) as jwks_url:
        env = items_production_env(url, jwks_url)
        names = list(SETTINGS)
        for index in range(args.rounds):
            for name in names if index % 2 == 0 else names[::-1]:
                with gunicorn(
                    "items:create_app()",
                    env={**env, "GUNICORN_REUSE_PORT": SETTINGS[name]},
                    log_path=workdir / f"items-{name}.log",
                ) as base:
                    spread: list[int] = []

                    def snapshot(
                        port: str = base.rsplit(":", 1)[1], into: list[int] = spread
                    ) -> None:
                        time.sleep(2 + args.seconds / 2)  # the warm-up, then half the run
                        into.extend(connections_per_worker(port))

                    counter = threading.Thread(target=snapshot)
                    counter.start()
                    run: dict[str, Any] = dict(run_wrk(base, script, args.seconds, base))
                    counter.join()
                    run["connections_per_worker"] = spread
                    runs[name].append(run)
                    print(f"round {index + 1} {name}: {run}", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)

    def summary(name: str) -> dict[str, Any]:
        rps = [run["rps"] for run in runs[name]]
        return {
            "rps_median": statistics.median(rps),
            "rps_spread": round((max(rps) - min(rps)) / max(rps), 3),
            "busiest_worker_cpu_share_max": max(r["busiest_worker_cpu_share"] for r in runs[name]),
            "most_connections_on_one_worker_max": max(
                r["connections_per_worker"][0] for r in runs[name]
            ),
            "cpu_idle_share_max": max(r["cpu_idle_share"] for r in runs[name]),
            "requests_per_cpu_second_median": statistics.median(
                r["requests_per_cpu_second"] for r in runs[name]
            ),
        }

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": {"start": started_load, "end": load_average()},
        "summary": {name: summary(name) for name in SETTINGS},
        "runs": runs,
    }
    print(json.dumps(result["summary"], indent=2))
    print(f"load average: start {started_load}, end {load_average()}")
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / "worker_balance.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
