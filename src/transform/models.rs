//! Finding the SQL models, checking their references and putting them in dependency order.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use super::template::{Dependency, Reference, references};
use crate::suggest::did_you_mean;

/// The models bundled with the product, used when a project has no `sql/` directory of its own.
pub const BUNDLED: &[(&str, &str)] = &[
    ("sql/staging/stg_client_survivors.sql", include_str!("../../sql/staging/stg_client_survivors.sql")),
    ("sql/staging/stg_clients.sql", include_str!("../../sql/staging/stg_clients.sql")),
    ("sql/staging/stg_ventes.sql", include_str!("../../sql/staging/stg_ventes.sql")),
    ("sql/staging/stg_retours.sql", include_str!("../../sql/staging/stg_retours.sql")),
    ("sql/staging/stg_trafic.sql", include_str!("../../sql/staging/stg_trafic.sql")),
    ("sql/staging/stg_geo.sql", include_str!("../../sql/staging/stg_geo.sql")),
    ("sql/staging/stg_produits.sql", include_str!("../../sql/staging/stg_produits.sql")),
    ("sql/staging/stg_temps.sql", include_str!("../../sql/staging/stg_temps.sql")),
    ("sql/staging/stg_canaux.sql", include_str!("../../sql/staging/stg_canaux.sql")),
    ("sql/staging/stg_promotions.sql", include_str!("../../sql/staging/stg_promotions.sql")),
    ("sql/staging/stg_livraisons.sql", include_str!("../../sql/staging/stg_livraisons.sql")),
    ("sql/staging/stg_motifs.sql", include_str!("../../sql/staging/stg_motifs.sql")),
    ("sql/staging/stg_stock.sql", include_str!("../../sql/staging/stg_stock.sql")),
    ("sql/staging/stg_objectifs.sql", include_str!("../../sql/staging/stg_objectifs.sql")),
];

/// An error in a model file, located as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

impl std::error::Error for TransformError {}

/// One model: a SELECT in a file, named after the file's stem.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: String,
    pub sql: String,
    pub references: Vec<Reference>,
}

impl Model {
    pub fn models_used(&self) -> impl Iterator<Item = &str> {
        self.references.iter().filter_map(|r| match &r.dependency {
            Dependency::Model(m) => Some(m.as_str()),
            Dependency::Source(_) => None,
        })
    }
}

/// Every model, in an order where each comes after the models it uses.
#[derive(Debug, Clone, Default)]
pub struct ModelSet {
    pub models: Vec<Model>,
}

impl ModelSet {
    /// The project's `sql/` models, or the bundled ones when the project has no `sql/` directory.
    pub fn load(project_dir: &Path, sources: &[String]) -> Result<Self, TransformError> {
        let dir = project_dir.join("sql");
        let files: Vec<(String, String)> = if dir.is_dir() {
            let mut paths = Vec::new();
            collect_sql(&dir, &mut paths).map_err(|e| TransformError {
                file: dir.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot list the models: {e}"),
            })?;
            paths.sort();
            let mut files = Vec::with_capacity(paths.len());
            for p in paths {
                let text = std::fs::read_to_string(&p).map_err(|e| TransformError {
                    file: p.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                })?;
                files.push((p.display().to_string(), text));
            }
            files
        } else {
            BUNDLED.iter().map(|(f, t)| (format!("<bundled>/{f}"), t.to_string())).collect()
        };
        Self::from_files(files, sources)
    }

    /// Parse, check and order models given as (file name, SQL text).
    pub fn from_files(files: Vec<(String, String)>, sources: &[String]) -> Result<Self, TransformError> {
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        for (file, sql) in files {
            let name = Path::new(&file).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let refs = references(&sql).map_err(|e| TransformError { file: file.clone(), line: e.line, column: e.column, message: e.message })?;
            if let Some(prev) = models.get(&name) {
                return Err(TransformError { file, line: 0, column: 0, message: format!("model `{name}` is defined twice (also in {})", prev.file) });
            }
            models.insert(name.clone(), Model { name, file, sql, references: refs });
        }
        let names: Vec<String> = models.keys().cloned().collect();
        for m in models.values() {
            for r in &m.references {
                let (known, kind, name): (&[String], &str, &str) = match &r.dependency {
                    Dependency::Source(s) => (sources, "source", s),
                    Dependency::Model(n) => (&names, "model", n),
                };
                if !known.iter().any(|k| k == name) {
                    let hint = did_you_mean(name, known.iter().map(String::as_str)).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    return Err(TransformError {
                        file: m.file.clone(),
                        line: r.line,
                        column: r.column,
                        message: format!("unknown {kind} `{name}`{hint}"),
                    });
                }
            }
        }
        Ok(ModelSet { models: order(models)? })
    }

