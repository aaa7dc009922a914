//! The semantic SQL surface as BI tools and analysts write it, and the errors a model or a query gets.

mod semantic_fixture;

use omnimarket::engine::Engine;
use omnimarket::model::load::{BUNDLED_MEASURES, BUNDLED_MODEL, load_project};
use semantic_fixture::{assert_rows, fixture, fixture_context, semantic};

#[tokio::test]
async fn bi_tool_sql_quoted_names_aggregates_positions_and_limits() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT \"Nom_Canal\", SUM(\"CA_Total\") AS \"SUM(CA_Total)\" FROM \"semantic\".\"omnimarket\" GROUP BY \"Nom_Canal\" ORDER BY \"SUM(CA_Total)\" DESC LIMIT 10000",
    )
    .await;
    assert_rows(&got, &[&["Web", "936"], &["Magasin", "360"], &["Mobile", "360"]]);
    // GROUP BY position, a bare measure name as a column, no alias.
    let got = semantic(&e, "SELECT Annee, CA_Total FROM omnimarket GROUP BY 1").await;
    assert_rows(&got, &[&["2023", "996"], &["2024", "660"]]);
    // No GROUP BY: the named attributes are grouped by.
    let got = semantic(&e, "SELECT Annee, MEASURE(Nb_Transactions) FROM semantic.omnimarket WHERE Annee = 2024").await;
    assert_rows(&got, &[&["2024", "5"]]);
    // HAVING and ORDER BY on measures (one not selected), LIMIT with OFFSET.
    let got = semantic(
        &e,
        "SELECT Nom_Produit, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY Nom_Produit HAVING MEASURE(CA_Total) > 100 ORDER BY MEASURE(Nb_Transactions) DESC, Nom_Produit LIMIT 2 OFFSET 1",
    )
    .await;
    // Transactions: Alpha 6, Beta 3, Gamma 2.
    assert_rows(&got, &[&["Beta", "720"], &["Gamma", "120"]]);
}

#[tokio::test]
async fn a_semantic_query_inside_ordinary_sql() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "WITH s AS (SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY Nom_Canal) \
         SELECT c.\"Type\", SUM(s.ca) FROM s JOIN omnimarket.staging.stg_canaux c ON c.\"Nom_Canal\" = s.Nom_Canal GROUP BY c.\"Type\" ORDER BY 1",
    )
    .await;
    assert_rows(&got, &[&["Offline", "360"], &["Online", "1296"]]);
    // Two semantic blocks in one statement, joined.
    let got = semantic(
        &e,
        "SELECT a.Annee, a.ca, b.n FROM (SELECT Annee, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY Annee) a \
         JOIN (SELECT Annee, MEASURE(Nb_Sessions) AS n FROM omnimarket GROUP BY Annee) b ON a.Annee = b.Annee ORDER BY a.Annee",
    )
    .await;
    assert_rows(&got, &[&["2023", "996", "4"], &["2024", "660", "4"]]);
    // Plain SQL still runs as written.
    let got = semantic(&e, "SELECT COUNT(*) FROM omnimarket.staging.stg_ventes").await;
    assert_rows(&got, &[&["11"]]);
}

