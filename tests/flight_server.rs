//! The Flight SQL server through arrow-flight's own client, with the server started in-process on a free
//! loopback port: statements, prepared statements with parameters, metadata, auth, TLS, cancellation.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, CommandStatementQuery, ProstMessageExt, SqlInfo};
use arrow_flight::{FlightDescriptor, FlightInfo};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;
use omnimarket::engine::Engine;
use omnimarket::flight::auth::{Authenticator, Users, hash_password};
use omnimarket::flight::{RunningServer, ServerConfig, TlsFiles};
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

fn engine() -> Engine {
    let project = omnimarket::project::Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data());
    Engine::open(&project).expect("engine")
}

async fn start(auth: Authenticator, tls: Option<TlsFiles>) -> RunningServer {
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls, auth: Arc::new(auth) };
    omnimarket::flight::start(engine(), config, std::future::pending()).await.expect("server starts")
}

fn users(ttl: Duration) -> Authenticator {
    let text = format!("alice:{}\n", hash_password("wonderland").expect("hash"));
    Authenticator::with_users(Users::parse("users", &text).expect("users"), ttl)
}

async fn connect(server: &RunningServer) -> FlightSqlServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr)).expect("uri").connect().await.expect("connect");
    FlightSqlServiceClient::new(channel)
}

async fn fetch(client: &mut FlightSqlServiceClient<Channel>, info: FlightInfo) -> (Arc<Schema>, Vec<RecordBatch>) {
    let mut batches = Vec::new();
    let mut schema = Arc::new(info.clone().try_decode_schema().expect("schema in FlightInfo"));
    for ep in info.endpoint {
        let mut stream = client.do_get(ep.ticket.expect("ticket")).await.expect("do_get");
        while let Some(b) = stream.next().await {
            batches.push(b.expect("batch"));
        }
        if let Some(s) = stream.schema() {
            schema = s.clone();
        }
    }
    (schema, batches)
}