    pub fn get(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// `name` and every model it depends on, dependencies first.
    pub fn closure(&self, name: &str) -> Vec<&Model> {
        let mut wanted: Vec<&str> = vec![name];
        let mut i = 0;
        while i < wanted.len() {
            if let Some(m) = self.get(wanted[i]) {
                for d in m.models_used() {
                    if !wanted.contains(&d) {
                        wanted.push(d);
                    }
                }
            }
            i += 1;
        }
        self.models.iter().filter(|m| wanted.contains(&m.name.as_str())).collect()
    }
}

fn collect_sql(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            // sql/dashboards/ holds the dashboards' semantic queries (crate::dashboards), not models.
            if p.file_name().is_some_and(|n| n == "dashboards") {
                continue;
            }
            collect_sql(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "sql") {
            out.push(p);
        }
    }
    Ok(())
}

/// Depth-first topological order; a cycle is reported at the reference that closes it, naming the whole loop.
fn order(models: BTreeMap<String, Model>) -> Result<Vec<Model>, TransformError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        models: &BTreeMap<String, Model>,
        marks: &mut HashMap<String, Mark>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), TransformError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            // A back edge is caught by the caller before it recurses; nothing to add here.
            Some(Mark::Visiting) => return Ok(()),
            None => {}
        }
        marks.insert(name.to_string(), Mark::Visiting);
        path.push(name.to_string());
        let Some(m) = models.get(name) else { return Ok(()) };
        for r in &m.references {
            let Dependency::Model(dep) = &r.dependency else { continue };
            if marks.get(dep.as_str()) == Some(&Mark::Visiting) {
                let start = path.iter().position(|p| p == dep).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].to_vec();
                cycle.push(dep.clone());
                return Err(TransformError {
                    file: m.file.clone(),
                    line: r.line,
                    column: r.column,
                    message: format!("models form a cycle: {}", cycle.join(" → ")),
                });
            }
            visit(dep, models, marks, path, out)?;
        }
        path.pop();
        marks.insert(name.to_string(), Mark::Done);
        out.push(name.to_string());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut names = Vec::new();
    for name in models.keys() {
        visit(name, &models, &mut marks, &mut Vec::new(), &mut names)?;
    }
    let mut models = models;
    Ok(names.into_iter().filter_map(|n| models.remove(&n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> Result<ModelSet, TransformError> {
        ModelSet::from_files(
            files.iter().map(|(f, s)| (f.to_string(), s.to_string())).collect(),
            &["Dim_Client".to_string(), "base_ventes".to_string()],
        )
    }

    #[test]
    fn dependency_order() {
        let s = set(&[
            ("sql/b.sql", "SELECT * FROM {{ ref('a') }}"),
            ("sql/a.sql", "SELECT * FROM {{ source('Dim_Client') }}"),
            ("sql/c.sql", "SELECT * FROM {{ ref('b') }} JOIN {{ ref('a') }} USING (x)"),
        ])
        .unwrap();
        let names: Vec<_> = s.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let closure: Vec<_> = s.closure("b").iter().map(|m| m.name.as_str()).collect();
        assert_eq!(closure, ["a", "b"]);
    }

    #[test]
    fn unknown_names_are_located_with_a_suggestion() {
        let e = set(&[("sql/a.sql", "SELECT *\nFROM {{ source('Dim_Clint') }}")]).unwrap_err();
        assert_eq!(e.to_string(), "sql/a.sql:2:6: unknown source `Dim_Clint`; did you mean `Dim_Client`?");
        let e = set(&[("sql/a.sql", "SELECT 1"), ("sql/b.sql", "SELECT * FROM {{ ref('c') }}")]).unwrap_err();
        assert_eq!(e.to_string(), "sql/b.sql:1:15: unknown model `c`");
    }

    #[test]
    fn every_model_file_is_bundled() {
        // A model added to sql/ but not to BUNDLED would silently be missing from the binary.
        let mut on_disk = Vec::new();
        collect_sql(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"), &mut on_disk).unwrap_or_else(|e| panic!("{e}"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = on_disk.iter().filter_map(|p| p.strip_prefix(root).ok()).map(|p| p.display().to_string()).collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED.iter().map(|(f, _)| f.to_string()).collect();
        bundled.sort();
        assert_eq!(bundled, on_disk);
    }

    #[test]
    fn cycles_and_duplicates_are_errors() {
        let e = set(&[("sql/a.sql", "SELECT * FROM {{ ref('b') }}"), ("sql/b.sql", "SELECT *\nFROM {{ ref('a') }}")]).unwrap_err();
        assert_eq!(e.to_string(), "sql/b.sql:2:6: models form a cycle: a → b → a");
        let e = set(&[("sql/x/a.sql", "SELECT 1"), ("sql/y/a.sql", "SELECT 2")]).unwrap_err();
        assert!(e.message.contains("defined twice"), "{e}");
    }
}
