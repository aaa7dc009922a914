"""The Postgres-wire endpoint (`serve --pg`) with real clients nobody here wrote: psql, psqlODBC (the ANSI driver,
through pyodbc), pgJDBC (a small Java program), psycopg 3 and SQLAlchemy's postgresql dialect. Every semantic total
is checked against the plain-SQL computation of the same figure on the same connection.

run.sh starts the server with `--pg 127.0.0.1:0` and sets OMNIMARKET_PG_ADDR (host:port).
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pyodbc
import pytest
import sqlalchemy
from sqlalchemy import inspect, text

from conftest import _need

HERE = Path(__file__).resolve().parent
SEMANTIC = 'SELECT "Nom_Canal", MEASURE("CA_Total") AS ca FROM semantic.omnimarket GROUP BY 1 ORDER BY 1'
PLAIN_BY_CANAL = (
    "SELECT c.Nom_Canal, SUM(v.Montant_TTC) FROM staging.stg_ventes v "
    "JOIN staging.stg_canaux c ON v.ID_Canal = c.ID_Canal GROUP BY 1 ORDER BY 1"
)

# Minutes of work on 2 cores (a nested-loop join of 4e10 pairs): only ever stopped by a cancel or a timeout.
RUNAWAY = "SELECT COUNT(*) FROM generate_series(1, 200000) a CROSS JOIN generate_series(1, 200000) b WHERE a.value + b.value = 7"


@pytest.fixture(scope="session")
def pg_addr() -> tuple[str, int]:
    host, port = _need("OMNIMARKET_PG_ADDR").rsplit(":", 1)
    return host, int(port)


@pytest.fixture(scope="session")
def dsn(pg_addr, credentials) -> str:
    (host, port), (user, password) = pg_addr, credentials
    return f"host={host} port={port} dbname=omnimarket user={user} password={password} sslmode=disable"


@pytest.fixture()
def pg(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def server_alive():
    pid = int(os.environ.get("OMNIMARKET_SERVER_PID", "0"))
    if pid:
        os.kill(pid, 0)  # raises if the server is gone


def plain_by_canal(conn) -> dict[str, float]:
    return {name: float(total) for name, total in conn.execute(PLAIN_BY_CANAL).fetchall()}


# ---------------------------------------------------------------- psycopg 3


def test_psycopg_semantic_query_equals_plain_sql(pg):
    rows = pg.execute(SEMANTIC).fetchall()
    plain = plain_by_canal(pg)
    assert [r[0] for r in rows] == ["Magasin", "Mobile", "Web"]
    for name, ca in rows:
        assert abs(float(ca) - plain[name]) < 0.01, name


def test_psycopg_bi_tool_style_sum_of_a_measure(pg):
    """What Power BI/Tableau generate: a measure column aggregated with SUM, quoted names."""
    rows = pg.execute('SELECT "Nom_Canal", SUM("CA_Total") FROM "semantic"."omnimarket" GROUP BY 1 ORDER BY 1').fetchall()
    plain = plain_by_canal(pg)
    assert {r[0]: round(float(r[1]), 2) for r in rows} == {k: round(v, 2) for k, v in plain.items()}


def test_psycopg_server_side_parameters(pg):
    """psycopg 3 binds on the server (extended protocol): Parse with $1, Bind, Execute."""
    sql = 'SELECT "Nom_Canal", MEASURE("CA_Total") AS ca FROM semantic.omnimarket WHERE "Annee" = %s GROUP BY 1 ORDER BY 1'
    by_year = {annee: pg.execute(sql, (annee,)).fetchall() for annee in (2023, 2024)}
    plain_2024 = pg.execute(
        "SELECT SUM(v.Montant_TTC) FROM staging.stg_ventes v JOIN staging.stg_temps t ON v.ID_Date = t.ID_Date WHERE t.Annee = %s",
        (2024,),
    ).fetchone()[0]
    assert len(by_year[2023]) == 3 and len(by_year[2024]) == 3
    assert abs(sum(float(r[1]) for r in by_year[2024]) - float(plain_2024)) < 0.01
    assert by_year[2023] != by_year[2024]
    # A prepared statement run many times (psycopg prepares after the 5th execution).
    counts = [pg.execute("SELECT COUNT(*) FROM staging.stg_ventes WHERE ID_Canal = %s", (c,)).fetchone()[0] for c in (1, 2, 3) * 3]
    total = pg.execute("SELECT COUNT(*) FROM staging.stg_ventes").fetchone()[0]
    assert sum(counts[:3]) == total and counts[:3] == counts[3:6]


def test_psycopg_types(pg):
    row = pg.execute(
        "SELECT c.Nom_Canal, COUNT(*) AS ventes, MIN(v.Date_Vente) AS premiere, SUM(v.Montant_TTC) AS ca "
        "FROM staging.stg_ventes v JOIN staging.stg_canaux c ON v.ID_Canal = c.ID_Canal GROUP BY 1 ORDER BY 1 LIMIT 1"
    ).fetchone()
    import datetime
    import decimal

    assert isinstance(row[0], str) and isinstance(row[1], int)
    assert isinstance(row[2], datetime.date)
    assert isinstance(row[3], (float, decimal.Decimal))


def test_psycopg_fetches_a_million_rows(pg):
    started = time.perf_counter()
    n, total = 0, 0
    with pg.cursor(name=None) as cur:
        cur.execute("SELECT value AS n FROM generate_series(1, 1000000)")
        while True:
            rows = cur.fetchmany(50_000)
            if not rows:
                break
            n += len(rows)
            total += sum(r[0] for r in rows)
    elapsed = time.perf_counter() - started
    assert n == 1_000_000 and total == 1_000_000 * 1_000_001 // 2
    print(f"\npsycopg: 1M rows in {elapsed:.2f} s = {n / elapsed:,.0f} rows/s")


def test_writes_and_shared_settings_are_refused(pg, dsn):
    for sql in [
        "COPY (SELECT 'x' AS a) TO '/tmp/omnimarket-pg-attack.csv' STORED AS CSV",
        "CREATE EXTERNAL TABLE t (l VARCHAR) STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO staging.stg_canaux VALUES (1, 'Web', 'Online')",
        "DROP TABLE staging.stg_canaux",
        "SET datafusion.execution.batch_size = 1",
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.execute(sql)
    assert not os.path.exists("/tmp/omnimarket-pg-attack.csv")
    assert pg.execute("SELECT COUNT(*) FROM staging.stg_canaux").fetchone()[0] == 3
    # A session setting stays in its connection.
    pg.execute("SET DateStyle = 'ISO, DMY'")
    assert pg.execute("SHOW DateStyle").fetchone()[0] == "ISO, DMY"
    with psycopg.connect(dsn, autocommit=True) as other:
        assert other.execute("SHOW DateStyle").fetchone()[0] == "ISO, MDY"


def test_errors_leave_the_connection_and_the_server_working(pg):
    with pytest.raises(psycopg.errors.SyntaxErrorOrAccessRuleViolation) as err:
        pg.execute("SELECT * FROM Dim_Clien")
    assert "Dim_Client" in str(err.value)
    with pytest.raises(psycopg.Error):
        pg.execute("SELEC 1")
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        pg.execute("SELECT " + "+".join(["1"] * 3000))
    assert pg.execute("SELECT 1").fetchone()[0] == 1
    server_alive()


def test_wrong_password_and_unknown_database_are_refused(pg_addr, credentials):
    (host, port), (user, password) = pg_addr, credentials
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(f"host={host} port={port} dbname=omnimarket user={user} password=wrong sslmode=disable")
    assert "password authentication failed" in str(err.value)
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(f"host={host} port={port} dbname=omnimarket user=nobody password=x sslmode=disable")
    assert "password authentication failed" in str(err.value)
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(f"host={host} port={port} dbname=postgres user={user} password={password} sslmode=disable")
    assert 'database "postgres" does not exist' in str(err.value)
    server_alive()


def test_cancel_stops_a_running_query(pg):
    """CancelRequest on a second connection ends the long query with query_canceled; the connection goes on."""
    threading.Timer(1.5, pg.cancel).start()
    started = time.perf_counter()
    with pytest.raises(psycopg.errors.QueryCanceled):
        pg.execute(RUNAWAY).fetchall()
    assert time.perf_counter() - started < 20
    assert pg.execute("SELECT 2").fetchone()[0] == 2


def test_statement_timeout_is_per_connection(pg):
    pg.execute("SET statement_timeout = '1s'")
    with pytest.raises(psycopg.errors.QueryCanceled):
        pg.execute(RUNAWAY).fetchall()
    pg.execute("SET statement_timeout = 0")
    assert pg.execute("SELECT 3").fetchone()[0] == 3


def test_a_dropped_connection_mid_result_leaves_the_server_running(dsn, pg):
    conn = psycopg.connect(dsn, autocommit=True)
    cur = conn.cursor()
    cur.execute("SELECT value FROM generate_series(1, 5000000)")
    cur.fetchmany(10)
    conn.pgconn.finish()  # the socket closes under the stream
    time.sleep(0.5)
    server_alive()
    assert pg.execute("SELECT 4").fetchone()[0] == 4


def test_dax_over_postgres(pg):
    rows = pg.execute('EVALUATE SUMMARIZECOLUMNS(Dim_Canal[Nom_Canal], "CA", [CA_Total]) ORDER BY Dim_Canal[Nom_Canal]').fetchall()
    plain = plain_by_canal(pg)
    assert [r[0] for r in rows] == ["Magasin", "Mobile", "Web"]
    assert all(abs(float(r[1]) - plain[r[0]]) < 0.01 for r in rows)


# ---------------------------------------------------------------- SQLAlchemy (postgresql dialect)


@pytest.fixture(scope="module")
def sa_engine(pg_addr, credentials):
    (host, port), (user, password) = pg_addr, credentials
    engine = sqlalchemy.create_engine(f"postgresql+psycopg2://{user}:{password}@{host}:{port}/omnimarket?sslmode=disable")
    yield engine
    engine.dispose()


def test_sqlalchemy_reflects_the_schema(sa_engine):
    insp = inspect(sa_engine)
    assert {"staging", "semantic", "raw"} <= set(insp.get_schema_names())
    assert "stg_ventes" in insp.get_table_names(schema="staging") or "stg_ventes" in insp.get_view_names(schema="staging")
    semantic = insp.get_view_names(schema="semantic") + insp.get_table_names(schema="semantic")
    assert "omnimarket" in semantic
    columns = {c["name"]: c for c in insp.get_columns("omnimarket", schema="semantic")}
    assert "Nom_Canal" in columns and "CA_Total" in columns
    assert columns["CA_Total"].get("comment") and "measure" in columns["CA_Total"]["comment"]


def test_sqlalchemy_semantic_query(sa_engine):
    with sa_engine.connect() as conn:
        rows = conn.execute(text(SEMANTIC)).fetchall()
        plain = {r[0]: float(r[1]) for r in conn.execute(text(PLAIN_BY_CANAL)).fetchall()}
    assert {r[0]: round(float(r[1]), 2) for r in rows} == {k: round(v, 2) for k, v in plain.items()}


# ---------------------------------------------------------------- psql


def psql(pg_addr, credentials, *args) -> str:
    (host, port), (user, password) = pg_addr, credentials
    env = dict(os.environ, PGPASSWORD=password, PGSSLMODE="disable", PGCONNECT_TIMEOUT="10")
    out = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user, "-d", "omnimarket", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.skipif(shutil.which("psql") is None and not os.environ.get("OMNIMARKET_CLIENTS_STRICT"), reason="psql is not installed")
def test_psql_meta_commands_and_queries(pg_addr, credentials):
    schemas = psql(pg_addr, credentials, "-c", r"\dn")
    assert "staging" in schemas and "semantic" in schemas
    tables = psql(pg_addr, credentials, "-c", r"\dt staging.*")
    assert "stg_ventes" in tables
    described = psql(pg_addr, credentials, "-c", r"\d semantic.omnimarket")
    assert "Nom_Canal" in described and "CA_Total" in described
    everything = psql(pg_addr, credentials, "-c", r"\d")
    assert "omnimarket" in everything
    semantic = psql(pg_addr, credentials, "-At", "-F", ",", "-c", SEMANTIC)
    plain = psql(pg_addr, credentials, "-At", "-F", ",", "-c", PLAIN_BY_CANAL)
    as_dict = lambda out: {l.split(",")[0]: round(float(l.split(",")[1]), 2) for l in out.strip().splitlines()}
    assert as_dict(semantic) == as_dict(plain) and len(as_dict(plain)) == 3


# ---------------------------------------------------------------- psqlODBC (ANSI) through pyodbc


@pytest.fixture()
def odbc(pg_addr, credentials):
    (host, port), (user, password) = pg_addr, credentials
    conn = pyodbc.connect(
        f"DRIVER={{PostgreSQL ANSI}};SERVER={host};PORT={port};DATABASE=omnimarket;UID={user};PWD={password};SSLmode=disable",
        autocommit=True,
        timeout=30,
    )
    # The ANSI driver returns bytes in the client encoding (UTF8 here); pyodbc would ask for UTF-16 otherwise,
    # which only the Unicode driver converts to (pyodbc's documented setting for psqlODBC ANSI).
    conn.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
    conn.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8")
    conn.setencoding(encoding="utf-8")
    yield conn
    conn.close()


def test_odbc_lists_tables_and_columns(odbc):
    tables = {(r.table_schem, r.table_name) for r in odbc.cursor().tables()}
    assert ("staging", "stg_ventes") in tables
    assert ("semantic", "omnimarket") in tables
    columns = {r.column_name: r for r in odbc.cursor().columns(table="omnimarket", schema="semantic")}
    assert "Nom_Canal" in columns and "CA_Total" in columns


def test_odbc_semantic_query_and_parameters(odbc):
    cur = odbc.cursor()
    rows = cur.execute(SEMANTIC).fetchall()
    plain = {r[0]: float(r[1]) for r in cur.execute(PLAIN_BY_CANAL).fetchall()}
    assert {r[0]: round(float(r[1]), 2) for r in rows} == {k: round(v, 2) for k, v in plain.items()}
    n = cur.execute("SELECT COUNT(*) FROM staging.stg_ventes WHERE ID_Canal = ?", 2).fetchone()[0]
    per_canal = cur.execute("SELECT COUNT(*) FROM staging.stg_ventes GROUP BY ID_Canal ORDER BY ID_Canal").fetchall()
    assert n == per_canal[1][0]


def test_odbc_fetches_a_million_rows(odbc):
    cur = odbc.cursor()
    started = time.perf_counter()
    cur.execute("SELECT value AS n FROM generate_series(1, 1000000)")
    n = 0
    while True:
        rows = cur.fetchmany(50_000)
        if not rows:
            break
        n += len(rows)
    elapsed = time.perf_counter() - started
    assert n == 1_000_000
    print(f"\nODBC: 1M rows in {elapsed:.2f} s = {n / elapsed:,.0f} rows/s")


# ---------------------------------------------------------------- pgJDBC


JDBC_JAR = Path("/usr/share/java/postgresql.jar")


@pytest.mark.skipif(not JDBC_JAR.exists() and not os.environ.get("OMNIMARKET_CLIENTS_STRICT"), reason="pgJDBC is not installed")
def test_jdbc_metadata_and_prepared_semantic_query(pg_addr, credentials, pg):
    (host, port), (user, password) = pg_addr, credentials
    with tempfile.TemporaryDirectory() as classes:
        subprocess.run(["javac", "-d", classes, "-cp", str(JDBC_JAR), str(HERE / "PgJdbcCheck.java")], check=True, timeout=120)
        out = subprocess.run(
            ["java", "-cp", f"{classes}:{JDBC_JAR}", "PgJdbcCheck", f"jdbc:postgresql://{host}:{port}/omnimarket?sslmode=disable", user, password],
            capture_output=True, text=True, timeout=120,
        )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
    assert "stg_ventes" in lines["tables"].split(",")
    assert "CA_Total" in lines["columns"].split(",")
    total_2024 = float(pg.execute(
        "SELECT SUM(v.Montant_TTC) FROM staging.stg_ventes v JOIN staging.stg_temps t ON v.ID_Date = t.ID_Date WHERE t.Annee = 2024"
    ).fetchone()[0])
    assert abs(float(lines["ca_2024"]) - total_2024) < 0.01


# ---------------------------------------------------------------- TLS


@pytest.mark.skipif(shutil.which("openssl") is None and not os.environ.get("OMNIMARKET_CLIENTS_STRICT"), reason="no openssl")
def test_tls_is_used_and_required(tmp_path, credentials):
    """A server of its own with a certificate: a verified TLS connection works; plain text is refused."""
    user, password = credentials
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    server = subprocess.Popen(
        [_need("OMNIMARKET_BIN"), "serve", "--data", _need("OMNIMARKET_DATA"), "--users", _need("OMNIMARKET_USERS"),
         "--pg", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = server.stdout.readline()
        assert "sslmode=require" in line, line
        port = int(line.split("postgresql://127.0.0.1:")[1].split("/")[0])
        base = f"host=127.0.0.1 port={port} dbname=omnimarket user={user} password={password}"
        with psycopg.connect(f"{base} sslmode=verify-full sslrootcert={cert}", autocommit=True) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT COUNT(*) FROM staging.stg_canaux").fetchone()[0] == 3
        with pytest.raises(psycopg.OperationalError) as err:
            psycopg.connect(f"{base} sslmode=disable")
        assert "requires TLS" in str(err.value)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_no_auth_only_on_loopback():
    out = subprocess.run(
        [_need("OMNIMARKET_BIN"), "serve", "--data", _need("OMNIMARKET_DATA"), "--no-auth", "--pg", "0.0.0.0:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "loopback" in out.stderr, out.stderr
    out = subprocess.run(
        [_need("OMNIMARKET_BIN"), "serve", "--data", _need("OMNIMARKET_DATA"), "--pg", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "--users" in out.stderr, out.stderr
