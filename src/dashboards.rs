//! The five dashboards as data: `sql/dashboards/*.sql`, one file per page, each a list of named semantic
//! queries (`-- name:`, `-- title:`, `-- chart:` headers). A project's own `sql/dashboards/` replaces the
//! bundled ones. The CLI, the benches and the web pages read them from here.

use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Visual {
    pub name: String,
    pub title: String,
    pub chart: String,
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// The file stem without its ordering prefix, e.g. `executive`.
    pub name: String,
    pub title: String,
    pub visuals: Vec<Visual>,
}

pub const BUNDLED: &[(&str, &str)] = &[
    ("1_executive.sql", include_str!("../sql/dashboards/1_executive.sql")),
    ("2_clients.sql", include_str!("../sql/dashboards/2_clients.sql")),
    ("3_produits.sql", include_str!("../sql/dashboards/3_produits.sql")),
    ("4_retours.sql", include_str!("../sql/dashboards/4_retours.sql")),
    ("5_trafic.sql", include_str!("../sql/dashboards/5_trafic.sql")),
];

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DashboardError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn header<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim().strip_prefix("--")?.trim().strip_prefix(key)?.strip_prefix(':').map(str::trim)
}

/// Parses one dashboard file.
pub fn parse(file: &str, text: &str) -> Result<Dashboard, DashboardError> {
    let stem = Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name =
        stem.split_once('_').map(|(p, rest)| if p.chars().all(|c| c.is_ascii_digit()) { rest.to_string() } else { stem.clone() }).unwrap_or(stem);
    let mut title = name.clone();
    let mut visuals: Vec<Visual> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(n) = header(line, "name") {
            if visuals.iter().any(|v| v.name == n) {
                return Err(DashboardError { file: file.into(), line: i + 1, message: format!("query `{n}` is defined twice") });
            }
            visuals.push(Visual { name: n.to_string(), title: n.to_string(), chart: "table".into(), sql: String::new() });
        } else if let Some(t) = header(line, "title") {
            match visuals.last_mut() {
                Some(v) => v.title = t.to_string(),
                None => title = t.to_string(),
            }
        } else if let Some(c) = header(line, "chart") {
            if let Some(v) = visuals.last_mut() {
                v.chart = c.to_string();
            }
        } else if let Some(v) = visuals.last_mut()
            && !line.trim_start().starts_with("--")
        {
            v.sql.push_str(line);
            v.sql.push('\n');
        }
    }
    for v in visuals.iter_mut() {
        v.sql = v.sql.trim().trim_end_matches(';').trim().to_string();
        if v.sql.is_empty() {
            return Err(DashboardError { file: file.into(), line: 0, message: format!("query `{}` has no SQL", v.name) });
        }
    }
    Ok(Dashboard { name, title, visuals })
}

/// The project's dashboards (`<project>/sql/dashboards/*.sql`), or the bundled ones.
pub fn load(project_dir: &Path) -> Result<Vec<Dashboard>, DashboardError> {
    let dir = project_dir.join("sql").join("dashboards");
    let mut files: Vec<(String, String)> = Vec::new();
    if dir.is_dir() {
        let entries = std::fs::read_dir(&dir).map_err(|e| DashboardError { file: dir.display().to_string(), line: 0, message: e.to_string() })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "sql") {
                let text =
                    std::fs::read_to_string(&p).map_err(|e| DashboardError { file: p.display().to_string(), line: 0, message: e.to_string() })?;
                files.push((p.display().to_string(), text));
            }
        }
        files.sort();
    } else {
        files = BUNDLED.iter().map(|(f, t)| (format!("<bundled>/sql/dashboards/{f}"), t.to_string())).collect();
    }
    files.iter().map(|(f, t)| parse(f, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_dashboards_parse() {
        let all: Vec<Dashboard> = BUNDLED.iter().map(|(f, t)| parse(f, t).expect("parses")).collect();
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["executive", "clients", "produits", "retours", "trafic"]);
        assert_eq!(all[0].title, "Vue Exécutive");
        assert_eq!(all[0].visuals[0].name, "kpis");
        assert_eq!(all[0].visuals[0].chart, "cards");
        assert!(all.iter().all(|d| d.visuals.iter().all(|v| !v.sql.ends_with(';') && v.sql.contains("omnimarket"))));
    }
}
