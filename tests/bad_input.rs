//! Bad input gets a clear error naming the file, the line/row (and column or field where known) and what was
//! expected; the command exits 1 and never panics. One test per kind of damage, through the real binary.

mod common;

use std::fs;
use std::path::Path;

use common::{run, seed_dir};

/// A data directory holding one damaged file under its real name.
fn data_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(name), bytes).expect("write");
    dir
}

fn query(data: &Path, sql: &str) -> (i32, String) {
    let (code, _out, err) = run(&["query", "--data", &data.display().to_string(), sql], data);
    assert!(!err.contains("panicked"), "panic: {err}");
    (code, err)
}

#[test]
fn truncated_xlsx() {
    let good = fs::read(seed_dir().join("Dim_Client.xlsx")).expect("seed");
    let data = data_with("Dim_Client.xlsx", &good[..good.len() / 2]);
    let (code, err) = query(data.path(), "SELECT COUNT(*) FROM Dim_Client");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Client.xlsx") && err.contains("not a readable XLSX workbook"), "{err}");
}

#[test]
fn malformed_xml() {
    let data = data_with(
        "Dim_Produit.xml",
        b"<?xml version='1.0'?>\n<Dim_Produit>\n<Produit><ID_Produit>1</ID_Produit></Produit>\n<Produit><ID_Produit>2</Nom></Produit>\n</Dim_Produit>\n",
    );
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Produit");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Produit.xml: line 4, column "), "{err}");
    assert!(err.contains("malformed XML"), "{err}");
}

#[test]
fn json_syntax_error() {
    let data = data_with("Dim_Canal.json", b"[\n  {\"ID_Canal\": 1, \"Nom_Canal\": \"Web\"},\n  {\"ID_Canal\": 2 \"Nom_Canal\": \"Mobile\"}\n]\n");
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Canal");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Canal.json: line 3, column 18: invalid JSON: expected `,` or `}`"), "{err}");
}

#[test]
fn csv_row_with_wrong_field_count() {
    let text = "\u{feff}ID_Promotion;Code_Promo;Nom_Campagne;Type_Remise;Valeur_Remise;Date_Debut;Date_Fin\n\
                1;BIENVENUE10;Bienvenue;Pourcentage;10;2023-01-01;2024-12-31\n\
                2;BLACKFRIDAY;Black Friday;Pourcentage;30;2024-11-01\n";
    let data = data_with("Dim_Promotion.csv", text.as_bytes());
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Promotion");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Promotion.csv: line 3: expected 7 fields"), "{err}");
    assert!(err.contains("found 6"), "{err}");
}

#[test]
fn csv_value_of_the_wrong_type() {
    // Valeur_Stock is declared float64 in the bundled sources.yaml, so a text value there is an error.
    let data = tempfile::tempdir().expect("tempdir");
    let text = "ID_Stock;Valeur_Stock\n1;10.5\n2;abc\n";
    fs::write(data.path().join("Fait_Stock.csv"), text).expect("write");
    let (code, err) = query(data.path(), "SELECT * FROM Fait_Stock");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Fait_Stock.csv: line 3, column 2, field `Valeur_Stock`: expected a number"), "{err}");
}

#[test]
fn insert_with_wrong_number_of_values() {
    let dump = "CREATE TABLE `Fait_Ventes` (\n  `ID_Vente` int NOT NULL,\n  `Quantite` int,\n  `Montant_HT` decimal(12,2)\n) ENGINE=InnoDB;\n\
                INSERT INTO `Fait_Ventes` VALUES (1,2,10.00),(2,3);\n";
    let data = data_with("base_ventes.sql", dump.as_bytes());
    let (code, err) = query(data.path(), "SELECT * FROM base_ventes");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("base_ventes.sql: line 6, column 46: expected 3 values in this row of `Fait_Ventes`, found 2"), "{err}");
}

#[test]
fn missing_file() {
    let data = tempfile::tempdir().expect("tempdir");
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Canal");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Canal.json: cannot read: no such file"), "{err}");
}

#[test]
fn unknown_format_option() {
    let project = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(project.path().join("semantic")).expect("mkdir");
    fs::write(
        project.path().join("semantic/sources.yaml"),
        "sources:\n  - name: Dim_Temps\n    location: Dim_Temps.csv\n    options:\n      delimter: \";\"\n",
    )
    .expect("write");
    let (code, _, err) =
        run(&["query", "--project", &project.path().display().to_string(), "--data", &seed_dir().display().to_string(), "SELECT 1"], project.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("sources.yaml:5:7"), "{err}");
    assert!(err.contains("unknown field `delimter`, expected one of `delimiter`, `quote`, `header`"), "{err}");
}

#[test]
fn bad_sql_and_usage() {
    let (code, err) = query(&seed_dir(), "SELEC 1");
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(&["query", "--format", "xml", "SELECT 1"], &seed_dir());
    assert_eq!(code, 2, "{err}");
}

// ---- Robust readers: the outside test's findings, through the binary -------------------------------------

#[test]
fn dump_cut_inside_a_string_or_before_its_semicolon() {
    let head = "CREATE TABLE `Fait_Ventes` (\n  `ID_Vente` int NOT NULL,\n  `Nom` varchar(20)\n) ENGINE=InnoDB;\n";
    let data = data_with("base_ventes.sql", format!("{head}INSERT INTO `Fait_Ventes` VALUES (1,'ab\\").as_bytes());
    let (code, err) = query(data.path(), "SELECT * FROM base_ventes");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("base_ventes.sql: line 5, column 37: unterminated quoted string"), "{err}");
    let data = data_with("base_ventes.sql", format!("{head}INSERT INTO `Fait_Ventes` VALUES (1,'a')").as_bytes());
    let (code, err) = query(data.path(), "SELECT * FROM base_ventes");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("base_ventes.sql: line 5, column 41: unexpected end of file after a row"), "{err}");
}

#[test]
fn csv_non_finite_amount_names_file_line_and_column() {
    let data = data_with("Fait_Stock.csv", b"ID_Stock;Valeur_Stock\n1;10.5\n2;1e400\n");
    let (code, err) = query(data.path(), "SELECT SUM(Valeur_Stock) FROM Fait_Stock");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Fait_Stock.csv: line 3, column 2, field `Valeur_Stock`: expected a number"), "{err}");
}

#[test]
fn directory_in_place_of_a_file() {
    let data = tempfile::tempdir().expect("tempdir");
    fs::create_dir(data.path().join("Dim_Canal.json")).expect("mkdir");
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Canal");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Canal.json: cannot read: is a directory, expected a file"), "{err}");
}

#[test]
fn empty_json_file() {
    let data = data_with("Dim_Canal.json", b"");
    let (code, err) = query(data.path(), "SELECT * FROM Dim_Canal");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Dim_Canal.json: empty file: expected a JSON array of records"), "{err}");
}
