//! The dashboards as files: `sql/dashboards/*.sql`, one file per page. A page is its queries (`-- name: x`
//! starts one) and, in a YAML front matter at the top of the file (a `/*--- ... ---*/` comment, so the file stays
//! SQL), its title, slicers and, per visual, a title, a chart type, whether it spans the page and its axes'
//! scales:
//!
//! ```sql
//! /*---
//! title: Produits
//! slicers: [Annee, { attribute: Nom_Canal, label: Canal }]
//! visuals:
//!   - { name: matrice, title: CA et marge par produit, chart: scatter, x_scale: log }
//! ---*/
//! -- name: matrice
//! SELECT Nom_Produit, MEASURE(CA_Total), MEASURE(Taux_Marge) FROM omnimarket GROUP BY Nom_Produit;
//! ```
//!
//! A project's own `sql/dashboards/` replaces the bundled pages (every `.sql` file there, in file-name order), so a
//! sixth dashboard is one file. The CLI, the benches and the web pages read them from here.

use std::path::Path;

use serde::Deserialize;

/// The chart types the pages draw.
pub const CHARTS: &[&str] = &["cards", "bar", "donut", "line", "scatter", "funnel", "table"];

#[derive(Debug, Clone, PartialEq)]
pub struct Visual {
    pub name: String,
    pub title: String,
    /// One of [`CHARTS`].
    pub chart: String,
    /// Spans the page's width (default: tables, lines and cards).
    pub wide: bool,
    /// Logarithmic axes (scatter charts), for values that span orders of magnitude.
    pub x_log: bool,
    pub y_log: bool,
    pub sql: String,
}

/// A slicer a page offers: an attribute of the model and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct SlicerDecl {
    pub attribute: String,
    pub label: String,
    /// Where it is declared, for errors found later (an attribute the model lacks).
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// The file stem without its ordering prefix, e.g. `executive`.
    pub name: String,
    pub title: String,
    pub slicers: Vec<SlicerDecl>,
    pub visuals: Vec<Visual>,
    pub file: String,
}

