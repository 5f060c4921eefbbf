"""Scale benchmark: items' list at 1,000,000 items, deep pages and the admin name search.

A fresh PostgreSQL database gets 1,000,000 items (generate_series, about 20 s): one owner, the
benchmark's user, holds every other item (500,000), and 999 more owners share the rest. Then,
through items' HTTP API (gunicorn, production settings, an ES256 token per request):

- **depth**: the first page against the last page at depth 1,000,000 of an admin's listing of
  everyone's items, and the first page against the page at depth 500,000 (its last) of the big
  owner's own list; requests alternate first/deep on one kept-alive connection, and the figure
  is the ratio of the median latencies (target <= 1.2).
- **search**: an admin's `GET /api/v1/items?q=...` across every owner, a few hundred requests
  with varied terms (common and rare words, word fragments, a pair of words, numbers, terms
  that match nothing, `%`, `_` and `\\` taken literally, any case); p99 latency (target
  <= 50 ms). Terms without 3 letters or digits in a row (`%`, `zq`), which no trigram index
  can look up, are measured apart, without a target.

Both are measured twice in the same run: **before**, at the migration before the trigram index
(`febaf60876d8`; a quarter of the searches, most of which read the whole table), and **after**
`flask db upgrade` built it. The targets apply to after. The EXPLAIN ANALYZE of representative
statements is recorded next to each. The script writes `bench/results/items_scale.json`,
prints PASS/FAIL per target, drops its database and exits non-zero on a miss.

Usage: `make bench-scale` (or `uv run python bench/items_scale.py [--keep-database]`).
Needs: PostgreSQL (BENCH_DATABASE_SERVER, default the local server).
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness import (
    BENCH_DIR,
    SECRET,
    Connection,
    access_token,
    database_server,
    flask_command,
    fresh_database,
    gunicorn,
    items_production_env,
    jwks_server,
    percentiles,
    signing_key,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service_kit.db import CursorCodec, KeysetPosition

ITEMS, OWNERS = 1_000_000, 1_000
BEFORE_TRIGRAM_INDEX = "febaf60876d8"
PAGE = 20
DEPTH_ROUNDS = 200  # first/deep pairs per listing
SEARCH_REQUESTS = 400
DEPTH_TARGET, SEARCH_P99_TARGET_MS = 1.2, 50.0

WORD_LIST = (
    "lamp chair table desk shelf sofa mirror clock vase rug bottle kettle teapot bucket ladder "
    "hammer drill saw wrench spanner pliers bolt screw nail hinge handle knob drawer cabinet "
    "wardrobe bench stool cushion pillow blanket curtain carpet tile brick beam plank board "
    "panel frame window door gate fence hedge garden flower tulip rose daisy lily orchid cactus "
    "fern palm oak maple birch cedar pine willow elm ash walnut cherry apple pear plum peach "
    "lemon orange lime mango melon grape berry banana coconut almond hazel pecan cashew pepper "
    "onion garlic ginger carrot potato tomato radish turnip cabbage lettuce spinach celery "
    "parsley basil thyme sage mint dill fennel cumin saffron vanilla cocoa coffee tea sugar "
    "honey butter cheese bread flour rice pasta noodle soup stew curry sauce salad pickle jam "
    "jelly cake pie tart cookie biscuit muffin scone waffle pancake donut bagel pretzel cracker "
    "brass copper silver golden iron steel bronze nickel tin zinc chrome velvet silk cotton "
    "linen wool leather suede denim canvas nylon red blue green yellow purple violet indigo "
    "crimson scarlet amber ivory ebony azure teal navy olive maroon beige coral"
)
WORDS = WORD_LIST.split()

# Names: "<Word> <word> <word> #<n>"; every 10,000th item also carries literal `%`, `_`, `\`.
LOAD_SQL = """
WITH words AS (
    SELECT w, (n - 1)::int AS i FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS t(w, n)
), owners AS (
    SELECT gen_random_uuid() AS owner_id, n - 1 AS i FROM generate_series(1, :owners - 1) AS n
)
INSERT INTO items (public_id, name, description, status, owner_id, version, created_at,
                   updated_at)
