"""Soak test: N ADBC clients run the dashboard queries for a given time against one `omnimarket serve`, beside
one client that keeps sending a runaway query and one that keeps failing logins, while the server's resident
memory is sampled every second (loopback only, bounded in time).

Prints the query count, latency percentiles, errors, and the server's RSS: at the start, its peak, and the
median of the first and last minute (growth between them is what a leak looks like). Exits 1 on any error of
the normal clients or if the last minute's RSS exceeds the first minute's by more than --max-growth-mb. The
server comes from the environment (OMNIMARKET_FLIGHT_URI, OMNIMARKET_USER, OMNIMARKET_PASSWORD,
OMNIMARKET_SERVER_PID), as set by tests/clients/run.sh --soak SECONDS.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import adbc_driver_flightsql.dbapi as flight_sql

from load import QUERIES, RUNAWAY, percentile


def rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def client(uri, user, password, deadline, latencies, errors, lock):
    conn = flight_sql.connect(uri, db_kwargs={"username": user, "password": password})
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                for name, sql in QUERIES.items():
                    if time.monotonic() >= deadline:
                        break
                    t0 = time.perf_counter()
                    try:
                        cur.execute(sql)
                        cur.fetch_arrow_table()
                    except Exception as e:  # noqa: BLE001
                        with lock:
                            errors.append(f"{name}: {e}")
                        continue
                    with lock:
                        latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()


def runaway(uri, user, password, deadline, outcomes, lock):
    conn = flight_sql.connect(uri, db_kwargs={"username": user, "password": password})
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                try:
                    cur.execute(RUNAWAY)
                    cur.fetch_arrow_table()
                    outcome = "finished"
                except Exception as e:  # noqa: BLE001
                    outcome = "cancelled" if "time limit" in str(e) else "other error"
                with lock:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        conn.close()


def bad_logins(uri, user, deadline, counts, lock):
    while time.monotonic() < deadline:
        try:
            flight_sql.connect(uri, db_kwargs={"username": user, "password": "wrong"}).close()
            outcome = "accepted (should not be)"
        except Exception as e:  # noqa: BLE001
            text = str(e)
            outcome = "throttled" if "too many failed logins" in text else "refused" if "invalid user" in text else "other"
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--max-growth-mb", type=float, default=100)
    args = ap.parse_args()
    uri = os.environ["OMNIMARKET_FLIGHT_URI"]
    host = urlparse(uri).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit(f"refusing to soak {host}: loopback only")
    user, password = os.environ["OMNIMARKET_USER"], os.environ["OMNIMARKET_PASSWORD"]
    pid = int(os.environ["OMNIMARKET_SERVER_PID"])

    start_rss = rss_mb(pid)
    deadline = time.monotonic() + args.seconds
    latencies, errors, outcomes, logins, lock = [], [], {}, {}, threading.Lock()
    threads = [threading.Thread(target=client, args=(uri, user, password, deadline, latencies, errors, lock))
               for _ in range(args.clients)]
    threads.append(threading.Thread(target=runaway, args=(uri, user, password, deadline, outcomes, lock)))
    threads.append(threading.Thread(target=bad_logins, args=(uri, "mallory", deadline, logins, lock)))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - t0, rss_mb(pid)))
        time.sleep(1.0)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    lat = sorted(latencies)
    first = [r for s, r in samples if s < 60]
    last = [r for s, r in samples if s >= samples[-1][0] - 60]
    growth = statistics.median(last) - statistics.median(first)
    print(
        f"soak: {args.clients} clients for {elapsed:.0f} s: {len(lat)} queries ({len(lat) / elapsed:.1f}/s), "
        f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, errors {len(errors)}"
    )
    print(f"  runaway query: {outcomes}; failed-login client: {logins}")
    print(
        f"  server RSS (MiB): start {start_rss:.0f}, peak {max(r for _, r in samples):.0f}, "
        f"first-minute median {statistics.median(first):.0f}, last-minute median {statistics.median(last):.0f} "
        f"(growth {growth:+.0f}), {len(samples)} samples"
    )
    per_minute = [statistics.median([r for s, r in samples if m * 60 <= s < (m + 1) * 60] or [float("nan")])
                  for m in range(int(samples[-1][0] // 60) + 1)]
    print("  RSS median per minute (MiB): " + " ".join(f"{r:.0f}" for r in per_minute))
    for e in errors[:5]:
        print("  error:", e[:300])
    sys.exit(1 if errors or growth > args.max_growth_mb else 0)


if __name__ == "__main__":
    main()