async fn query(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> (Arc<Schema>, Vec<RecordBatch>) {
    let info = client.execute(sql.to_string(), None).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    fetch(client, info).await
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// The raw gRPC status of GetFlightInfo for a statement (the SQL client folds statuses into strings).
async fn statement_status(client: &mut FlightSqlServiceClient<Channel>, sql: &str, token: Option<&str>) -> tonic::Status {
    let cmd = CommandStatementQuery { query: sql.into(), transaction_id: None };
    let mut req = tonic::Request::new(FlightDescriptor::new_cmd(cmd.as_any().encode_to_vec()));
    if let Some(t) = token {
        req.metadata_mut().insert("authorization", format!("Bearer {t}").parse().expect("header"));
    }
    client.inner_mut().get_flight_info(req).await.expect_err("the call fails")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_stream_with_plain_types() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    let (schema, batches) = query(
        &mut client,
        "SELECT c.Nom_Canal, COUNT(*) AS ventes, SUM(v.Montant_TTC) AS ca, MIN(v.Date_Vente) AS premiere
         FROM staging.stg_ventes v JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal GROUP BY c.Nom_Canal ORDER BY 1",
    )
    .await;
    assert_eq!(rows(&batches), 3);
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
    assert_eq!(schema.field(3).data_type(), &DataType::Date32, "dates keep their type");
    let names = batches[0].column(0).as_any().downcast_ref::<StringArray>().expect("plain Utf8 on the wire");
    assert_eq!(names.value(0), "Magasin");
    let total: i64 = batches.iter().map(|b| b.column(1).as_any().downcast_ref::<Int64Array>().expect("i64").iter().flatten().sum::<i64>()).sum();
    assert_eq!(total, 49_975);

    // A Utf8View produced inside the query still leaves as Utf8.
    let (schema, _) = query(&mut client, "SELECT arrow_cast(Nom_Canal, 'Utf8View') AS v FROM Dim_Canal").await;
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);

    // An empty result still carries its schema.
    let (schema, batches) = query(&mut client, "SELECT ID_Canal, Nom_Canal FROM Dim_Canal WHERE ID_Canal < 0").await;
    assert_eq!(rows(&batches), 0);
    assert_eq!(schema.fields().len(), 2);
    assert_eq!(schema.field(1).name(), "Nom_Canal");

    // Many batches: 50,000 sales stream through.
    let (_, batches) = query(&mut client, "SELECT * FROM base_ventes").await;
    assert_eq!(rows(&batches), 50_000);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_invalid_argument_and_the_server_keeps_running() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    let s = statement_status(&mut client, "SELEC 1", None).await;
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    let s = statement_status(&mut client, "SELECT * FROM Dim_Clien", None).await;
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    assert!(s.message().contains("did you mean `Dim_Client`"), "{}", s.message());
    let s = statement_status(&mut client, "SELECT Montant_HTX FROM base_ventes", None).await;
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    let (_, batches) = query(&mut client, "SELECT 1 AS one").await;
    assert_eq!(rows(&batches), 1);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_bind_parameters_statelessly() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    let mut stmt =
        client.prepare("SELECT COUNT(*) AS n FROM base_ventes WHERE ID_Canal = ? AND Montant_TTC > ?".into(), None).await.expect("prepare");
    assert_eq!(stmt.parameter_schema().expect("params").fields().len(), 2);
    let params = |canal: i32, min: f64| {
        let schema = Arc::new(Schema::new(vec![Field::new("p1", DataType::Int32, false), Field::new("p2", DataType::Float64, false)]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(datafusion::arrow::array::Int32Array::from(vec![canal])),
                Arc::new(datafusion::arrow::array::Float64Array::from(vec![min])),
            ],
        )
        .expect("batch")
    };
    let mut counts = Vec::new();
    for canal in 1..=3 {
        stmt.set_parameters(params(canal, 0.0)).expect("bind");
        let info = stmt.execute().await.expect("execute");
        let (_, batches) = fetch(&mut client, info).await;
        counts.push(batches[0].column(0).as_any().downcast_ref::<Int64Array>().expect("count").value(0));
    }
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    let (_, all) = query(&mut client, "SELECT COUNT(*) FROM base_ventes WHERE Montant_TTC > 0").await;
    let total = all[0].column(0).as_any().downcast_ref::<Int64Array>().expect("count").value(0);
    assert_eq!(counts.iter().sum::<i64>(), total);

    // A wrong parameter type is the caller's mistake.
    let bad = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("p1", DataType::Utf8, false), Field::new("p2", DataType::Float64, false)])),
        vec![Arc::new(StringArray::from(vec!["not a number"])), Arc::new(datafusion::arrow::array::Float64Array::from(vec![1.0]))],
    )
    .expect("batch");
    stmt.set_parameters(bad).expect("bind");
    let err = stmt.execute().await.expect_err("rejected");
    assert!(err.to_string().contains("InvalidArgument") || err.to_string().contains("parameter"), "{err}");
    stmt.close().await.expect("close");

    // Concurrent executions of the same statement, each with its own parameters, do not mix.
    let mut tasks = Vec::new();
    for canal in 1..=3 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let channel = Endpoint::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect");
            let mut client = FlightSqlServiceClient::new(channel);
            let mut stmt =
                client.prepare("SELECT COUNT(*) FROM base_ventes WHERE ID_Canal = $1 AND Montant_TTC > $2".into(), None).await.expect("prepare");
            let mut seen = Vec::new();
            for _ in 0..5 {
                stmt.set_parameters(params(canal, 0.0)).expect("bind");
                let info = stmt.execute().await.expect("execute");
                let (_, b) = fetch(&mut client, info).await;
                seen.push(b[0].column(0).as_any().downcast_ref::<Int64Array>().expect("count").value(0));
            }
            seen
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let seen = t.await.expect("task");
        assert!(seen.iter().all(|&n| n == counts[i]), "canal {}: {seen:?} vs {}", i + 1, counts[i]);
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_outlives_its_server() {
    // Stateless handles: a statement prepared on one server executes on another (a restart, a replica).
    let first = start(Authenticator::none(), None).await;
    let mut client = connect(&first).await;
    let handle = prepare_raw(&mut client, "SELECT Nom_Canal FROM Dim_Canal ORDER BY ID_Canal").await;
    let cmd = arrow_flight::sql::CommandPreparedStatementQuery { prepared_statement_handle: handle };
    first.stop().await.expect("stops");
    let second = start(Authenticator::none(), None).await;
    let mut client = connect(&second).await;
    let info = client.inner_mut().get_flight_info(FlightDescriptor::new_cmd(cmd.as_any().encode_to_vec())).await.expect("info").into_inner();
    let (_, batches) = fetch(&mut client, info).await;
    assert_eq!(rows(&batches), 3);
    second.stop().await.expect("stops");
}

