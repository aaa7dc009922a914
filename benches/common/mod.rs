//! What every bench shares: the generated dataset it runs on.

use std::path::{Path, PathBuf};

use omnimarket::generate::{GenerateConfig, NoProgress, generate};

/// The generated dataset at `scale`, made once under target/bench-data/ (not committed) and reused.
pub fn dataset(scale: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/scale{scale}"));
    if !dir.join("Fait_Trafic_Web.json").exists() {
        let cfg = GenerateConfig { out_dir: dir.clone(), scale, ..GenerateConfig::default() };
        generate(&cfg, &NoProgress).expect("generate bench data");
    }
    dir
}
