"""Load test: N concurrent clients, each running the dashboard queries R times (loopback only, bounded). The
clients are ADBC Flight SQL ones, or psycopg over the Postgres wire with --protocol pg (OMNIMARKET_PG_ADDR).

Prints throughput and latency percentiles; exits 1 on any error. With --runaway, the same load runs twice:
alone, then beside one client that keeps running a query far too heavy to finish (a triple cross join of the
sales), which the server must cancel at its --query-timeout; it prints both p99s and their ratio, and fails if
the ratio exceeds --max-ratio. The server comes from the environment (OMNIMARKET_FLIGHT_URI, OMNIMARKET_USER,
OMNIMARKET_PASSWORD), as set by tests/clients/run.sh.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import adbc_driver_flightsql.dbapi as flight_sql
import psycopg

DASHBOARDS = Path(__file__).resolve().parents[2] / "sql" / "dashboards"


def dashboard_queries(folder=DASHBOARDS):
    """Every visual's query of the five dashboards (`-- name:` blocks of sql/dashboards/*.sql), as the web
    pages run them: semantic SQL, compiled by the server."""
    queries = {}
    for path in sorted(folder.glob("*.sql")):
        name, lines = None, []
        for line in path.read_text(encoding="utf-8").splitlines() + ["-- name: <end>"]:
            if line.startswith("-- name:"):
                sql = "\n".join(lines).strip().rstrip(";").strip()
                if name and sql:
                    queries[f"{path.stem}/{name}"] = sql
                name, lines = line.split(":", 1)[1].strip(), []
            elif not line.startswith("--"):
                lines.append(line)
    if not queries:
        sys.exit(f"no dashboard queries found under {folder}")
    return queries


QUERIES = dashboard_queries()
PROTOCOL = "flight"


def connect(uri, user, password):
    """A connection of the protocol under test, and how to run one query to its last row on it."""
    if PROTOCOL == "pg":
        host, port = os.environ["OMNIMARKET_PG_ADDR"].rsplit(":", 1)
        conn = psycopg.connect(f"host={host} port={port} dbname=omnimarket user={user} password={password} sslmode=disable", autocommit=True)

        def run(cur, sql):
            cur.execute(sql)
            cur.fetchall()

        return conn, run
    conn = flight_sql.connect(uri, db_kwargs={"username": user, "password": password})

    def run(cur, sql):
        cur.execute(sql)
        cur.fetch_arrow_table()

    return conn, run


def worker(uri, user, password, runs, latencies, errors, lock):
    try:
        conn, run = connect(uri, user, password)
    except Exception as e:  # noqa: BLE001 - any failure counts as an error of the load test
        with lock:
            errors.append(f"connect: {e}")
        return
    try:
        with conn.cursor() as cur:
            for _ in range(runs):
                for name, sql in QUERIES.items():
                    t0 = time.perf_counter()
                    try:
                        run(cur, sql)
                    except Exception as e:  # noqa: BLE001
                        with lock:
                            errors.append(f"{name}: {e}")
                        continue
                    with lock:
                        latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()


RUNAWAY = (
    "SELECT SUM(a.Quantite + b.Quantite + c.Quantite) AS s "
    "FROM base_ventes a CROSS JOIN base_ventes b CROSS JOIN base_ventes c"
)


def runaway(uri, user, password, stop, outcomes, lock):
    """Runs the runaway query until told to stop; every run must end in the server's time-limit error."""
    conn, run = connect(uri, user, password)
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    run(cur, RUNAWAY)
                    outcome = "finished (it should not)"
                except Exception as e:  # noqa: BLE001
                    outcome = "cancelled at the time limit" if "time limit" in str(e) else f"failed: {e}"
                with lock:
                    outcomes.append((outcome, time.perf_counter() - t0))
    finally:
        conn.close()


def run_load(uri, user, password, clients, runs):
    latencies, errors, lock = [], [], threading.Lock()
    threads = [
        threading.Thread(target=worker, args=(uri, user, password, runs, latencies, errors, lock))
        for _ in range(clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies), errors, time.perf_counter() - t0


def report(label, clients, runs, lat, errors, elapsed):
    print(
        f"{label} ({PROTOCOL}): {clients} clients x {runs} runs x {len(QUERIES)} queries = {len(lat)} queries "
        f"in {elapsed:.1f} s: {len(lat) / elapsed:.1f} queries/s; latency p50 {percentile(lat, 50) * 1000:.1f} ms, "
        f"p99 {percentile(lat, 99) * 1000:.1f} ms, mean {statistics.fmean(lat) * 1000 if lat else float('nan'):.1f} ms; "
        f"errors {len(errors)}"
    )
    for e in errors[:5]:
        print("  error:", e[:300])


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--runaway", action="store_true", help="run the load again beside a runaway query")
    ap.add_argument("--max-ratio", type=float, default=2.0, help="largest p99 ratio accepted with --runaway")
    ap.add_argument("--protocol", choices=["flight", "pg"], default="flight", help="Flight SQL (ADBC) or Postgres wire (psycopg)")
    args = ap.parse_args()
    global PROTOCOL
    PROTOCOL = args.protocol
    uri = os.environ["OMNIMARKET_FLIGHT_URI"]
    host = urlparse(uri).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit(f"refusing to load-test {host}: loopback only")
    user, password = os.environ["OMNIMARKET_USER"], os.environ["OMNIMARKET_PASSWORD"]

    # Warm-up: the first query of each table loads the cleaned models and binds the semantic model.
    warm, run = connect(uri, user, password)
    with warm.cursor() as cur:
        for sql in QUERIES.values():
            run(cur, sql)
    warm.close()

    lat, errors, elapsed = run_load(uri, user, password, args.clients, args.runs)
    report("load", args.clients, args.runs, lat, errors, elapsed)
    if not args.runaway:
        sys.exit(1 if errors else 0)

    stop, outcomes, lock = threading.Event(), [], threading.Lock()
    hog = threading.Thread(target=runaway, args=(uri, user, password, stop, outcomes, lock))
    hog.start()
    time.sleep(1.0)  # the runaway is on the cores before the load starts
    lat2, errors2, elapsed2 = run_load(uri, user, password, args.clients, args.runs)
    stop.set()
    hog.join()
    report("load beside a runaway query", args.clients, args.runs, lat2, errors2, elapsed2)
    for outcome, seconds in outcomes:
        print(f"  runaway: {outcome} after {seconds:.1f} s")
    ratio = percentile(lat2, 99) / percentile(lat, 99)
    print(f"p99 beside the runaway / alone: {ratio:.2f} (at most {args.max_ratio})")
    bad = [o for o, _ in outcomes if o != "cancelled at the time limit"]
    failed = errors or errors2 or bad or not outcomes or ratio > args.max_ratio
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