async fn query_error(e: &Engine, sql: &str) -> String {
    match e.sql(sql).await {
        Ok(df) => match df.collect().await {
            Ok(_) => panic!("{sql} should fail"),
            Err(err) => err.to_string(),
        },
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn query_errors_name_the_problem_and_suggest() {
    let e = fixture().await;
    let err = query_error(&e, "SELECT Nom_Canl, MEASURE(CA_Total) FROM omnimarket GROUP BY Nom_Canl").await;
    assert!(err.contains("unknown attribute or measure `Nom_Canl`; did you mean `Nom_Canal`?"), "{err}");
    let err = query_error(&e, "SELECT MEASURE(CA_Totl) FROM omnimarket").await;
    assert!(err.contains("unknown measure `CA_Totl`; did you mean `CA_Total`?"), "{err}");
    let err = query_error(&e, "SELECT MEASURE(CA_Total) FROM omnimarket WHERE Anne = 2024").await;
    assert!(err.contains("unknown attribute `Anne`; did you mean `Annee`?"), "{err}");
    let err = query_error(&e, "SELECT MEASURE(CA_Total) FROM omnimarket WHERE CA_Total > 5").await;
    assert!(err.contains("is a measure; filter on it with HAVING"), "{err}");
    let err = query_error(&e, "SELECT * FROM omnimarket").await;
    assert!(err.contains("SELECT * is not supported"), "{err}");
    let err = query_error(&e, "SELECT MEASURE(CA_Total) FROM omnimarket WHERE Annee = 2024 OR Nom_Canal = 'Web'").await;
    assert!(err.contains("combines attributes of `Dim_Temps` and `Dim_Canal`"), "{err}");
    let err = query_error(&e, "SELECT Annee, MEASURE(CA_Total) FROM omnimarket GROUP BY Mois").await;
    assert!(err.contains("`Annee` is selected but not in GROUP BY"), "{err}");
}

/// The bundled model files with one text replaced, in a temporary project.
fn variant(model_from: &str, model_to: &str, measures_from: &str, measures_to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let sem = dir.path().join("semantic");
    std::fs::create_dir_all(&sem).expect("mkdir");
    assert!(BUNDLED_MODEL.contains(model_from) && BUNDLED_MEASURES.contains(measures_from), "the test's anchor text exists");
    std::fs::write(sem.join("model.yaml"), BUNDLED_MODEL.replacen(model_from, model_to, 1)).expect("write");
    std::fs::write(sem.join("measures.yaml"), BUNDLED_MEASURES.replacen(measures_from, measures_to, 1)).expect("write");
    dir
}

fn load_error(dir: &tempfile::TempDir) -> String {
    load_project(dir.path()).expect_err("the model is rejected").to_string()
}

/// The errors of the model's invalid measures: binding succeeds, the other measures stay usable.
async fn bind_error(dir: &tempfile::TempDir) -> String {
    let model = load_project(dir.path()).expect("loads");
    let e = Engine::with_context(fixture_context().await, model);
    let bm = e.bound_model().await.expect("one invalid measure does not stop the model");
    assert!(!bm.invalid.is_empty(), "a measure is reported invalid");
    bm.invalid.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// An error of binding the model to the data (columns, keys): the whole model is refused.
async fn data_bind_error(dir: &tempfile::TempDir) -> String {
    let model = load_project(dir.path()).expect("loads");
    let e = Engine::with_context(fixture_context().await, model);
    e.bound_model().await.expect_err("binding fails").to_string()
}

#[tokio::test]
async fn unknown_names_in_dax_point_at_the_text_and_suggest() {
    let dir = variant("", "", "DIVIDE([CA_Total], [Nb_Transactions], 0)", "DIVIDE([CA_Totl], [Nb_Transactions], 0)");
    let err = bind_error(&dir).await;
    assert!(err.contains("measures.yaml:"), "{err}");
    assert!(err.contains("measure `Panier_Moyen`: unknown measure `[CA_Totl]`; did you mean `CA_Total`?"), "{err}");
    assert!(err.contains("DIVIDE([CA_Totl]") && err.contains('^'), "shows the line and a caret: {err}");
    let line = BUNDLED_MEASURES.lines().position(|l| l.contains("DIVIDE([CA_Total], [Nb_Transactions], 0)")).expect("line") + 1;
    assert!(err.contains(&format!("measures.yaml:{line}:")), "line {line}: {err}");
    // One bad measure stays one bad measure: the others answer, a query of the bad one names its error.
    let model = load_project(dir.path()).expect("loads");
    let e = Engine::with_context(fixture_context().await, model);
    assert_rows(&semantic(&e, "SELECT MEASURE(CA_Total), MEASURE(Nb_Transactions) FROM omnimarket").await, &[&["1656", "11"]]);
    let err = query_error(&e, "SELECT MEASURE(Panier_Moyen) FROM omnimarket").await;
    assert!(err.contains("measure `Panier_Moyen` is invalid") && err.contains("unknown measure `[CA_Totl]`"), "{err}");
    // A measure built on the bad one is invalid too, and says why.
    let err = query_error(&e, "SELECT MEASURE(CA_Potentiel_Perdu) FROM omnimarket").await;
    assert!(err.contains("measure `CA_Potentiel_Perdu` is invalid") && err.contains("measure `Panier_Moyen`: unknown measure `[CA_Totl]`"), "{err}");

    let dir = variant("", "", "SUM(Fait_Ventes[Montant_HT])", "SUM(Fait_Vente[Montant_HT])");
    assert!(bind_error(&dir).await.contains("unknown table `Fait_Vente`; did you mean `Fait_Ventes`?"));
    let dir = variant("", "", "SUM(Fait_Ventes[Montant_HT])", "SUM(Fait_Ventes[Montant_TH])");
    assert!(bind_error(&dir).await.contains("unknown column `Fait_Ventes[Montant_TH]`; did you mean `Montant_HT`?"));
    let dir = variant("", "", "\"COUNTROWS(Fait_Ventes)\"", "\"COUNTROW(Fait_Ventes)\"");
    assert!(bind_error(&dir).await.contains("unsupported function `COUNTROW`; did you mean `COUNTROWS`?"));
}

#[tokio::test]
async fn cycles_and_type_errors_are_rejected() {
    let dir = variant("", "", "dax: \"SUM(Fait_Ventes[Quantite])\"", "dax: \"[Marge_Totale] + 1\"");
    // Quantite_Vendue -> Marge_Totale is fine; make Marge_Totale refer back.
    let text = std::fs::read_to_string(dir.path().join("semantic/measures.yaml")).expect("read");
    std::fs::write(dir.path().join("semantic/measures.yaml"), text.replacen("\"SUM(Fait_Ventes[Marge])\"", "\"[Quantite_Vendue] * 2\"", 1))
        .expect("write");
    let err = bind_error(&dir).await;
    assert!(err.contains("cycle: Quantite_Vendue → Marge_Totale → Quantite_Vendue"), "{err}");

    let dir = variant("", "", "SUM(Fait_Ventes[Montant_HT])", "SUM(Dim_Produit[Nom_Produit])");
    let err = bind_error(&dir).await;
    assert!(err.contains("SUM needs a numeric column; `Dim_Produit[Nom_Produit]` is Utf8"), "{err}");
}

#[tokio::test]
async fn relationship_errors_two_paths_missing_keys_duplicate_keys() {
    // A second path from Referentiel_Geo to Fait_Ventes of the same length (through Dim_Canal).
    let dir = variant(
        "  - { one: \"Referentiel_Geo[Ville]\", many: \"Dim_Client[Ville]\" }\n",
        "  - { one: \"Referentiel_Geo[Ville]\", many: \"Dim_Client[Ville]\" }\n  - { one: \"Referentiel_Geo[Ville]\", many: \"Dim_Canal[Nom_Canal]\" }\n",
        "",
        "",
    );
    let err = load_error(&dir);
    assert!(err.contains("two active paths between `Referentiel_Geo` and `Fait_Ventes`"), "{err}");
    assert!(err.contains("Referentiel_Geo → Dim_Client → Fait_Ventes") && err.contains("Referentiel_Geo → Dim_Canal → Fait_Ventes"), "{err}");
    assert!(err.contains("model.yaml:"), "{err}");

    let dir = variant("many: \"Fait_Ventes[ID_Canal]\"", "many: \"Fait_Ventes[ID_Canall]\"", "", "");
    let err = data_bind_error(&dir).await;
    assert!(err.contains("relationship: `Fait_Ventes` has no column `ID_Canall`; did you mean `ID_Canal`?"), "{err}");

    // Duplicate keys on the one side, found in the data.
    let ctx = fixture_context().await;
    ctx.sql("INSERT INTO omnimarket.staging.stg_canaux VALUES (2, 'Mobile bis', 'Online')").await.expect("sql").collect().await.expect("insert");
    let e = Engine::with_context(ctx, semantic_fixture::bundled_model());
    let err = e.bound_model().await.expect_err("duplicate key").to_string();
    assert!(err.contains("`Dim_Canal[ID_Canal]` is the one side of a relationship but its key is not unique: 2 appears 2 times"), "{err}");
}

#[test]
fn duplicate_names_and_unknown_keys_are_rejected_at_load() {
    let dir = variant("", "", "- { name: CA_HT,", "- { name: CA_Total,");
    assert!(load_error(&dir).contains("measure `CA_Total` has the same name as another measure"));
    let dir = variant("", "", "- { name: CA_HT,", "- { name: Annee,");
    assert!(load_error(&dir).contains("measure `Annee` has the same name as an attribute"));
    let dir = variant("      - { name: Categorie_Motif, column: Categorie }", "      - Categorie", "", "");
    let err = load_error(&dir);
    assert!(err.contains("attribute `Categorie` of `Dim_Motif_Retour` has the same name as an attribute of `Dim_Produit`"), "{err}");
    let dir = variant("    primary_key: ID_Vente\n", "    primary_key: ID_Vente\n    primary_kay: x\n", "", "");
    let err = load_error(&dir);
    assert!(err.contains("unknown field `primary_kay`") && err.contains("model.yaml:"), "{err}");
    let dir = variant("many: \"Fait_Ventes[ID_Client]\"", "many: \"Fait_Vente[ID_Client]\"", "", "");
    assert!(load_error(&dir).contains("unknown table `Fait_Vente`; did you mean `Fait_Ventes`?"));
    // A measure that does not parse is reported with its position; the model still loads.
    let dir = variant("", "", "dax: \"SUM(Fait_Ventes[Montant_HT])\"", "dax: \"SUM(Fait_Ventes[Montant_HT]\"");
    let model = load_project(dir.path()).expect("the other measures load");
    let bad = model.measure("CA_HT").expect("listed").expr.as_ref().expect_err("does not parse").to_string();
    assert!(bad.contains("measure `CA_HT`: expected `)`") && bad.contains("measures.yaml:"), "{bad}");
}

#[tokio::test]
async fn slicer_filters_reach_every_semantic_block() {
    use omnimarket::query::{Predicate, Value};
    let e = fixture().await;
    let slicer = [Predicate::Compare { attribute: "Annee".into(), op: "=", value: Value::Number("2024".into()) }];
    let df = e
        .sql_with_filters(
            "SELECT a.ca, b.n FROM (SELECT MEASURE(CA_Total) AS ca FROM omnimarket) a CROSS JOIN (SELECT MEASURE(Nb_Retours) AS n FROM omnimarket) b",
            &slicer,
        )
        .await
        .expect("plans");
    assert_rows(&semantic_fixture::rows_of(df).await, &[&["660", "2"]]);
    let bad = [Predicate::Compare { attribute: "Anee".into(), op: "=", value: Value::Number("2024".into()) }];
    let err = e.sql_with_filters("SELECT MEASURE(CA_Total) FROM omnimarket", &bad).await.expect_err("unknown attribute").to_string();
    assert!(err.contains("unknown attribute `Anee` in a filter; did you mean `Annee`?"), "{err}");
}

#[tokio::test]
async fn the_model_table_is_in_the_catalog_for_metadata() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'semantic' AND table_name = 'omnimarket' \
         AND column_name IN ('Annee', 'Nom_Canal', 'CA_Total', 'Nb_Transactions', 'Classe_ABC') ORDER BY column_name",
    )
    .await;
    assert_rows(
        &got,
        &[&["Annee", "Int64"], &["CA_Total", "Float64"], &["Classe_ABC", "Utf8"], &["Nb_Transactions", "Int64"], &["Nom_Canal", "Utf8"]],
    );
    // A schema probe answers with no row; a plain scan explains how to query the table.
    let df = e.sql("SELECT * FROM semantic.omnimarket LIMIT 0").await.expect("probe plans");
    assert_eq!(df.schema().fields().len(), e.model().attributes.len() + e.model().measures.len());
}

#[tokio::test]
async fn parameters_pass_through_compilation_typed_by_their_attribute() {
    use datafusion::common::{ParamValues, ScalarValue};
    let e = fixture().await;
    let sql = "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket \
               WHERE Annee = $1 AND Nom_Canal IN ($2, $3) AND Nom_Produit LIKE $4 AND Mois BETWEEN $5 AND $6 \
               GROUP BY 1 ORDER BY 1";
    let df = e.sql(sql).await.expect("plans with placeholders");
    // Their types come from the attributes they are compared with, so a client learns them before binding.
    let types = df.logical_plan().get_parameter_types().expect("parameter types");
    let ty = |p: &str| types.get(p).cloned().flatten().map(|t| t.to_string()).unwrap_or_default();
    assert_eq!((ty("$1"), ty("$2"), ty("$4"), ty("$5")), ("Int64".into(), "Utf8".into(), "Utf8".into(), "Int64".into()));
    let bind = |annee: i64, a: &str, b: &str| {
        ParamValues::List(
            [
                ScalarValue::Int64(Some(annee)),
                ScalarValue::from(a),
                ScalarValue::from(b),
                ScalarValue::from("%"),
                ScalarValue::Int64(Some(1)),
                ScalarValue::Int64(Some(12)),
            ]
            .into_iter()
            .map(Into::into)
            .collect(),
        )
    };
    let bound = df.clone().with_param_values(bind(2024, "Web", "Magasin")).expect("binds");
    let with_params = semantic_fixture::rows_of(bound).await;
    // The same query with the values written in.
    let literal = semantic(
        &e,
        "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket WHERE Annee = 2024 AND Nom_Canal IN ('Web', 'Magasin') \
         AND Nom_Produit LIKE '%' AND Mois BETWEEN 1 AND 12 GROUP BY 1 ORDER BY 1",
    )
    .await;
    semantic_fixture::assert_same_rows(&with_params, &literal);
    assert!(!literal.is_empty());
    let other_year = semantic_fixture::rows_of(df.with_param_values(bind(2023, "Web", "Magasin")).expect("binds")).await;
    assert_ne!(other_year, literal, "the bound year changes the result");
}

/// USERELATIONSHIP and CROSSFILTER: returns by the date of their sale instead of their return date. The model
/// gains an inactive relationship on a sale-date column added to the returns; the fixture's returns are
/// (sale 1 of 2023-01-10, returned 2023), (sale 6 of 2023-12-28, returned 2024-01-03), (sale 7 of 2024-01-10,
/// returned 2024): by return year 2023: 1, 2024: 2; by sale year 2023: 2, 2024: 1.
#[tokio::test]
async fn inactive_relationships_and_crossfilter_change_the_path() {
    let dir = variant(
        "  - { one: \"Dim_Motif_Retour[ID_Motif]\", many: \"Fait_Retours[ID_Motif]\" }\n",
        "  - { one: \"Dim_Motif_Retour[ID_Motif]\", many: \"Fait_Retours[ID_Motif]\" }\n  - { one: \"Dim_Temps[ID_Date]\", many: \"Fait_Retours[ID_Date_Vente]\", active: false }\n",
        "",
        "",
    );
    let mut model = load_project(dir.path()).expect("loads");
    let define = |name: &str, dax: &str| omnimarket::model::load::measure_from_dax(name, dax).expect("parses");
    model.measures.push(define("Retours_Date_Vente", "CALCULATE([Nb_Retours], USERELATIONSHIP(Dim_Temps[ID_Date], Fait_Retours[ID_Date_Vente]))"));
    model
        .measures
        .push(define("Retours_Par_La_Vente", "CALCULATE([Nb_Retours], CROSSFILTER(Fait_Retours[ID_Date_Retour], Dim_Temps[ID_Date], NONE))"));
    model.measures.push(define("Bidirectionnel", "CALCULATE([Nb_Retours], CROSSFILTER(Fait_Retours[ID_Date_Retour], Dim_Temps[ID_Date], BOTH))"));
    let ctx = fixture_context().await;
    for sql in [
        "CREATE TABLE staging.retours_vente AS SELECT r.*, v.\"ID_Date\" AS \"ID_Date_Vente\" FROM staging.stg_retours r JOIN staging.stg_ventes v ON v.\"ID_Vente\" = r.\"ID_Vente\"",
        "DROP TABLE staging.stg_retours",
        "CREATE TABLE staging.stg_retours AS SELECT * FROM staging.retours_vente",
    ] {
        ctx.sql(sql).await.expect("sql").collect().await.expect("runs");
    }
    let e = Engine::with_context(ctx, model);
    let got =
        semantic(&e, "SELECT Annee, MEASURE(Nb_Retours), MEASURE(Retours_Date_Vente), MEASURE(Retours_Par_La_Vente) FROM omnimarket GROUP BY Annee")
            .await;
    assert_rows(&got, &[&["2023", "1", "2", "2"], &["2024", "2", "1", "1"]]);
    // Independently: returns counted by the year of their sale.
    let plain = semantic_fixture::plain(
        &e,
        "SELECT CAST(date_part('year', t.\"Date_Complete\") AS BIGINT), COUNT(*) FROM omnimarket.staging.stg_retours r \
         JOIN omnimarket.staging.stg_temps t ON t.\"ID_Date\" = r.\"ID_Date_Vente\" GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_rows(&plain, &[&["2023", "2"], &["2024", "1"]]);
    let bm = e.bound_model().await.expect("binds");
    let err = bm.invalid("Bidirectionnel").expect("BOTH is refused").to_string();
    assert!(err.contains("CROSSFILTER(..., BOTH) is not supported"), "{err}");
}

/// A table that counts how many of its scans run (a scan planned but never executed does not count).
mod counted {
    use std::fmt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use datafusion::arrow::datatypes::SchemaRef;
    use datafusion::catalog::{Session, TableProvider};
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::datasource::TableType;
    use datafusion::error::Result;
    use datafusion::execution::{SendableRecordBatchStream, TaskContext};
    use datafusion::logical_expr::Expr;
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
    use datafusion::prelude::SessionContext;

    #[derive(Debug)]
    struct Counted {
        inner: Arc<dyn TableProvider>,
        reads: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl TableProvider for Counted {
        fn schema(&self) -> SchemaRef {
            self.inner.schema()
        }
        fn table_type(&self) -> TableType {
            self.inner.table_type()
        }
        async fn scan(
            &self,
            state: &dyn Session,
            projection: Option<&Vec<usize>>,
            filters: &[Expr],
            limit: Option<usize>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            let input = self.inner.scan(state, projection, filters, limit).await?;
            Ok(Arc::new(CountedScan { input, reads: self.reads.clone() }))
        }
    }

    #[derive(Debug)]
    struct CountedScan {
        input: Arc<dyn ExecutionPlan>,
        reads: Arc<AtomicUsize>,
    }

    impl DisplayAs for CountedScan {
        fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "CountedScan")
        }
    }

    impl ExecutionPlan for CountedScan {
        fn name(&self) -> &str {
            "CountedScan"
        }
        fn properties(&self) -> &Arc<PlanProperties> {
            self.input.properties()
        }
        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![&self.input]
        }
        fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }
        fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(Arc::new(CountedScan { input: children.remove(0), reads: self.reads.clone() }))
        }
        fn execute(&self, partition: usize, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
            if partition == 0 {
                self.reads.fetch_add(1, Ordering::SeqCst);
            }
            self.input.execute(partition, ctx)
        }
    }

    /// Replaces `omnimarket.staging.<table>` with a counted copy; returns its counter.
    pub async fn count_reads(ctx: &SessionContext, table: &str) -> Arc<AtomicUsize> {
        let schema = ctx.catalog("omnimarket").and_then(|c| c.schema("staging")).expect("staging schema");
        let inner = schema.table(table).await.expect("table").expect("exists");
        let reads = Arc::new(AtomicUsize::new(0));
        schema.deregister_table(table).expect("deregister");
        schema.register_table(table.to_string(), Arc::new(Counted { inner, reads: reads.clone() })).expect("register");
        reads
    }
}

