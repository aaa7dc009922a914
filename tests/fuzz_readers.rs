//! Fuzzing of the five source readers on stable Rust, with proptest: valid small inputs, built here, damaged by
//! arbitrary mutations (truncation, bit flips, byte insertions and deletions, huge values, deep nesting). Whatever
//! the damage, a reader returns Ok or an Err (never panics), and every Err names the file and stays short.
//!
//! Cases per target: `PROPTEST_CASES` (default 256, the whole file well under a minute in debug). A longer run:
//! `PROPTEST_CASES=5000 cargo test --test fuzz_readers`.

use std::panic::AssertUnwindSafe;

use omnimarket::sources::{DeclaredTypes, SourceInput, format_by_name};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

/// Cases per target, from `PROPTEST_CASES`: 256 by default, about a second for the whole file in debug.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// An error message longer than this prints some value whole (values are clipped to 80 characters, messages
/// and contexts to 1,000).
const MAX_MESSAGE_CHARS: usize = 2_500;

fn config() -> Config {
    // No regression files written into the repository; a failure prints its minimal input instead.
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

/// Read `bytes` as `format` and check the contract. Returns the outcome for callers that want more checks.
fn check(format: &str, options: &str, file: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let opts: serde_norway::Value = serde_norway::from_str(options).unwrap_or(serde_norway::Value::Null);
    let reader = format_by_name(format).and_then(|f| f.reader(opts).ok());
    let Some(reader) = reader else { return Err(TestCaseError::fail(format!("no reader for {format} {options}"))) };
    let declared = DeclaredTypes::new();
    let input = SourceInput { file, bytes, declared: &declared };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| reader.read(&input)));
    match outcome {
        Err(_) => Err(TestCaseError::fail(format!("{format} reader panicked on {} bytes: {:?}", bytes.len(), preview(bytes)))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            let msg = e.to_string();
            prop_assert!(msg.contains(file), "error does not name the file: {msg}");
            let chars = msg.chars().count();
            prop_assert!(chars <= MAX_MESSAGE_CHARS, "error of {chars} characters: {}", preview(msg.as_bytes()));
            Ok(())
        }
    }
}

fn preview(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
}

/// One damage to a byte string. Positions are `Index`es, so they fit whatever length the input has by then.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// A long run of one byte: a huge value or name.
    Huge(Index, u8, usize),
    /// Part of the input repeated: duplicated rows, tags, quotes.
    Repeat(Index, Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), prop::sample::select(b"\"';,()<>{}[]\\\n\r\0xX9-.e`/*#&".to_vec())).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), prop::sample::select(b"x9\"<{[(\\ ".to_vec()), 1usize..20_000).prop_map(|(i, b, n)| Mutation::Huge(i, b, n)),
        (any::<Index>(), any::<Index>(), 1u8..20).prop_map(|(a, b, n)| Mutation::Repeat(a, b, n)),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Truncate(i) => {
                let n = at(i, b.len());
                b.truncate(n);
            }
            Mutation::FlipBit(i, bit) if !b.is_empty() => {
                let n = i.index(b.len());
                b[n] ^= 1 << bit;
            }
            Mutation::Insert(i, byte) => {
                let n = at(i, b.len());
                b.insert(n, *byte);
            }
            Mutation::Delete(i) if !b.is_empty() => {
                let n = i.index(b.len());
                b.remove(n);
            }
            Mutation::Huge(i, byte, len) => {
                let n = at(i, b.len());
                b.splice(n..n, std::iter::repeat_n(*byte, *len));
            }
            Mutation::Repeat(x, y, times) if !b.is_empty() => {
                let (p, q) = (x.index(b.len()), y.index(b.len()));
                let (p, q) = (p.min(q), p.max(q).min(p.min(q) + 200));
                let piece = b[p..q].to_vec();
                for _ in 0..*times {
                    b.splice(q..q, piece.iter().copied());
                }
            }
            _ => {}
        }
    }
    b
}

