#!/usr/bin/env python3
"""Flight SQL streaming rate of a cached table: MB/s, rows per message and client memory.

Starts `omnimarket serve` on 127.0.0.1 (the binary and data directory given), fetches a query's whole result
with pyarrow.flight (so that every FlightData message is counted), a warm-up then --runs timed fetches, and
prints the median. Stops the server by PID. Not part of CI: release builds only.

    python benches/flight_stream.py --bin target/release/omnimarket --data /tmp/s10 \
        --sql 'SELECT * FROM staging.stg_trafic' --runs 5
"""
import argparse
import contextlib
import resource
import statistics
import subprocess
import time

import pyarrow.flight as flight


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def statement_command(sql: str) -> bytes:
    """A protobuf Any holding Flight SQL's CommandStatementQuery (field 1: the query)."""
    inner = field(1, sql.encode())
    return field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, inner)


@contextlib.contextmanager
def serve(binary: str, project: str, data: str):
    """`omnimarket serve` on 127.0.0.1 (a free port, no auth) and a Flight client to it; stopped by PID."""
    server = subprocess.Popen(
        [binary, "serve", "--no-auth", "--addr", "127.0.0.1:0", "--project", project, "--data", data],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        addr = server.stdout.readline().split("grpc://")[1].split()[0]
        yield flight.FlightClient(f"grpc://{addr}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(client: flight.FlightClient, sql: str):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(statement_command(sql)))
    rows = messages = nbytes = 0
    started = time.perf_counter()
    for endpoint in info.endpoints:
        reader = client.do_get(endpoint.ticket)
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            if chunk.data is None:
                continue
            messages += 1
            rows += chunk.data.num_rows
            nbytes += chunk.data.nbytes
    return time.perf_counter() - started, rows, messages, nbytes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--project", default=".")
    p.add_argument("--sql", default="SELECT * FROM staging.stg_trafic")
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    with serve(a.bin, a.project, a.data) as client:
        fetch(client, a.sql)  # warm-up: loads the snapshot
        runs = [fetch(client, a.sql) for _ in range(a.runs)]
    secs = statistics.median(r[0] for r in runs)
    _, rows, messages, nbytes = runs[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{a.sql}: {rows} rows, {nbytes / 1e6:.1f} MB in {messages} messages ({rows / max(messages, 1):.0f} rows/message)")
    print(f"median of {a.runs}: {secs:.3f} s, {nbytes / 1e6 / secs:.0f} MB/s, {rows / secs / 1e6:.2f} M rows/s; client peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