/// Plan shape: the products page's ranking query (revenue and dense rank per product) reads the sales once.
/// The compiled SQL refers to the revenue per product three times (the row's value, every product's value, the
/// output); DataFusion alone runs each reference, the engine runs one and shares it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_products_ranking_reads_the_sales_once() {
    use std::sync::atomic::Ordering;
    let sql = "SELECT Nom_Produit, MEASURE(CA_Total), MEASURE(Rank_Produit_CA) FROM omnimarket GROUP BY Nom_Produit \
               ORDER BY MEASURE(Rank_Produit_CA), Nom_Produit LIMIT 10";
    let ctx = fixture_context().await;
    let reads = counted::count_reads(&ctx, "stg_ventes").await;
    let e = Engine::with_context(ctx, semantic_fixture::bundled_model());
    // Binding checks the data (keys, BLANK members) once per engine; count the query's own reads.
    e.bound_model().await.expect("binds");
    reads.store(0, Ordering::SeqCst);
    let got = semantic(&e, sql).await;
    assert_eq!(reads.load(Ordering::SeqCst), 1, "the sales are read once");
    // By hand from the fixture: Alpha 240+96+120+120+120+120, Beta 120+360+240, Gamma 60+60; Delta sold nothing
    // (BLANK revenue, ranked as 0).
    assert_rows(&got, &[&["Alpha", "816", "1"], &["Beta", "720", "2"], &["Gamma", "120", "3"], &["Delta", "NULL", "4"]]);

    // The same compiled SQL in a plain DataFusion session reads them once per reference, with the same rows.
    let compiled = e.compile(sql).await.expect("compiles").expect("semantic");
    let plain_ctx = fixture_context().await;
    omnimarket::query::udf::register(&plain_ctx);
    let plain_reads = counted::count_reads(&plain_ctx, "stg_ventes").await;
    let plain = semantic_fixture::rows_of(plain_ctx.sql(&compiled).await.expect("plans")).await;
    assert!(plain_reads.load(Ordering::SeqCst) >= 3, "without sharing: {} reads", plain_reads.load(Ordering::SeqCst));
    assert_eq!(plain, got);

    // A CTE read in three places, each reading other columns of it (the traffic funnel's shape): one read.
    reads.store(0, Ordering::SeqCst);
    let funnel = "WITH f AS (SELECT MEASURE(CA_Total) AS ca, MEASURE(Nb_Transactions) AS n FROM omnimarket) \
                  SELECT 1 AS k, ca AS v FROM f UNION ALL SELECT 2, CAST(n AS DOUBLE) FROM f UNION ALL SELECT 3, ca / n FROM f ORDER BY k";
    let got = semantic(&e, funnel).await;
    assert_eq!(reads.load(Ordering::SeqCst), 1, "the sales are read once for the three readers of the CTE");
    // 1,656 MAD over 11 sales.
    assert_rows(&got, &[&["1", "1656"], &["2", "11"], &["3", "150.54545454545453"]]);
}