SELECT gen_random_uuid(),
       initcap(w1.w) || ' ' || w2.w || ' ' || w3.w || ' #' || g
           || CASE WHEN g % 10000 = 0 THEN ' 50% off a_b c:\\d' ELSE '' END,
       NULL,
       (ARRAY['draft', 'active', 'archived'])[1 + g % 3],
       CASE WHEN g % 2 = 0 THEN CAST(:big_owner AS uuid) ELSE o.owner_id END,
       1,
       timestamptz '2026-01-01' + g * interval '1 second',
       timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series(1, :items) AS g
JOIN words w1 ON w1.i = (hashint4(g) & 1023) % :word_count
JOIN words w2 ON w2.i = ((hashint4(g) >> 10) & 1023) % :word_count
JOIN words w3 ON w3.i = ((hashint4(g) >> 20) & 1023) % :word_count
JOIN owners o ON o.i = (g / 2) % (:owners - 1)
ORDER BY g
"""

LISTING = (
    "SELECT id, public_id, name, description, status, owner_id, created_at, updated_at, version "
    "FROM items WHERE deleted_at IS NULL"
)
ORDER = " ORDER BY created_at DESC, id DESC LIMIT 21"


def search_terms(rng: random.Random) -> list[str]:
    """SEARCH_REQUESTS terms of the kinds people type, shuffled; each has a run of at least 3
    letters or digits, which is what a trigram index can look up."""
    kinds: list[list[str]] = [
        rng.sample(WORDS, 40),  # a whole word: 1-2% of names each
        [w.upper() for w in rng.sample(WORDS, 20)],  # any case
        [w[1:-1] for w in rng.sample([w for w in WORDS if len(w) >= 6], 40)],  # fragments
        [f"{a} {b}" for a, b in zip(rng.sample(WORDS, 40), rng.sample(WORDS, 40), strict=True)],
        [f"#{rng.randrange(1, ITEMS)}" for _ in range(40)],  # about one name
        [str(rng.randrange(100, 99_999)) for _ in range(40)],  # digits anywhere
        ["zqxw", "no such item", "qqq", "xylophone", "jjj", "vvvv", "kettlx", "lampz"] * 5,
        ["50% off", "% off a_b", "off a_b c:\\d", "#10000 50%"] * 10,  # `%`, `_`, `\` literally
    ]
    terms = [term for kind in kinds for term in kind]
    while len(terms) < SEARCH_REQUESTS:
        terms.append(rng.choice(WORDS)[: rng.randrange(3, 6)])
    rng.shuffle(terms)
    return terms[:SEARCH_REQUESTS]


SHORT_TERMS = ["\\", "a_b", "%", "zq", "q", "an", "e"]
"""Terms without 3 letters or digits in a row: no trigram to look up (measured, no target)."""


def load(url: str, big_owner: uuid.UUID) -> float:
    """1,000,000 items in one statement, then VACUUM ANALYZE; seconds taken."""
    started = time.monotonic()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(LOAD_SQL),
            {
                "words": WORDS,
                "word_count": len(WORDS),
                "owners": OWNERS,
                "items": ITEMS,
                "big_owner": big_owner,
            },
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE items"))
    engine.dispose()
    return time.monotonic() - started


def drop_database(name: str) -> None:
    """Drop the benchmark's database: 1,000,000 rows are better not left on disk."""
    admin = create_engine(
        make_url(database_server()).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def migrate(url: str, revision: str = "head") -> float:
    """`flask db upgrade [revision]`; seconds taken."""
    started = time.monotonic()
    subprocess.run(
        flask_command("items", "db", "upgrade", revision),
        env={**os.environ, "ITEMS_DATABASE_URL": url, "ITEMS_LOG_LEVEL": "WARNING"},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def cursor_after(url: str, *, rows_before: int, owner: uuid.UUID | None) -> str:
    """The cursor items hands out after `rows_before` rows of the newest-first list."""
    position = text(
        "SELECT created_at, id FROM items WHERE deleted_at IS NULL "
        "AND (CAST(:owner AS uuid) IS NULL OR owner_id = :owner) "
        "ORDER BY created_at DESC, id DESC OFFSET :n LIMIT 1"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        created_at, pk = conn.execute(position, {"n": rows_before - 1, "owner": owner}).one()
    engine.dispose()
    return CursorCodec(SECRET, scope="items:-created_at").encode(KeysetPosition(created_at, pk))


def explain(url: str, statements: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """EXPLAIN ANALYZE of each statement: its plan's node lines and the execution time."""
    plans: dict[str, Any] = {}
    engine = create_engine(url)
    with engine.connect() as conn:
        for name, (sql, params) in statements.items():
            lines = [
                row[0] for row in conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql), params)
            ]
            nodes = [line.strip() for line in lines if "->" in line or line == lines[0]]
            execution = next(line for line in lines if line.startswith("Execution Time"))
            plans[name] = {"plan": nodes, "execution": execution.split(": ")[1]}
    engine.dispose()
    return plans


def representative_statements(
    big_owner: uuid.UUID, admin_deep: KeysetPosition, owner_deep: KeysetPosition
) -> dict[str, tuple[str, dict[str, Any]]]:
    after = " AND (created_at, id) < (:at, :pk)"
    search = LISTING + " AND name ILIKE :pattern ESCAPE '\\'" + ORDER
    return {
        "admin first page": (LISTING + ORDER, {}),
        "admin page at depth 1,000,000": (
            LISTING + after + ORDER,
            {"at": admin_deep.created_at, "pk": admin_deep.id},
        ),
        "owner first page": (LISTING + " AND owner_id = :owner" + ORDER, {"owner": big_owner}),
        "owner page at depth 500,000": (
            LISTING + " AND owner_id = :owner" + after + ORDER,
            {"owner": big_owner, "at": owner_deep.created_at, "pk": owner_deep.id},
        ),
        "search 'kettle brass' (rare pair)": (search, {"pattern": "%kettle brass%"}),
        "search 'zqxw' (no match)": (search, {"pattern": "%zqxw%"}),
        "search '50\\%' (escaped %)": (search, {"pattern": "%50\\%%"}),
        "search 'lamp' (common word)": (search, {"pattern": "%lamp%"}),
    }


def make_tokens(workdir: Path, big_owner: uuid.UUID) -> tuple[str, str]:
    """(the big owner's token, an admin's token), signed by a key published in workdir."""
    key = signing_key(workdir)
    now = datetime.now(UTC)
    user = access_token(key, big_owner, "user", now=now)
    return user, access_token(key, uuid.uuid4(), "admin", now=now)


def timed(connection: Connection, path: str, token: str) -> float:
    status, ms, body, _headers = connection.call("GET", path, token=token)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body}")
    return ms


def depth_pair(base: str, token: str, first: str, deep: str) -> dict[str, Any]:
    """First and deep page alternating on one connection; the ratio of median latencies."""
    connection = Connection(base)
    for _ in range(10):  # warm-up: the worker, its pool, the statement caches
        timed(connection, first, token)
        timed(connection, deep, token)
    firsts, deeps = [], []
    for _ in range(DEPTH_ROUNDS):
        firsts.append(timed(connection, first, token))
        deeps.append(timed(connection, deep, token))
    connection.close()
    return {
        "first": percentiles(firsts),
        "deep": percentiles(deeps),
        "ratio": round(statistics.median(deeps) / statistics.median(firsts), 3),
    }


def search_run(base: str, token: str, terms: list[str]) -> dict[str, Any]:
    connection = Connection(base)
    for term in search_terms(random.Random(1))[:10]:  # warm-up, not counted
        timed(connection, f"/api/v1/items?limit={PAGE}&q={quote(term)}", token)
    latencies: list[float] = []
    slowest: list[tuple[float, str]] = []
    for term in terms:
        ms = timed(connection, f"/api/v1/items?limit={PAGE}&q={quote(term)}", token)
        latencies.append(ms)
        slowest.append((ms, term))
    connection.close()
    slowest.sort(reverse=True)
    return {**percentiles(latencies), "slowest": [[round(ms, 1), t] for ms, t in slowest[:5]]}


def measure(
    workdir: Path,
    env: dict[str, str],
    tokens: tuple[str, str],
    paths: dict[str, str],
    *,
    searches: int,
) -> dict[str, Any]:
    owner_token, admin_token = tokens
    terms = search_terms(random.Random(9))[:searches]
    with gunicorn("items:create_app()", env=env, log_path=workdir / "items.log") as base:
        return {
            "admin_list": depth_pair(base, admin_token, paths["first"], paths["admin_deep"]),
            "owner_list": depth_pair(base, owner_token, paths["first"], paths["owner_deep"]),
            "admin_search": search_run(base, admin_token, terms),
            "admin_search_short_terms": search_run(base, admin_token, SHORT_TERMS * 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-database", action="store_true", help="leave items_scale behind")
    args = parser.parse_args()
    url = fresh_database(database_server(), "items_scale")
    big_owner = uuid.uuid4()
    print(f"migrating to {BEFORE_TRIGRAM_INDEX} and loading {ITEMS:,} items ...", flush=True)
    migrate(url, BEFORE_TRIGRAM_INDEX)
    load_seconds = load(url, big_owner)
    admin_deep = cursor_after(url, rows_before=ITEMS - PAGE, owner=None)
    owner_deep = cursor_after(url, rows_before=ITEMS // 2 - PAGE, owner=big_owner)
    codec = CursorCodec(SECRET, scope="items:-created_at")
    statements = representative_statements(
        big_owner, codec.decode(admin_deep), codec.decode(owner_deep)
    )
    paths = {
        "first": f"/api/v1/items?limit={PAGE}",
        "admin_deep": f"/api/v1/items?limit={PAGE}&cursor={admin_deep}",
        "owner_deep": f"/api/v1/items?limit={PAGE}&cursor={owner_deep}",
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    tokens = make_tokens(workdir, big_owner)
    results: dict[str, Any] = {}
    with jwks_server(workdir) as jwks_url:
        env = items_production_env(url, jwks_url)
        print("measuring before the trigram index ...", flush=True)
        results["before"] = {
            "explain": explain(url, statements),
            # A quarter of the searches: before the index most of them read the whole table.
            **measure(workdir, env, tokens, paths, searches=SEARCH_REQUESTS // 4),
        }
        print("building the trigram index (flask db upgrade) ...", flush=True)
        index_seconds = migrate(url)
        print("measuring after ...", flush=True)
        results["after"] = {
            "explain": explain(url, statements),
            **measure(workdir, env, tokens, paths, searches=SEARCH_REQUESTS),
        }
    after = results["after"]
    checks = {
        "admin_deep_vs_first_page": (after["admin_list"]["ratio"], DEPTH_TARGET),
        "owner_deep_vs_first_page": (after["owner_list"]["ratio"], DEPTH_TARGET),
        "admin_search_p99_ms": (after["admin_search"]["p99_ms"], SEARCH_P99_TARGET_MS),
    }
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "items": ITEMS,
        "load_seconds": round(load_seconds, 1),
        "index_build_seconds": round(index_seconds, 1),
        "results": results,
        "targets": {name: f"<= {limit}" for name, (_value, limit) in checks.items()},
        "measured": {name: value for name, (value, _limit) in checks.items()},
    }
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / "items_scale.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    if not args.keep_database:
        drop_database("items_scale")
    print(json.dumps(summary["results"], indent=2))
    missed = []
    for name, (value, limit) in checks.items():
        before_value = {
            "admin_deep_vs_first_page": results["before"]["admin_list"]["ratio"],
            "owner_deep_vs_first_page": results["before"]["owner_list"]["ratio"],
            "admin_search_p99_ms": results["before"]["admin_search"]["p99_ms"],
        }[name]
        verdict = "PASS" if value <= limit else "FAIL"
        print(f"{verdict} {name}: {value} (target <= {limit}; before the index {before_value})")
        if verdict == "FAIL":
            missed.append(name)
    if missed:
        sys.exit("targets missed: " + ", ".join(missed))


if __name__ == "__main__":
    main()