fn fuzz(format: &str, options: &str, file: &str, seeds: Vec<Vec<u8>>) {
    let mut runner = TestRunner::new(config());
    let strategy = (prop::sample::select(seeds), prop::collection::vec(mutation(), 1..5));
    let result = runner.run(&strategy, |(seed, muts)| check(format, options, file, &apply(seed, &muts)));
    if let Err(e) = result {
        panic!("{format}: {e}");
    }
}

/// Every prefix of each seed: truncation at every offset (the damage that once panicked the dump reader).
fn every_truncation(format: &str, options: &str, file: &str, seeds: &[Vec<u8>], step: usize) {
    for seed in seeds {
        for n in (0..=seed.len()).step_by(step) {
            if let Err(e) = check(format, options, file, &seed[..n]) {
                panic!("{format}, truncated at {n}: {e}");
            }
        }
    }
}

// ---- Valid inputs ----------------------------------------------------------------------------------------

fn csv_seeds() -> Vec<Vec<u8>> {
    vec![
        b"\xEF\xBB\xBFID;Nom;Prix;Jour;Tel\n1;a;2.5;2023-01-01;+212600000000\n2;;3;;\n3;c;-1e3;2024-02-29;0612\n".to_vec(),
        b"id,label,amount\n1,\"quoted, with comma\",10.50\n2,\"multi\nline\",3\n3,\"a \"\"quote\"\"\",-0.25\n".to_vec(),
    ]
}

fn json_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"[{"ID": 1, "Nom": "Web", "Prix": 2.5, "Ctx": {"Canal": 1, "App": "Mobile"}}, {"ID": 2, "Nom": null, "Prix": 3}]"#.to_vec(),
        b"[\n  {\"a\": \"2023-01-01\", \"b\": true, \"c\": [1, 2]},\n  {\"a\": \"2023-01-02\", \"b\": false}\n]\n".to_vec(),
    ]
}

fn json_nested_seed() -> Vec<u8> {
    br#"{"generated_at": "x", "sessions": [{"ID": 1, "Ctx": {"Canal": 2}}, {"ID": 2}], "n": 2}"#.to_vec()
}

fn xml_seeds() -> Vec<Vec<u8>> {
    vec![
        b"<?xml version='1.0' encoding='UTF-8'?>\n<Dim_Produit>\n  <Produit id=\"1\"><Nom>Chemise &amp; co</Nom><Prix>12.5</Prix><Cat><Nom>Homme</Nom></Cat></Produit>\n  <Produit id=\"2\"><Nom><![CDATA[Robe]]></Nom><Prix/></Produit>\n</Dim_Produit>\n".to_vec(),
        b"<R><Motif><ID>1</ID><Motif>Taille</Motif></Motif><Motif><ID>2</ID><Motif/></Motif></R>".to_vec(),
    ]
}

fn dump_seeds() -> Vec<Vec<u8>> {
    vec![
        b"-- MySQL dump\n/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE IF EXISTS `Fait_Ventes`;\nCREATE TABLE `Fait_Ventes` (\n  `ID_Vente` int NOT NULL,\n  `Nom` varchar(50) DEFAULT NULL,\n  `Montant_HT` decimal(12,2) DEFAULT NULL,\n  `Date_Vente` date,\n  `Bin` varbinary(8),\n  PRIMARY KEY (`ID_Vente`)\n) ENGINE=InnoDB;\nLOCK TABLES `Fait_Ventes` WRITE;\nINSERT INTO `Fait_Ventes` VALUES (1,'l\\'a;b',12.50,'2024-01-31',_binary 'ab'),(2,NULL,NULL,NULL,0x4142);\nINSERT INTO `Fait_Ventes` (`ID_Vente`,`Nom`) VALUES (3,\"x\\\\\");\nUNLOCK TABLES;\n".to_vec(),
    ]
}

fn xlsx_seed() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("S").expect("name");
    for (c, h) in ["ID", "Nom", "Prix", "Jour"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("write");
    }
    for r in 1..6u32 {
        ws.write_number(r, 0, f64::from(r)).expect("write");
        ws.write_string(r, 1, format!("nom {r}")).expect("write");
        ws.write_number(r, 2, f64::from(r) * 1.25).expect("write");
        ws.write_string(r, 3, format!("2024-01-0{r}")).expect("write");
    }
    wb.save_to_buffer().expect("xlsx")
}

