"""What tracing costs: authenticated `GET /api/v1/items?limit=20` with tracing off, on (every
trace kept) and on with 10 % of new traces kept, in the same run.

The same database and tokens as `items_list.py` (100,000 items over 100 owners, wrk with 16
connections). "On" exports every span (the request's, and one per SQL statement) over OTLP/HTTP
to a receiver in this process, as a collector on the same host would take them. The servers run
one at a time, started afresh for each run, in an order that alternates between rounds; each
ratio is the median over rounds of (on / off) from runs seconds apart.

Usage: `uv run python bench/tracing_cost.py [--seconds N] [--rounds N]`. No target: the figures
say what turning tracing on costs (README.md, *Observability*, and bench/README.md).
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import database_server, items_production_env, jwks_server
from items_list import make_tokens, prepare_database, serve, write_lua, wrk

from service_kit_testing.otlp import OtlpReceiver

SETTINGS = ("off", "on", "on_sampled_10pct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    print("preparing database (100 owners x 1,000 items) ...", flush=True)
    url, owners = prepare_database(database_server())
    workdir = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    tokens, _admin = make_tokens(workdir, owners)
    script = write_lua(workdir, "page", tokens, "/api/v1/items?limit=20")
    runs: dict[str, list[dict[str, float]]] = {setting: [] for setting in SETTINGS}
    with jwks_server(workdir) as jwks_url, OtlpReceiver(keep=10_000) as receiver:
        base_env = items_production_env(url, jwks_url)
        traced = {**base_env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint()}
        environments = {
            "off": base_env,
            "on": traced,
            "on_sampled_10pct": {**traced, "OTEL_TRACES_SAMPLER_ARG": "0.1"},
        }
        for index in range(args.rounds):
            order = SETTINGS if index % 2 == 0 else tuple(reversed(SETTINGS))
            for setting in order:
                env = environments[setting]
                with serve(f"items-{setting}", "items:create_app()", env, workdir) as base:
                    runs[setting].append(wrk(base, script, args.seconds))
        spans_received = len(receiver.spans)
    summary: dict[str, Any] = {
        "runs": {setting: [(r["rps"], r["p50_ms"]) for r in rs] for setting, rs in runs.items()},
        "on_vs_off_rps": _median_ratio(runs, "on", "rps"),
        "on_vs_off_requests_per_cpu_second": _median_ratio(runs, "on", "requests_per_cpu_second"),
        "sampled_10pct_vs_off_rps": _median_ratio(runs, "on_sampled_10pct", "rps"),
        "spans_received_last_10000_kept": spans_received,
    }
    print(json.dumps(summary, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    if any(run["errors"] for rs in runs.values() for run in rs):
        sys.exit("non-2xx responses")


def _median_ratio(runs: dict[str, list[dict[str, float]]], setting: str, measure: str) -> float:
    return round(
        statistics.median(
            on[measure] / off[measure] for on, off in zip(runs[setting], runs["off"], strict=True)
        ),
        3,
    )


if __name__ == "__main__":
    main()
