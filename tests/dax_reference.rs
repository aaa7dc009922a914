//! docs/dax.md is generated from the function registry: this test fails when the page is stale.
//! Regenerate with `cargo run -- dax-reference > docs/dax.md` (or `OMNIMARKET_BLESS=1 cargo test --test dax_reference`).

#[test]
fn docs_dax_md_matches_the_function_registry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dax.md");
    let want = omnimarket::lowering::functions::reference_markdown();
    if std::env::var_os("OMNIMARKET_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write docs/dax.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "docs/dax.md is stale: run `cargo run -- dax-reference > docs/dax.md`");
}

#[test]
fn every_registered_function_is_documented_with_an_example_that_parses() {
    for f in omnimarket::lowering::functions::FUNCTIONS {
        assert!(!f.summary.is_empty(), "{} has a summary", f.name);
        omnimarket::dax::parser::parse(f.example).unwrap_or_else(|e| panic!("{}: example `{}` does not parse: {e}", f.name, f.example));
        assert!(f.example.to_ascii_uppercase().contains(f.name), "{}: the example uses the function", f.name);
    }
}