// The bundled pages: every `sql/dashboards/*.sql`, listed by build.rs (no list of names to keep in step).
include!(concat!(env!("OUT_DIR"), "/bundled_dashboards.rs"));

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DashboardError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<String>,
    #[serde(default)]
    slicers: Vec<SlicerYaml>,
    #[serde(default)]
    visuals: Vec<VisualYaml>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SlicerYaml {
    Attribute(String),
    Labelled { attribute: String, label: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisualYaml {
    name: String,
    title: Option<String>,
    chart: Option<String>,
    wide: Option<bool>,
    x_scale: Option<String>,
    y_scale: Option<String>,
}

fn header<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim().strip_prefix("--")?.trim().strip_prefix(key)?.strip_prefix(':').map(str::trim)
}

/// The front matter's YAML and the line it starts on, and the line where the queries start.
fn front_matter(text: &str) -> Option<(String, usize, usize)> {
    let mut lines = text.lines().enumerate().skip_while(|(_, l)| l.trim().is_empty());
    let (open, first) = lines.next()?;
    if first.trim() != "/*---" {
        return None;
    }
    let mut yaml = String::new();
    for (i, l) in lines {
        if l.trim() == "---*/" {
            return Some((yaml, open + 2, i + 1));
        }
        yaml.push_str(l);
        yaml.push('\n');
    }
    None
}

/// Parses one dashboard file.
pub fn parse(file: &str, text: &str) -> Result<Dashboard, DashboardError> {
    let err = |line: usize, message: String| DashboardError { file: file.into(), line, message };
    let stem = Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name =
        stem.split_once('_').map(|(p, rest)| if p.chars().all(|c| c.is_ascii_digit()) { rest.to_string() } else { stem.clone() }).unwrap_or(stem);
    if text.trim_start().starts_with("/*---") && front_matter(text).is_none() {
        return Err(err(1, "the front matter `/*---` is not closed by a `---*/` line".into()));
    }
    let (front, yaml_line, body_start) = match front_matter(text) {
        Some((yaml, line, start)) => {
            let fm: FrontMatter = serde_norway::from_str(&yaml).map_err(|e| {
                let line = yaml_line_of(&e).map_or(line, |l| line + l - 1);
                let message = e.to_string();
                err(line, message.split(" at line ").next().unwrap_or(&message).to_string())
            })?;
            (Some((fm, yaml)), line, start)
        }
        None => (None, 1, 0),
    };
    // The line of `needle` inside the front matter (for errors about what it declares).
    let line_of = |needle: &str| -> usize {
        front.as_ref().and_then(|(_, yaml)| yaml.lines().position(|l| l.contains(needle))).map_or(yaml_line, |i| yaml_line + i)
    };

    let mut visuals: Vec<(Visual, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(body_start) {
        if let Some(n) = header(line, "name") {
            if visuals.iter().any(|(v, _)| v.name == n) {
                return Err(err(i + 1, format!("query `{n}` is defined twice")));
            }
            let v = Visual {
                name: n.to_string(),
                title: n.to_string(),
                chart: "table".into(),
                wide: false,
                x_log: false,
                y_log: false,
                sql: String::new(),
            };
            visuals.push((v, i + 1));
        } else if header(line, "title").is_some() || header(line, "chart").is_some() {
            return Err(err(i + 1, "titles and charts are declared in the front matter (`visuals:` at the top of the file)".into()));
        } else if let Some((v, _)) = visuals.last_mut()
            && !line.trim_start().starts_with("--")
        {
            v.sql.push_str(line);
            v.sql.push('\n');
        }
    }
    let mut title = name.clone();
    let mut slicers = Vec::new();
    if let Some((fm, _)) = &front {
        if let Some(t) = &fm.title {
            title = t.clone();
        }
        for s in &fm.slicers {
            let (attribute, label) = match s {
                SlicerYaml::Attribute(a) => (a.clone(), a.clone()),
                SlicerYaml::Labelled { attribute, label } => (attribute.clone(), label.clone().unwrap_or_else(|| attribute.clone())),
            };
            if slicers.iter().any(|x: &SlicerDecl| x.attribute == attribute) {
                return Err(err(line_of(&attribute), format!("slicer `{attribute}` is declared twice")));
            }
            slicers.push(SlicerDecl { line: line_of(&attribute), attribute, label });
        }
        for vy in &fm.visuals {
            let at = line_of(&format!("name: {}", vy.name));
            let Some((v, _)) = visuals.iter_mut().find(|(v, _)| v.name == vy.name) else {
                return Err(err(at, format!("visual `{}` has no query (a `-- name: {}` block below the front matter)", vy.name, vy.name)));
            };
            if let Some(chart) = &vy.chart {
                if !CHARTS.contains(&chart.as_str()) {
                    return Err(err(at, format!("unknown chart type `{chart}` for `{}`; the chart types are {}", vy.name, CHARTS.join(", "))));
                }
                v.chart = chart.clone();
            }
            if let Some(t) = &vy.title {
                v.title = t.clone();
            }
            let scale = |s: &Option<String>, axis: &str| -> Result<bool, DashboardError> {
                match s.as_deref() {
                    None | Some("linear") => Ok(false),
                    Some("log") if v.chart == "scatter" => Ok(true),
                    Some("log") => Err(err(at, format!("`{axis}: log` applies to scatter charts; `{}` is a {} chart", vy.name, v.chart))),
                    Some(other) => Err(err(at, format!("unknown scale `{other}` for `{axis}`; the scales are linear, log"))),
                }
            };
            v.x_log = scale(&vy.x_scale, "x_scale")?;
            v.y_log = scale(&vy.y_scale, "y_scale")?;
            v.wide = vy.wide.unwrap_or(matches!(v.chart.as_str(), "table" | "line" | "cards"));
        }
        if let Some((v, line)) = visuals.iter().find(|(v, _)| !fm.visuals.iter().any(|x| x.name == v.name)) {
            return Err(err(*line, format!("query `{}` has no entry under `visuals:` in the front matter (its title and chart)", v.name)));
        }
    } else {
        for (v, _) in visuals.iter_mut() {
            v.wide = true;
        }
    }
    let mut out = Vec::new();
    for (mut v, line) in visuals {
        v.sql = v.sql.trim().trim_end_matches(';').trim().to_string();
        if v.sql.is_empty() {
            return Err(err(line, format!("query `{}` has no SQL", v.name)));
        }
        out.push(v);
    }
    Ok(Dashboard { name, title, slicers, visuals: out, file: file.to_string() })
}

fn yaml_line_of(e: &serde_norway::Error) -> Option<usize> {
    e.location().map(|l| l.line())
}

/// The project's dashboards (`<project>/sql/dashboards/*.sql`, in file-name order), or the bundled ones.
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
    fn bundled_dashboards_are_the_files_on_disk() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/dashboards");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("sql/dashboards")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let bundled: Vec<&str> = BUNDLED.iter().map(|(f, _)| *f).collect();
        assert_eq!(bundled, on_disk);
        for (f, t) in BUNDLED {
            let d = parse(f, t).expect("parses");
            assert!(!d.visuals.is_empty() && !d.slicers.is_empty(), "{f}");
            assert!(d.visuals.iter().all(|v| !v.sql.ends_with(';') && v.sql.contains("omnimarket") && CHARTS.contains(&v.chart.as_str())));
        }
    }

    #[test]
    fn front_matter_declares_titles_charts_slicers_and_scales() {
        let text = "/*---\ntitle: Essai\nslicers: [Annee, { attribute: Nom_Canal, label: Canal }]\nvisuals:\n  - { name: a, title: Le A, chart: scatter, x_scale: log }\n  - { name: b, chart: bar, wide: true }\n---*/\n-- name: a\nSELECT 1 FROM omnimarket;\n-- name: b\nSELECT 2 FROM omnimarket;\n";
        let d = parse("7_essai.sql", text).expect("parses");
        assert_eq!((d.name.as_str(), d.title.as_str()), ("essai", "Essai"));
        assert_eq!(
            d.slicers.iter().map(|s| (s.attribute.as_str(), s.label.as_str(), s.line)).collect::<Vec<_>>(),
            [("Annee", "Annee", 3), ("Nom_Canal", "Canal", 3)]
        );
        assert_eq!(
            (d.visuals[0].title.as_str(), d.visuals[0].chart.as_str(), d.visuals[0].x_log, d.visuals[0].y_log),
            ("Le A", "scatter", true, false)
        );
        assert!(d.visuals[1].wide && !d.visuals[0].wide);
        assert_eq!(d.visuals[1].sql, "SELECT 2 FROM omnimarket");
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let bad_chart = "/*---\nvisuals:\n  - { name: a, chart: pie }\n---*/\n-- name: a\nSELECT 1;\n";
        let e = parse("x.sql", bad_chart).expect_err("unknown chart").to_string();
        assert!(e.starts_with("x.sql:3: unknown chart type `pie`") && e.contains("donut"), "{e}");
        let log_bar = "/*---\nvisuals:\n  - { name: a, chart: bar, y_scale: log }\n---*/\n-- name: a\nSELECT 1;\n";
        assert!(parse("x.sql", log_bar).expect_err("log on a bar").to_string().starts_with("x.sql:3: `y_scale: log` applies to scatter"));
        let missing = "/*---\nvisuals:\n  - { name: a }\n---*/\n-- name: a\nSELECT 1;\n-- name: b\nSELECT 2;\n";
        assert!(parse("x.sql", missing).expect_err("b undeclared").to_string().starts_with("x.sql:7: query `b` has no entry"));
        let typo = "/*---\ntitle: T\nvisual:\n  - { name: a }\n---*/\n-- name: a\nSELECT 1;\n";
        let e = parse("x.sql", typo).expect_err("unknown key").to_string();
        assert!(e.starts_with("x.sql:3:") && e.contains("visual"), "{e}");
        let header = "-- name: a\n-- chart: bar\nSELECT 1;\n";
        assert!(
            parse("x.sql", header).expect_err("old header").to_string().starts_with("x.sql:2: titles and charts are declared in the front matter")
        );
        assert!(parse("x.sql", "/*---\ntitle: T\n-- name: a\nSELECT 1;\n").expect_err("unclosed").to_string().starts_with("x.sql:1:"));
    }
}
