"""The server through flightsql-dbapi's SQLAlchemy dialect, the way Superset connects to Flight SQL."""

from urllib.parse import quote, urlparse

import pytest
import sqlalchemy as sa


@pytest.fixture()
def engine(uri, credentials):
    user, password = credentials
    parsed = urlparse(uri)
    url = f"datafusion://{quote(user)}:{quote(password)}@{parsed.hostname}:{parsed.port}?insecure=true"
    e = sa.create_engine(url)
    yield e
    e.dispose()


def test_query(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.Nom_Canal, SUM(v.Montant_TTC) AS ca FROM staging.stg_ventes v "
                "JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal GROUP BY c.Nom_Canal ORDER BY ca DESC"
            )
        ).fetchall()
    assert len(rows) == 3
    assert {r[0] for r in rows} == {"Web", "Mobile", "Magasin"}


def test_inspector_lists_schemas_tables_and_columns(engine):
    inspector = sa.inspect(engine)
    assert {"raw", "staging"} <= set(inspector.get_schema_names())
    assert "stg_ventes" in inspector.get_table_names(schema="staging")
    columns = {c["name"] for c in inspector.get_columns("stg_clients", schema="staging")}
    assert {"ID_Client", "Ville"} <= columns


def test_wrong_password_is_refused(uri, credentials):
    user, _ = credentials
    parsed = urlparse(uri)
    # The dialect hand-shakes as soon as the engine is created.
    with pytest.raises(Exception) as err:
        e = sa.create_engine(f"datafusion://{quote(user)}:wrong@{parsed.hostname}:{parsed.port}?insecure=true")
        with e.connect() as conn:
            conn.execute(sa.text("SELECT 1")).fetchall()
    assert "nauthenticated" in str(err.value) or "invalid user name or password" in str(err.value)
