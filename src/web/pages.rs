//! The dashboards as HTML: each visual of `sql/dashboards/<page>.sql` run through the engine with the page's
//! slicers as filter context, then drawn as KPI cards, an SVG chart (with its data in a table below) or a
//! table. The same functions serve `serve --http` and write `report --out`; they know nothing of HTTP.

use std::fmt::Write;

use futures::future::join_all;

use super::WebError;
use super::charts::{self, ScatterPoint};
use super::format::{compact, full, month_name};
use super::html::{Links, esc, page};
use super::table::{Cell, ResultTable};
use crate::dashboards::{Dashboard, Visual};
use crate::engine::Engine;
use crate::model::{Format, Model};
use crate::query::{Predicate, Value};

/// Rows a table shows at most (the chart above it shows every row it can).
const TABLE_ROWS: usize = 100;
/// Bars a bar or donut chart shows at most.
const CHART_ROWS: usize = 40;

#[derive(Debug, Clone)]
pub struct SlicerOption {
    /// The value as written in the URL (`2024`, `Web`).
    pub value: String,
    pub label: String,
    pub literal: Value,
}

#[derive(Debug, Clone)]
pub struct Slicer {
    pub attribute: String,
    pub label: String,
    pub options: Vec<SlicerOption>,
}

/// The values of every slicer the dashboards declare (each attribute once): the attribute's members, from
/// `SELECT a FROM omnimarket GROUP BY a`. An attribute the model lacks is an error at its declaration.
pub async fn load_slicers(engine: &Engine, dashboards: &[Dashboard]) -> Result<Vec<Slicer>, WebError> {
    let model = engine.model();
    let mut out: Vec<Slicer> = Vec::new();
    let mut declared: Vec<(&Dashboard, &crate::dashboards::SlicerDecl)> = Vec::new();
    for d in dashboards {
        declared.extend(d.slicers.iter().map(|s| (d, s)));
    }
    for (board, decl) in declared {
        let (attribute, label) = (decl.attribute.as_str(), decl.label.clone());
        if out.iter().any(|s| s.attribute == attribute) {
            continue;
        }
        if !model.attributes.iter().any(|a| a.name == attribute) {
            let names = model.attributes.iter().map(|a| a.name.as_str());
            return Err(WebError::Query(format!(
                "{}:{}: slicer `{attribute}`: the model has no such attribute{}",
                board.file,
                decl.line,
                crate::suggest::hint(attribute, names)
            )));
        }
        let sql = format!("SELECT {attribute} FROM {} GROUP BY {attribute} ORDER BY {attribute}", model.name);
        let table = run(engine, &sql, &[]).await.map_err(|e| WebError::Query(format!("slicer {attribute}: {e}")))?;
        let mut options = Vec::new();
        for row in &table.rows {
            // The BLANK member (orphan keys) cannot be picked: `= NULL` matches nothing.
            let (literal, value) = match row.first() {
                Some(Cell::Int(i)) => (Value::Number(i.to_string()), i.to_string()),
                Some(Cell::Float(f)) => (Value::Number(f.to_string()), f.to_string()),
                Some(Cell::Text(s)) => (Value::Text(s.clone()), s.clone()),
                _ => continue,
            };
            let label = match (attribute, &literal) {
                ("Mois", Value::Number(n)) => n.parse().ok().and_then(month_name).map_or_else(|| value.clone(), str::to_string),
                _ => value.clone(),
            };
            options.push(SlicerOption { value, label, literal });
        }
        out.push(Slicer { attribute: attribute.to_string(), label, options });
    }
    Ok(out)
}

/// What the reader picked: per slicer, the chosen values (several values of one slicer are an IN).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub chosen: Vec<(usize, Vec<usize>)>,
}

impl Selection {
    /// Reads `?Annee=2024&Nom_Canal=Web` (empty values are "all"); an unknown slicer or value is an error that
    /// names the choices, never a silently ignored filter.
    pub fn parse(slicers: &[Slicer], params: &[(String, String)]) -> Result<Selection, WebError> {
        let mut chosen: Vec<(usize, Vec<usize>)> = Vec::new();
        for (key, value) in params {
            if value.is_empty() {
                continue;
            }
            let Some(s) = slicers.iter().position(|s| s.attribute == *key) else {
                let names: Vec<&str> = slicers.iter().map(|s| s.attribute.as_str()).collect();
                return Err(WebError::BadRequest(format!("unknown slicer `{key}`; the slicers are {}", names.join(", "))));
            };
            let Some(o) = slicers[s].options.iter().position(|o| o.value == *value) else {
                return Err(WebError::BadRequest(format!("`{value}` is not a value of {key}")));
            };
            match chosen.iter_mut().find(|(i, _)| *i == s) {
                Some((_, values)) if !values.contains(&o) => values.push(o),
                Some(_) => {}
                None => chosen.push((s, vec![o])),
            }
        }
        Ok(Selection { chosen })
    }

