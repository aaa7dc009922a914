"""The server through ADBC's Flight SQL driver (the Go driver under Python's DB-API), as notebooks use it."""

import os

import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import pyarrow as pa
import pytest


@pytest.fixture()
def conn(uri, credentials):
    user, password = credentials
    c = flight_sql.connect(uri, db_kwargs={"username": user, "password": password})
    yield c
    c.close()


def test_wrong_password_is_refused(uri, credentials):
    user, _ = credentials
    with pytest.raises(adbc_driver_manager.Error) as err:
        c = flight_sql.connect(uri, db_kwargs={"username": user, "password": "not the password"})
        with c.cursor() as cur:
            cur.execute("SELECT 1")
    assert "UNAUTHENTICATED" in str(err.value).upper() or "invalid user name or password" in str(err.value)


def test_get_objects_lists_schemas_tables_and_columns(conn):
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    catalogs = {c["catalog_name"]: c for c in objects}
    assert "omnimarket" in catalogs
    schemas = {s["db_schema_name"]: s for s in catalogs["omnimarket"]["catalog_db_schemas"]}
    assert {"raw", "staging", "semantic"} <= set(schemas)
    model = {t["table_name"]: t for t in schemas["semantic"]["db_schema_tables"]}["omnimarket"]
    model_columns = [c["column_name"] for c in model["table_columns"]]
    assert "Nom_Canal" in model_columns and "CA_Total" in model_columns
    tables = {t["table_name"]: t for t in schemas["staging"]["db_schema_tables"]}
    assert "stg_ventes" in tables
    columns = [c["column_name"] for c in tables["stg_ventes"]["table_columns"]]
    assert "Montant_TTC" in columns and "ID_Canal" in columns


def test_table_schema_keeps_types(conn):
    schema = conn.adbc_get_table_schema("Dim_Temps", db_schema_filter="raw")
    assert pa.types.is_date32(schema.field("Date_Complete").type)
    assert schema.field("Saison_Commerciale").type == pa.string()


def test_plain_query_types_and_rows(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.Nom_Canal, COUNT(*) AS ventes, SUM(v.Montant_TTC) AS ca, MIN(v.Date_Vente) AS premiere "
            "FROM staging.stg_ventes v JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal GROUP BY c.Nom_Canal ORDER BY 1"
        )
        table = cur.fetch_arrow_table()
    assert table.num_rows == 3
    assert table.schema.field("Nom_Canal").type == pa.string()  # Utf8, not a string view
    assert pa.types.is_date32(table.schema.field("premiere").type)
    assert sum(table.column("ventes").to_pylist()) == 49_975


def test_prepared_query_with_a_parameter(conn):
    with conn.cursor() as cur:
        counts = []
        for canal in (1, 2, 3):
            cur.execute("SELECT COUNT(*) AS n FROM staging.stg_ventes WHERE ID_Canal = ?", parameters=(canal,))
            counts.append(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM staging.stg_ventes")
        assert sum(counts) == cur.fetchone()[0]
        assert all(n > 0 for n in counts)


def test_bad_sql_says_what_is_wrong(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as err:
            cur.execute("SELECT * FROM Dim_Clien")
        assert "INVALID_ARGUMENT" in str(err.value).upper() or "InvalidArgument" in str(err.value)
        assert "Dim_Client" in str(err.value)
        # The connection still works after the error.
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone()[0] == 1


def test_empty_result_has_columns(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT ID_Canal, Nom_Canal FROM Dim_Canal WHERE ID_Canal < 0")
        table = cur.fetch_arrow_table()
    assert table.num_rows == 0
    assert table.schema.names == ["ID_Canal", "Nom_Canal"]


def test_fetch_more_than_a_million_rows(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT v.ID_Vente, v.Date_Vente, v.Montant_TTC, c.Nom_Canal, n.value AS copie "
            "FROM base_ventes v JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal CROSS JOIN generate_series(1, 25) n"
        )
        table = cur.fetch_arrow_table()
    assert table.num_rows == 50_000 * 25
    assert table.schema.field("Nom_Canal").type == pa.string()


def test_semantic_query(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY 1 ORDER BY 1")
        table = cur.fetch_arrow_table()
        cur.execute("SELECT SUM(Montant_TTC) FROM staging.stg_ventes")
        plain = cur.fetchone()[0]
    assert table.column("Nom_Canal").to_pylist() == ["Magasin", "Mobile", "Web"]
    assert abs(sum(table.column("ca").to_pylist()) - plain) < 0.01


def test_prepared_semantic_query_with_parameters(conn):
    with conn.cursor() as cur:
        sql = "SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket WHERE Annee = ? GROUP BY 1 ORDER BY 1"
        cur.adbc_prepare(sql)
        by_year = {}
        for annee in (2023, 2024):
            cur.execute(sql, parameters=(annee,))
            by_year[annee] = cur.fetch_arrow_table()
        cur.execute(
            "SELECT SUM(v.Montant_TTC) FROM staging.stg_ventes v JOIN staging.stg_temps t ON v.ID_Date = t.ID_Date "
            "WHERE t.Annee = 2024"
        )
        plain_2024 = cur.fetchone()[0]
    assert by_year[2023].num_rows == 3 and by_year[2024].num_rows == 3
    assert abs(sum(by_year[2024].column("ca").to_pylist()) - plain_2024) < 0.01
    assert by_year[2023].column("ca").to_pylist() != by_year[2024].column("ca").to_pylist()


def test_semantic_table_describes_its_measures(conn):
    schema = conn.adbc_get_table_schema("omnimarket", db_schema_filter="semantic")
    ca = schema.field("CA_Total")
    assert ca.metadata[b"omnimarket.kind"] == b"measure"
    assert ca.metadata[b"omnimarket.folder"] == b"Ventes"
    assert b"SUM(Fait_Ventes[Montant_TTC])" in ca.metadata[b"omnimarket.expression"]
    assert schema.field("Nom_Canal").metadata[b"omnimarket.kind"] == b"attribute"


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 'x' AS a) TO '/tmp/omnimarket-adbc-attack.csv' STORED AS CSV",
        "CREATE EXTERNAL TABLE t (l VARCHAR) STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO staging.stg_canaux VALUES (1, 'Web', 'Online')",
        "DROP TABLE staging.stg_canaux",
        "SET datafusion.sql_parser.enable_ident_normalization = true",
    ],
)
def test_writes_are_permission_denied(conn, sql):
    """The attacks of the security review, as a notebook user would send them: refused, nothing changed."""
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) AS n FROM staging.stg_canaux")
        before = cur.fetch_arrow_table().column("n")[0].as_py()
        with pytest.raises(adbc_driver_manager.Error) as err:
            cur.execute(sql)
            cur.fetch_arrow_table()
        assert "PERMISSION_DENIED" in str(err.value).upper().replace(" ", "_") or "read-only" in str(err.value)
        cur.execute("SELECT COUNT(*) AS n FROM staging.stg_canaux")
        assert cur.fetch_arrow_table().column("n")[0].as_py() == before
        cur.execute("SELECT COUNT(Nom_Canal) AS n FROM Dim_Canal")
        assert cur.fetch_arrow_table().column("n")[0].as_py() == 3
    assert not os.path.exists("/tmp/omnimarket-adbc-attack.csv")


def test_a_deep_expression_is_an_error_and_the_server_lives_on(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as err:
            cur.execute("SELECT " + "+".join(["1"] * 3000))
            cur.fetch_arrow_table()
        assert "levels deep" in str(err.value)
        cur.execute("SELECT 1 AS one")
        assert cur.fetch_arrow_table().column("one")[0].as_py() == 1