/// CreatePreparedStatement through the raw action, to get at the handle the typed client keeps private.
async fn prepare_raw(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> bytes::Bytes {
    let req = arrow_flight::sql::ActionCreatePreparedStatementRequest { query: sql.into(), transaction_id: None };
    let action = arrow_flight::Action { r#type: "CreatePreparedStatement".into(), body: req.as_any().encode_to_vec().into() };
    let mut results = client.do_action(action).await.expect("prepare");
    let result = results.message().await.expect("reply").expect("one result");
    let any = arrow_flight::sql::Any::decode(&*result.body).expect("Any");
    let prepared: arrow_flight::sql::ActionCreatePreparedStatementResult = any.unpack().expect("unpack").expect("a result");
    prepared.prepared_statement_handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;

    let info = client.get_catalogs().await.expect("catalogs");
    let (_, b) = fetch(&mut client, info).await;
    assert_eq!(b[0].column(0).as_any().downcast_ref::<StringArray>().expect("names").value(0), "omnimarket");

    let info = client.get_db_schemas(CommandGetDbSchemas { catalog: None, db_schema_filter_pattern: None }).await.expect("schemas");
    let (_, b) = fetch(&mut client, info).await;
    let schemas: Vec<String> = b[0].column(1).as_any().downcast_ref::<StringArray>().expect("names").iter().flatten().map(String::from).collect();
    assert!(schemas.contains(&"raw".to_string()) && schemas.contains(&"staging".to_string()), "{schemas:?}");
    assert!(!schemas.contains(&"information_schema".to_string()));

    // GetTables with a null catalog filter and include_schema, as ADBC's get_objects sends it.
    let info = client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("staging".into()),
            table_name_filter_pattern: Some("stg\\_v%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .expect("tables");
    let (_, b) = fetch(&mut client, info).await;
    assert_eq!(rows(&b), 1);
    let table = b[0].column(2).as_any().downcast_ref::<StringArray>().expect("names").value(0).to_string();
    assert_eq!(table, "stg_ventes");
    let ipc = b[0].column(4).as_any().downcast_ref::<datafusion::arrow::array::BinaryArray>().expect("schema bytes").value(0).to_vec();
    let schema = arrow_flight::IpcMessage(ipc.into());
    let schema = Schema::try_from(schema).expect("IPC schema");
    assert!(schema.field_with_name("Montant_TTC").is_ok(), "{schema:?}");

    let info = client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: None,
            table_name_filter_pattern: None,
            table_types: vec![],
            include_schema: false,
        })
        .await
        .expect("tables");
    let (_, b) = fetch(&mut client, info).await;
    assert!(rows(&b) >= 15 + 4, "raw sources and staging models: {}", rows(&b));

    let info = client.get_table_types().await.expect("types");
    assert_eq!(rows(&fetch(&mut client, info).await.1), 2);

    let info = client.get_sql_info(vec![SqlInfo::FlightSqlServerName, SqlInfo::FlightSqlServerReadOnly]).await.expect("sql info");
    assert_eq!(rows(&fetch(&mut client, info).await.1), 2);

    let info = client.get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None }).await.expect("xdbc");
    assert!(rows(&fetch(&mut client, info).await.1) >= 6);

    let info = client
        .get_primary_keys(CommandGetPrimaryKeys { catalog: None, db_schema: Some("staging".into()), table: "stg_ventes".into() })
        .await
        .expect("primary keys");
    let (schema, b) = fetch(&mut client, info).await;
    assert_eq!(schema.field(5).name(), "key_sequence");
    assert_eq!(column(&b, 3), vec!["ID_Vente"], "the model's primary key");

    // The model's relationships as foreign keys between the tables it reads.
    let info = client
        .get_imported_keys(arrow_flight::sql::CommandGetImportedKeys { catalog: None, db_schema: Some("staging".into()), table: "stg_ventes".into() })
        .await
        .expect("imported keys");
    let (_, b) = fetch(&mut client, info).await;
    let pairs: Vec<String> = column(&b, 2).into_iter().zip(column(&b, 7)).map(|(t, c)| format!("{c}->{t}")).collect();
    assert!(pairs.contains(&"ID_Canal->stg_canaux".to_string()) && pairs.contains(&"ID_Client->stg_clients".to_string()), "{pairs:?}");
    let info = client
        .get_exported_keys(arrow_flight::sql::CommandGetExportedKeys { catalog: None, db_schema: Some("staging".into()), table: "stg_canaux".into() })
        .await
        .expect("exported keys");
    let (_, b) = fetch(&mut client, info).await;
    let referencing = column(&b, 6);
    assert!(referencing.contains(&"stg_ventes".to_string()) && referencing.contains(&"stg_trafic".to_string()), "{referencing:?}");
    server.stop().await.expect("stops");
}

