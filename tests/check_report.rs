//! `omnimarket check` through the binary: on the default data the report shows exactly the planted defects and
//! exits 0; when one copy of the sales is altered the reconciliation fails and the command exits 1.

mod common;

use common::run;
use omnimarket::generate::{GenerateConfig, NoProgress, generate};

#[test]
fn report_shows_the_planted_defects_and_reconciliation_guards_the_exit_code() {
    let data = tempfile::tempdir().expect("tempdir");
    generate(&GenerateConfig { out_dir: data.path().to_path_buf(), ..GenerateConfig::default() }, &NoProgress).expect("generate");
    let d = data.path().display().to_string();
    let (code, out, err) = run(&["check", "--data", &d, "--format", "json"], data.path());
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let rule = |model: &str, name: &str| -> u64 {
        let m = report["models"].as_array().and_then(|ms| ms.iter().find(|m| m["model"] == model)).expect("model");
        let r = m["rules"].as_array().and_then(|rs| rs.iter().find(|r| r[0].as_str().is_some_and(|n| n.starts_with(name))));
        r.and_then(|r| r[1].as_u64()).unwrap_or(u64::MAX)
    };
    assert_eq!(rule("stg_clients", "duplicate clients merged"), 50);
    assert_eq!(rule("stg_clients", "NULL Telephone"), 100);
    assert_eq!(rule("stg_clients", "NULL Ville"), 100);
    assert_eq!(rule("stg_clients", "cities re-cased"), 100);
    assert_eq!(rule("stg_ventes", "sales with a NULL amount dropped"), 25);
    assert_eq!(rule("stg_ventes", "orphan sales kept (ID_Client"), 50);
    assert_eq!(report["reconciliations"][0]["passed"], true);

    // Remove the first sale from the dump: the two copies no longer agree.
    let dump_path = data.path().join("base_ventes.sql");
    let dump = std::fs::read_to_string(&dump_path).expect("dump");
    let values = dump.find("INSERT INTO `Fait_Ventes` VALUES (").expect("insert") + "INSERT INTO `Fait_Ventes` VALUES ".len();
    let next = values + dump[values..].find("),(").expect("two rows") + 2;
    let altered = format!("{}{}", &dump[..values], &dump[next..]);
    std::fs::write(&dump_path, altered).expect("write");
    let (code, out, err) = run(&["check", "--data", &d], data.path());
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("reconciliation: sales in the dump vs the Excel export: FAIL"), "{out}");
    assert!(out.contains("49999.00 ≠ 50000.00"), "{out}");
}
