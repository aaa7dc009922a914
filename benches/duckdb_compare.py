#!/usr/bin/env python3
"""The dashboards side by side with DuckDB on the same cleaned tables, one command:

    python benches/duckdb_compare.py --bin target/release/omnimarket --data /tmp/s10 --runs 5

1. Starts `omnimarket serve` (127.0.0.1, no auth) on the data directory, and exports every `staging` table over
   Flight SQL into DuckDB (in memory, the same rows and types).
2. For each dashboard query (`sql/dashboards/*.sql`), gets the SQL the layer runs (`omnimarket compile`) and runs
   it in DuckDB. The layer's own SQL functions become DuckDB macros with the same meaning (`decimal_to_double`,
   `dax_add`, `dax_sub`), and the ordered aggregate `first_value` DuckDB's `first`; a query DuckDB cannot run is
   reported, not hidden.
3. Checks the rows equal (sorted, numbers to 1e-9 relative), then times the two engines interleaved: the layer
   over Flight SQL (server warm, tables in memory), DuckDB in process. Prints the median time per query and the
   ratio per dashboard (sum of medians). Stops the server by PID. Not part of CI (release builds only).
"""
import argparse
import concurrent.futures
import math
import pathlib
import re
import statistics
import subprocess
import sys
import time

import duckdb
import pyarrow as pa
import pyarrow.flight as flight

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from flight_stream import serve, statement_command  # noqa: E402

MACROS = [
    "CREATE MACRO decimal_to_double(x) AS CAST(x AS DOUBLE)",
    "CREATE MACRO dax_add(a, b) AS CASE WHEN a IS NULL AND b IS NULL THEN NULL ELSE COALESCE(a, 0) + COALESCE(b, 0) END",
    "CREATE MACRO dax_sub(a, b) AS CASE WHEN a IS NULL AND b IS NULL THEN NULL ELSE COALESCE(a, 0) - COALESCE(b, 0) END",
]


def fetch(client, sql):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(statement_command(sql)))
    tables = [client.do_get(e.ticket).read_all() for e in info.endpoints]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def queries(project: pathlib.Path):
    for path in sorted((project / "sql" / "dashboards").glob("*.sql")):
        text = path.read_text()
        for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
            name, _, sql = block.partition("\n")
            yield path.stem, name.strip(), sql.strip().rstrip(";")


def rows(table: pa.Table):
    def norm(v):
        if isinstance(v, float):
            return None if math.isnan(v) else v
        return v
    return sorted((tuple(norm(v) for v in r.values()) for r in table.to_pylist()), key=lambda r: tuple(str(x) for x in r))


def same(a, b):
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x is not None and y is not None:
                if abs(x - y) > 1e-9 * max(abs(x), abs(y), 1.0):
                    return False
            elif str(x) != str(y):
                return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--project", default=".")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--save", help="also write the exported tables to this DuckDB file (for one-process comparisons)")
    p.add_argument("--only", help="time only the dashboards whose file name contains this")
    a = p.parse_args()
    project = pathlib.Path(a.project)
    with serve(a.bin, a.project, a.data) as client:
        db = duckdb.connect()
        db.execute("ATTACH ':memory:' AS omnimarket")
        db.execute("CREATE SCHEMA omnimarket.staging")
        db.execute("CREATE SCHEMA omnimarket.raw")
        names = fetch(client, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'").column(0).to_pylist()
        for n in names:
            t = fetch(client, f'SELECT * FROM staging."{n}"')
            db.register("_t", t)
            db.execute(f'CREATE TABLE omnimarket.staging."{n}" AS SELECT * FROM _t')
            db.unregister("_t")
        if a.save:
            pathlib.Path(a.save).unlink(missing_ok=True)
            db.execute(f"ATTACH '{a.save}' AS saved")
            for n in names:
                db.execute(f'CREATE TABLE saved."{n}" AS SELECT * FROM omnimarket.staging."{n}"')
            db.execute("DETACH saved")
        db.execute("USE omnimarket.staging")
        for m in MACROS:
            db.execute(m)
        pages = {}
        page_sql = {}
        for page, name, sql in queries(project):
            if a.only and a.only not in page:
                continue
            compiled = subprocess.run(
                [a.bin, "compile", "--project", a.project, "--data", a.data, sql], capture_output=True, text=True
            )
            duck_sql = compiled.stdout.strip() if compiled.returncode == 0 and compiled.stdout.strip() else sql
            # DataFusion's ordered aggregate `first_value(x ORDER BY ...)` is DuckDB's `first(x ORDER BY ...)`
            # (DuckDB's first_value is a window function only).
            duck_sql = re.sub(r"\bfirst_value\(", "first(", duck_sql)
            ours = fetch(client, sql)
            try:
                theirs = db.sql(duck_sql).to_arrow_table()
            except Exception as e:  # noqa: BLE001 - reported, the run goes on
                print(f"{page}/{name}: DuckDB cannot run the compiled SQL: {str(e).splitlines()[0]}")
                continue
            if not same(rows(ours), rows(theirs)):
                print(f"{page}/{name}: ROWS DIFFER ({ours.num_rows} vs {theirs.num_rows})")
                continue
            t_ours, t_duck = [], []
            for _ in range(a.runs):
                s = time.perf_counter()
                fetch(client, sql)
                t_ours.append(time.perf_counter() - s)
                s = time.perf_counter()
                db.sql(duck_sql).to_arrow_table()
                t_duck.append(time.perf_counter() - s)
            mo, md = statistics.median(t_ours), statistics.median(t_duck)
            pages.setdefault(page, []).append((mo, md))
            page_sql.setdefault(page, []).append(sql)
            print(f"{page}/{name}: omnimarket {mo * 1000:.1f} ms, DuckDB {md * 1000:.1f} ms, ratio {mo / md:.2f}")
        print("\nper dashboard (sum of medians): omnimarket / DuckDB")
        for page, times in pages.items():
            o, d = sum(t[0] for t in times), sum(t[1] for t in times)
            print(f"  {page}: {o * 1000:.0f} ms / {d * 1000:.0f} ms = {o / d:.2f}x ({len(times)} queries)")
        # A page as the web server shows it: its visuals at once, against one after another (same server).
        print("\nper dashboard, the layer's visuals at once / one after another (medians)")
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            for page, sqls in page_sql.items():
                together, serial = [], []
                for _ in range(a.runs):
                    s = time.perf_counter()
                    list(pool.map(lambda q: fetch(client, q), sqls))
                    together.append(time.perf_counter() - s)
                    s = time.perf_counter()
                    for q in sqls:
                        fetch(client, q)
                    serial.append(time.perf_counter() - s)
                t, r = statistics.median(together), statistics.median(serial)
                print(f"  {page}: {t * 1000:.0f} ms at once / {r * 1000:.0f} ms serial = {t / r:.2f}")


if __name__ == "__main__":
    main()