fn column(batches: &[RecordBatch], i: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.column(i).as_any().downcast_ref::<StringArray>().expect("text").iter().flatten().map(String::from).collect::<Vec<_>>())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_sql_statements_and_prepared() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    let (schema, batches) = query(&mut client, "SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY 1 ORDER BY 1").await;
    assert_eq!(rows(&batches), 3);
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
    // The same figure as plain SQL over the cleaned sales.
    let (_, plain) = query(&mut client, "SELECT SUM(Montant_TTC) FROM staging.stg_ventes").await;
    let total = |b: &[RecordBatch], col: usize| -> f64 {
        b.iter()
            .map(|b| {
                let c = datafusion::arrow::compute::cast(b.column(col), &DataType::Float64).expect("cast");
                datafusion::arrow::compute::sum(c.as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().expect("f64")).unwrap_or(0.0)
            })
            .sum()
    };
    assert!((total(&batches, 1) - total(&plain, 0)).abs() < 0.01, "{} vs {}", total(&batches, 1), total(&plain, 0));

    // Placeholders survive compilation: the statement plans at prepare time, so its result and parameter
    // types are known before anything is bound (JDBC asks for them), and each bound row runs once.
    let mut stmt = client
        .prepare("SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket WHERE Nom_Canal = ? AND Annee >= ? GROUP BY 1 ORDER BY 1".into(), None)
        .await
        .expect("prepare semantic");
    let names = |s: &Schema| s.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
    assert_eq!(names(stmt.dataset_schema().expect("dataset schema")), ["Nom_Canal", "ca"]);
    let params = stmt.parameter_schema().expect("parameter schema").clone();
    assert_eq!(names(&params), ["$1", "$2"]);
    assert_eq!(params.field(0).data_type(), &DataType::Utf8);
    assert!(params.field(1).data_type().is_integer(), "{params:?}");
    let p = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("canal", DataType::Utf8, false), Field::new("annee", DataType::Int64, false)])),
        vec![Arc::new(StringArray::from(vec!["Web", "Magasin"])), Arc::new(Int64Array::from(vec![0, 0]))],
    )
    .expect("batch");
    stmt.set_parameters(p).expect("bind");
    let info = stmt.execute().await.expect("execute");
    let (_, b) = fetch(&mut client, info).await;
    assert_eq!(column(&b, 0), vec!["Web", "Magasin"]);
    let (_, plain) = query(
        &mut client,
        "SELECT SUM(v.Montant_TTC) FROM staging.stg_ventes v JOIN staging.stg_canaux c USING (ID_Canal) WHERE c.Nom_Canal IN ('Web', 'Magasin')",
    )
    .await;
    assert!((total(&b, 1) - total(&plain, 0)).abs() < 0.01, "{} vs {}", total(&b, 1), total(&plain, 0));

    let s = statement_status(&mut client, "SELECT Nom_Canal, MEASURE(CA_Totl) FROM omnimarket GROUP BY 1", None).await;
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_handshake_tokens_and_their_expiry() {
    let server = start(users(Duration::from_secs(3600)), None).await;
    let mut client = connect(&server).await;

    let s = statement_status(&mut client, "SELECT 1", None).await;
    assert_eq!(s.code(), tonic::Code::Unauthenticated);
    assert!(s.message().contains("hand-shake"), "{}", s.message());

    let err = client.handshake("alice", "wrong").await.expect_err("refused");
    assert!(err.to_string().contains("invalid user name or password"), "{err}");
    let err = client.handshake("mallory", "wonderland").await.expect_err("refused");
    assert!(err.to_string().contains("valid authentication credentials"), "Unauthenticated: {err}");

    client.handshake("alice", "wonderland").await.expect("logged in");
    let token = client.token().cloned().expect("a bearer token");
    let (_, b) = query(&mut client, "SELECT 1 AS one").await;
    assert_eq!(rows(&b), 1);
    let s = statement_status(&mut client, "SELECT 1", Some("forged")).await;
    assert_eq!(s.code(), tonic::Code::Unauthenticated);
    // Bad SQL from an authenticated user is still the user's mistake, not an auth failure.
    let s = statement_status(&mut client, "SELEC 1", Some(&token)).await;
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    server.stop().await.expect("stops");

    let server = start(users(Duration::from_millis(300)), None).await;
    let mut client = connect(&server).await;
    client.handshake("alice", "wonderland").await.expect("logged in");
    let token = client.token().cloned().expect("token");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = statement_status(&mut client, "SELECT 1", Some(&token)).await;
    assert_eq!(s.code(), tonic::Code::Unauthenticated);
    assert!(s.message().contains("expired"), "{}", s.message());
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_stops_its_query() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    // Ten billion rows: only cancellation ends this query in test time.
    let info = client
        .execute("SELECT a.value * b.value AS v FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b".into(), None)
        .await
        .expect("planned");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut stream = client.do_get(ticket).await.expect("do_get");
    let first = stream.next().await.expect("a batch").expect("ok");
    assert!(first.num_rows() > 0);
    assert_eq!(server.active.count(), 1);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.active.count() > 0 {
        assert!(Instant::now() < deadline, "the query still runs 10 s after the client left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the server still answers.
    let (_, b) = query(&mut client, "SELECT 1 AS one").await;
    assert_eq!(rows(&b), 1);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no openssl to make a test certificate ({made:?})");
        return;
    }
    let server = start(users(Duration::from_secs(60)), Some(TlsFiles { cert: cert.clone(), key })).await;
    let pem = std::fs::read_to_string(&cert).expect("cert");
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)).domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://localhost:{}", server.addr.port()))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("TLS connect");
    let mut client = FlightSqlServiceClient::new(channel);
    client.handshake("alice", "wonderland").await.expect("logged in over TLS");
    let (_, b) = query(&mut client, "SELECT Nom_Canal FROM Dim_Canal").await;
    assert_eq!(rows(&b), 3);

    // A plain-text client cannot talk to it.
    let plain = Endpoint::from_shared(format!("http://{}", server.addr)).expect("uri").connect().await;
    if let Ok(ch) = plain {
        let mut c = FlightSqlServiceClient::new(ch);
        assert!(c.handshake("alice", "wonderland").await.is_err());
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_accepts_a_handshake_without_credentials() {
    let server = start(Authenticator::none(), None).await;
    let mut client = connect(&server).await;
    client.handshake("anyone", "anything").await.expect("accepted");
    let (_, b) = query(&mut client, "SELECT 1 AS one").await;
    assert_eq!(rows(&b), 1);
    server.stop().await.expect("stops");
}

/// A table served from its snapshot leaves in normal-sized Flight messages (one per stored batch of
/// thousands of rows), not cut into hundreds of tiny ones: the batches read back from the cache own buffers
/// sized to them, and Arrow sizes a batch by its buffers' allocations (apache/arrow-rs#3407). The bytes sent
/// stay near the snapshot's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_table_streams_in_normal_sized_messages() {
    const ROWS: usize = 100_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (project, data) = (tmp.path().join("project"), tmp.path().join("data"));
    for d in [project.join("semantic"), project.join("sql"), data.clone()] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(project.join("semantic/sources.yaml"), "sources:\n  - name: lignes\n    location: lignes.csv\n").expect("write");
    // Sixteen columns, so that a batch whose columns shared one allocation would count sixteen times its size.
    let extra: Vec<String> = (1..=13).map(|k| format!("id * {k} AS c{k}")).collect();
    let model = format!("SELECT id, libelle, montant, {} FROM {{{{ source('lignes') }}}}", extra.join(", "));
    std::fs::write(project.join("sql/stg_lignes.sql"), model).expect("write");
    let mut csv = String::from("id,libelle,montant\n");
    for i in 0..ROWS {
        csv.push_str(&format!("{i},article {},{}.{:02}\n", i % 977, i % 5000, i % 100));
    }
    std::fs::write(data.join("lignes.csv"), csv).expect("write");

    let open = || omnimarket::project::Project::new(&project, &data);
    // The first start builds the model and writes its snapshot; the second serves it from the cache.
    let (ctx, _) = open().session().expect("session");
    ctx.sql("SELECT COUNT(*) FROM staging.stg_lignes").await.expect("plan").collect().await.expect("build");
    let (_, _, staging) = open().open().expect("open");
    let entry = staging.cache().expect("cache on").entry_path("stg_lignes");
    let snapshot_bytes = std::fs::metadata(&entry).expect("snapshot written").len() as usize;
    let engine = Engine::open(&open()).expect("engine");
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(Authenticator::none()) };
    let server = omnimarket::flight::start(engine, config, std::future::pending()).await.expect("server starts");
    let mut client = connect(&server).await;
    let info = client.execute("SELECT * FROM staging.stg_lignes".into(), None).await.expect("execute");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut stream = client.inner_mut().do_get(ticket).await.expect("do_get").into_inner();
    let (mut messages, mut body_bytes) = (0usize, 0usize);
    let mut decoded = Vec::new();
    let mut data_messages = Vec::new();
    while let Some(m) = stream.next().await {
        let m = m.expect("message");
        messages += 1;
        body_bytes += m.data_body.len() + m.data_header.len();
        if !m.data_body.is_empty() {
            data_messages.push(m.clone());
        }
        decoded.push(m);
    }
    let batches = arrow_flight::utils::flight_data_to_batches(&decoded).expect("decode");
    assert_eq!(rows(&batches), ROWS);
    // 100,000 rows in 8,192-row batches of about 1 MB: 13 batches, so about 13 data messages.
    assert!(data_messages.len() <= 16, "{} data messages ({messages} in all) for {ROWS} rows", data_messages.len());
    assert!(ROWS / data_messages.len() >= 5_000, "{} rows per message", ROWS / data_messages.len());
    assert!(body_bytes < 2 * snapshot_bytes, "{body_bytes} bytes sent for a {snapshot_bytes}-byte snapshot");
}