    pub fn is_empty(&self) -> bool {
        self.chosen.is_empty()
    }

    /// The filter context: one predicate per slicer.
    pub fn predicates(&self, slicers: &[Slicer]) -> Vec<Predicate> {
        self.chosen
            .iter()
            .map(|(s, values)| {
                let slicer = &slicers[*s];
                let attribute = slicer.attribute.clone();
                match values.as_slice() {
                    [one] => Predicate::Compare { attribute, op: "=", value: slicer.options[*one].literal.clone() },
                    many => Predicate::In { attribute, values: many.iter().map(|o| slicer.options[*o].literal.clone()).collect(), negated: false },
                }
            })
            .collect()
    }

    fn has(&self, slicer: usize, option: usize) -> bool {
        self.chosen.iter().any(|(s, v)| *s == slicer && v.contains(&option))
    }
}

/// Runs one SQL text (plain or semantic) with the slicers' predicates.
pub async fn run(engine: &Engine, sql: &str, filters: &[Predicate]) -> Result<ResultTable, String> {
    let (schema, batches) = engine.query(sql, filters).await.map_err(|e| crate::errors::describe_error(&e))?;
    Ok(ResultTable::from_batches(&schema, &batches))
}

/// A rendered page, and the visuals that failed (their error is shown in place; the report exits non-zero).
pub struct Page {
    pub html: String,
    pub errors: Vec<(String, String)>,
}

