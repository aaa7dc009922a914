"""Streaming figure: rows/s and MB/s of a 5M-row result fetched by the ADBC client (the Arrow data as
received, in memory). Run against a release server: see README "Performance" for the in-process limit it is
compared with (`cargo bench --bench stream`).

    OMNIMARKET_FLIGHT_URI=... OMNIMARKET_USER=... OMNIMARKET_PASSWORD=... python tests/clients/stream.py
"""

import os
import time

import adbc_driver_flightsql.dbapi as flight_sql

# 50,000 sales x 100 = 5,000,000 rows of the sales table's 16 columns (ints, dates, timestamps, text, decimals).
SQL = "SELECT v.*, n.value AS copie FROM base_ventes v CROSS JOIN generate_series(1, 100) n"


def main():
    conn = flight_sql.connect(
        os.environ["OMNIMARKET_FLIGHT_URI"],
        db_kwargs={"username": os.environ["OMNIMARKET_USER"], "password": os.environ["OMNIMARKET_PASSWORD"]},
    )
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM base_ventes")  # warm-up: parse the dump once
        cur.fetchall()
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            cur.execute(SQL)
            rows = 0
            nbytes = 0
            reader = cur.fetch_record_batch()
            for batch in reader:
                rows += batch.num_rows
                nbytes += batch.nbytes
            elapsed = time.perf_counter() - t0
            print(f"adbc: {rows} rows, {nbytes / 1e6:.0f} MB in {elapsed:.2f} s: "
                  f"{rows / elapsed / 1e6:.2f} M rows/s, {nbytes / elapsed / 1e6:.0f} MB/s")
            best = elapsed if best is None else min(best, elapsed)
    conn.close()


if __name__ == "__main__":
    main()