// ---- Targets ---------------------------------------------------------------------------------------------

#[test]
fn csv_survives_mutations() {
    every_truncation("csv", "", "fuzz.csv", &csv_seeds(), 1);
    fuzz("csv", "", "fuzz.csv", csv_seeds());
}

#[test]
fn json_survives_mutations() {
    every_truncation("json", "", "fuzz.json", &json_seeds(), 1);
    every_truncation("json", "records: sessions", "fuzz.json", &[json_nested_seed()], 1);
    fuzz("json", "", "fuzz.json", json_seeds());
    fuzz("json", "records: sessions", "fuzz.json", vec![json_nested_seed()]);
}

#[test]
fn xml_survives_mutations() {
    every_truncation("xml", "", "fuzz.xml", &xml_seeds(), 1);
    fuzz("xml", "", "fuzz.xml", xml_seeds());
}

#[test]
fn dump_survives_mutations() {
    every_truncation("mysql_dump", "table: Fait_Ventes", "fuzz.sql", &dump_seeds(), 1);
    fuzz("mysql_dump", "table: Fait_Ventes", "fuzz.sql", dump_seeds());
    fuzz("mysql_dump", "", "fuzz.sql", dump_seeds());
}

#[test]
fn xlsx_survives_mutations() {
    let seed = xlsx_seed();
    every_truncation("xlsx", "", "fuzz.xlsx", std::slice::from_ref(&seed), 13);
    fuzz("xlsx", "", "fuzz.xlsx", vec![seed]);
}

/// A single flipped bit in a workbook is either refused or changes nothing that is read: the zip entries' CRC-32
/// is checked (8 of 60 such flips once changed a number silently).
#[test]
fn xlsx_bit_flips_never_change_the_data() {
    let seed = xlsx_seed();
    let read = |bytes: &[u8]| {
        let reader = format_by_name("xlsx").and_then(|f| f.reader(serde_norway::Value::Null).ok()).expect("reader");
        let declared = DeclaredTypes::new();
        reader.read(&SourceInput { file: "flip.xlsx", bytes, declared: &declared }).map(|t| format!("{:?}", t.batches))
    };
    let original = read(&seed).expect("the seed reads");
    let mut runner = TestRunner::new(config());
    let result = runner.run(&(any::<Index>(), 0u8..8), |(i, bit)| {
        let mut b = seed.clone();
        let at = i.index(b.len());
        b[at] ^= 1 << bit;
        if let Ok(data) = read(&b) {
            prop_assert_eq!(&data, &original, "bit {} of byte {} changed the data silently", bit, at);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Deep nesting, in every format that nests: refused (or read) within the limits, never a crash or a
/// runaway allocation.
#[test]
fn deep_nesting_is_bounded() {
    let depth = 50_000;
    let xml = format!("<R><P>{}x{}</P></R>", "<a>".repeat(depth), "</a>".repeat(depth));
    check("xml", "", "deep.xml", xml.as_bytes()).expect("xml");
    // Names growing with each level, as in the 1.8 MB file that once took over 8 GiB.
    let grow: String = (0..3_000).map(|i| format!("<n{i}>")).collect();
    check("xml", "", "grow.xml", format!("<R><P>{grow}").as_bytes()).expect("xml");
    let json = format!("[{{\"a\": {}1{}}}]", "[".repeat(depth), "]".repeat(depth));
    check("json", "", "deep.json", json.as_bytes()).expect("json");
    let json = format!("[{}]", "{\"a\": ".repeat(depth));
    check("json", "", "deep2.json", json.as_bytes()).expect("json");
    let sql = format!("CREATE TABLE t (a int);\nINSERT INTO t VALUES {};", "(".repeat(depth));
    check("mysql_dump", "", "deep.sql", sql.as_bytes()).expect("dump");
    let csv = format!("a;b\n{}", "\"".repeat(depth));
    check("csv", "", "deep.csv", csv.as_bytes()).expect("csv");
}