/// The navigation page: the five dashboards and what each shows.
pub fn index(dashboards: &[Dashboard], links: Links) -> String {
    let mut body = String::from("<h1>Tableaux de bord</h1><ul class=\"boards\">");
    for d in dashboards {
        let _ = write!(body, r#"<li><a href="{}">{}</a><p class="note">"#, esc(&links.dashboard(&d.name)), esc(&d.title));
        let titles: Vec<String> = d.visuals.iter().map(|v| esc(&v.title)).collect();
        let _ = write!(body, "{}</p></li>", titles.join(" · "));
    }
    body.push_str("</ul><p class=\"note\">API : <code>POST /api/query</code> (JSON ou Arrow IPC), <code>GET /api/model</code>.</p>");
    page("Tableaux de bord", dashboards, None, links, &body)
}

/// One dashboard with the reader's slicers applied to every visual. `links` decides whether the slicer form is
/// shown (a static report has no server to send it to).
pub async fn dashboard(
    engine: &Engine,
    dashboards: &[Dashboard],
    board: &Dashboard,
    slicers: &[Slicer],
    selection: &Selection,
    links: Links,
) -> Page {
    let filters = selection.predicates(slicers);
    let results = join_all(board.visuals.iter().map(|v| run(engine, &v.sql, &filters))).await;
    let model = engine.model();
    let mut body = format!("<h1>{}</h1>", esc(&board.title));
    if links == Links::Server {
        body.push_str(&slicer_form(board, slicers, selection, links));
    }
    body.push_str(&filter_summary(slicers, selection));
    let mut errors = Vec::new();
    let mut cards = String::new();
    let mut grid = String::new();
    for (v, result) in board.visuals.iter().zip(results) {
        let html = match result {
            Ok(table) => visual(model, v, &table),
            Err(e) => {
                errors.push((v.name.clone(), e.clone()));
                format!(r#"<h2>{}</h2><div class="error">{}</div>"#, esc(&v.title), esc(&e))
            }
        };
        let wide = if v.wide { " wide" } else { "" };
        let section =
            format!(r#"<section class="visual{wide}" id="{0}" data-visual="{0}" data-chart="{1}">{html}</section>"#, esc(&v.name), esc(&v.chart));
        if v.chart == "cards" { cards.push_str(&section) } else { grid.push_str(&section) }
    }
    body.push_str(&cards);
    let _ = write!(body, r#"<div class="grid">{grid}</div>"#);
    Page { html: page(&board.title, dashboards, Some(&board.name), links, &body), errors }
}

/// A plain GET form: works without JavaScript; "Appliquer" reloads the page with the slicers in the URL.
fn slicer_form(board: &Dashboard, slicers: &[Slicer], selection: &Selection, links: Links) -> String {
    let mut f = format!(r#"<form class="slicers" method="get" action="{}">"#, esc(&links.dashboard(&board.name)));
    for (i, s) in slicers.iter().enumerate() {
        let _ = write!(f, r#"<label>{}<select name="{}"><option value="">Tous</option>"#, esc(&s.label), esc(&s.attribute));
        for (j, o) in s.options.iter().enumerate() {
            let sel = if selection.has(i, j) { " selected" } else { "" };
            let _ = write!(f, r#"<option value="{}"{sel}>{}</option>"#, esc(&o.value), esc(&o.label));
        }
        f.push_str("</select></label>");
    }
    let _ = write!(f, r#"<button type="submit">Appliquer</button><a href="{}">Réinitialiser</a></form>"#, esc(&links.dashboard(&board.name)));
    f
}

fn filter_summary(slicers: &[Slicer], selection: &Selection) -> String {
    if selection.is_empty() {
        return r#"<p class="filters">Filtres : aucun (toutes les données)</p>"#.into();
    }
    let parts: Vec<String> = selection
        .chosen
        .iter()
        .map(|(s, values)| {
            let labels: Vec<&str> = values.iter().map(|o| slicers[*s].options[*o].label.as_str()).collect();
            format!("{} = {}", slicers[*s].label, labels.join(", "))
        })
        .collect();
    format!(r#"<p class="filters">Filtres : {}</p>"#, esc(&parts.join(" · ")))
}

/// How a column's numbers read: the measure's own format; for derived columns, their name says (`Part_`,
/// `Taux_` are shares); otherwise integer or decimal from the type.
fn column_format(model: &Model, table: &ResultTable, col: usize) -> Format {
    let c = &table.columns[col];
    if let Some(m) = model.measures.iter().find(|m| m.name == c.name) {
        return m.format;
    }
    if ["Part_", "Taux_", "Contribution"].iter().any(|p| c.name.starts_with(p)) {
        Format::Percent
    } else if c.data_type.contains("Int") {
        Format::Integer
    } else if c.numeric {
        Format::Decimal
    } else {
        Format::Text
    }
}

/// Group-by columns: the model's attributes (even numeric ones such as Annee) and any text column.
fn is_dimension(model: &Model, table: &ResultTable, col: usize) -> bool {
    let c = &table.columns[col];
    !c.numeric || (model.attributes.iter().any(|a| a.name == c.name) && !model.measures.iter().any(|m| m.name == c.name))
}

fn label(name: &str) -> String {
    name.replace('_', " ")
}

fn cell_text(cell: &Cell, format: Format, short: bool) -> String {
    match cell.number() {
        Some(v) if short => compact(v, format),
        Some(v) => full(v, format),
        // A BLANK measure reads as a dash, as in Power BI's cards.
        None if *cell == Cell::Null => "–".into(),
        None => cell.text(),
    }
}

/// The row's label: its group-by values; (Annee, Mois) as `01/2024`.
fn row_label(table: &ResultTable, dims: &[usize], row: &[Cell]) -> String {
    let names: Vec<&str> = dims.iter().map(|d| table.columns[*d].name.as_str()).collect();
    if names == ["Annee", "Mois"]
        && let (Some(Cell::Int(y)), Some(Cell::Int(m))) = (row.get(dims[0]), row.get(dims[1]))
    {
        return format!("{m:02}/{y}");
    }
    let parts: Vec<String> = dims.iter().map(|d| row.get(*d).map(Cell::text).filter(|t| !t.is_empty()).unwrap_or_else(|| "(vide)".into())).collect();
    parts.join(" · ")
}

/// One visual's HTML: title, then cards, a chart with its data, or a table.
pub fn visual(model: &Model, v: &Visual, table: &ResultTable) -> String {
    let mut out = format!("<h2>{}</h2>", esc(&v.title));
    let formats: Vec<Format> = (0..table.columns.len()).map(|c| column_format(model, table, c)).collect();
    let dims: Vec<usize> = (0..table.columns.len()).filter(|c| is_dimension(model, table, *c)).collect();
    let measures: Vec<usize> = (0..table.columns.len()).filter(|c| !dims.contains(c)).collect();
    if v.chart == "cards" {
        out.push_str(&cards(model, table, &formats));
        return out;
    }
    if table.rows.is_empty() {
        out.push_str(r#"<p class="note">Aucune donnée pour ces filtres.</p>"#);
        return out;
    }
    let rows = &table.rows[..table.rows.len().min(CHART_ROWS)];
    let first = measures.first().copied();
    let points = |m: usize| -> Vec<(String, f64)> {
        rows.iter().map(|r| (row_label(table, &dims, r), r.get(m).and_then(Cell::number).unwrap_or(0.0))).collect()
    };
    let chart = match (v.chart.as_str(), first) {
        ("bar", Some(m)) => Some(charts::bar(&v.title, &points(m), formats[m])),
        ("donut", Some(m)) => Some(charts::donut(&v.title, &points(m), formats[m])),
        ("funnel", Some(m)) => Some(charts::funnel(&v.title, &points(m), formats[m])),
        ("line", Some(m)) => {
            let xs: Vec<String> = table.rows.iter().map(|r| row_label(table, &dims, r)).collect();
            // Only the series in the first one's unit share its axis (a rate beside revenue would be flat).
            let series: Vec<(String, Vec<Option<f64>>)> = measures
                .iter()
                .filter(|c| formats[**c] == formats[m])
                .take(3)
                .map(|c| (label(&table.columns[*c].name), table.rows.iter().map(|r| r.get(*c).and_then(Cell::number)).collect()))
                .collect();
            Some(charts::line(&v.title, &xs, &series, formats[m]))
        }
        ("scatter", Some(x)) if measures.len() >= 2 => {
            let y = measures[1];
            let group = dims.get(1).copied();
            let pts: Vec<ScatterPoint> = table
                .rows
                .iter()
                .filter_map(|r| {
                    Some(ScatterPoint {
                        label: r.get(dims.first().copied()?).map(Cell::text).unwrap_or_default(),
                        group: group.and_then(|g| r.get(g)).map(Cell::text).unwrap_or_default(),
                        x: r.get(x)?.number()?,
                        y: r.get(y)?.number()?,
                    })
                })
                .collect();
            let axes = (table.columns[x].name.as_str(), formats[x], table.columns[y].name.as_str(), formats[y]);
            Some(charts::scatter(&v.title, &pts, axes, (v.x_log, v.y_log)))
        }
        _ => None,
    };
    match chart {
        Some(svg) => {
            out.push_str(&svg);
            if table.rows.len() > rows.len() && matches!(v.chart.as_str(), "bar" | "donut" | "funnel") {
                let _ = write!(out, r#"<p class="note">{} premières lignes sur {}.</p>"#, rows.len(), table.rows.len());
            }
            let _ = write!(out, "<details><summary>Données ({} lignes)</summary>{}</details>", table.rows.len(), data_table(table, &formats));
        }
        None => out.push_str(&data_table(table, &formats)),
    }
    out
}

/// One card per column of the first row; `data-value` holds the raw number so that tests (and scrapers) can
/// check it against the measure.
fn cards(model: &Model, table: &ResultTable, formats: &[Format]) -> String {
    let mut out = String::from(r#"<div class="cards">"#);
    let row = table.rows.first();
    for (i, c) in table.columns.iter().enumerate() {
        let cell = row.and_then(|r| r.get(i)).cloned().unwrap_or(Cell::Null);
        let description = model.measures.iter().find(|m| m.name == c.name).map(|m| m.description.as_str()).unwrap_or("");
        let _ = write!(
            out,
            r#"<div class="card" data-measure="{}" data-value="{}" title="{}"><div class="name">{}</div><div class="value{}">{}</div></div>"#,
            esc(&c.name),
            esc(&cell.text()),
            esc(description),
            esc(&label(&c.name)),
            // A name (the top product) wraps on a smaller line rather than overflowing the card.
            if matches!(cell, Cell::Text(_)) { " text" } else { "" },
            esc(&cell_text(&cell, formats[i], true))
        );
    }
    out.push_str("</div>");
    out
}

fn data_table(table: &ResultTable, formats: &[Format]) -> String {
    let numeric = |i: usize| formats[i] != Format::Text && table.columns[i].numeric;
    let mut out = String::from("<table><thead><tr>");
    for (i, c) in table.columns.iter().enumerate() {
        let class = if numeric(i) { r#" class="num""# } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", esc(&label(&c.name)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in table.rows.iter().take(TABLE_ROWS) {
        out.push_str("<tr>");
        for (i, cell) in r.iter().enumerate() {
            let class = if numeric(i) { r#" class="num""# } else { "" };
            // Years and months are labels, not quantities: no thousands separator in 2 024.
            let text = if numeric(i) && !matches!(table.columns[i].name.as_str(), "Annee" | "Mois") {
                cell_text(cell, formats[i], false)
            } else {
                cell.text()
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(&text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if table.rows.len() > TABLE_ROWS {
        let _ = write!(out, r#"<p class="note">{TABLE_ROWS} premières lignes sur {}.</p>"#, table.rows.len());
    }
    out
}
