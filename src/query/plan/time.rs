//! The date map of time intelligence: for each combination of the context's date keys, the dates its context
//! selects, transformed by each [`TimeFn`] in turn (shift a year, previous month, year to date, ...).

use std::fmt::Write;

use super::context::TimeCtx;
use super::{Planner, Result};
use crate::lowering::ir::{Agg, Anchor, Node, PeriodUnit, TimeFn};
use crate::model::bind::{quote, source_sql};

/// `x` moved by `n` of `unit` (SQL interval arithmetic, cast back to DATE).
fn moved(x: &str, n: i64, unit: PeriodUnit) -> String {
    if n == 0 {
        return format!("CAST({x} AS DATE)");
    }
    let (sign, n) = if n < 0 { ("-", -n) } else { ("+", n) };
    match unit.months() {
        None => format!("CAST({x} {sign} INTERVAL '{n}' DAY AS DATE)"),
        Some(m) => format!("CAST({x} {sign} INTERVAL '{}' MONTH AS DATE)", n * m),
    }
}

fn start_of(x: &str, unit: PeriodUnit) -> String {
    match unit {
        PeriodUnit::Day => format!("CAST({x} AS DATE)"),
        u => format!("CAST(date_trunc('{}', {x}) AS DATE)", u.sql()),
    }
}

/// The last day of the unit holding `x`.
fn end_of(x: &str, unit: PeriodUnit) -> String {
    match unit {
        PeriodUnit::Day => format!("CAST({x} AS DATE)"),
        u => format!("CAST({} - INTERVAL '1' DAY AS DATE)", moved(&start_of(x, u), 1, u)),
    }
}

fn anchor(a: Anchor) -> &'static str {
    match a {
        Anchor::First => "a.\"__mn\"",
        Anchor::Last => "a.\"__mx\"",
    }
}

impl<'a> Planner<'a> {
    /// A date bound as SQL over the aggregated dates in context (`a.__mn`, `a.__mx`) and a date row `d`.
    fn date_sql(&self, n: &Node, date_expr: &str) -> Result<String> {
        let dcol = self.model().date_column.clone();
        self.render_row(n, &|x: &Node| match x {
            Node::Leaf(l) if matches!(l.agg, Agg::Min) => Some("a.\"__mn\"".to_string()),
            Node::Leaf(l) if matches!(l.agg, Agg::Max) => Some("a.\"__mx\"".to_string()),
            Node::Column { column, .. } if *column == dcol => Some(date_expr.to_string()),
            _ => None,
        })
    }

    pub(super) fn date_map(&mut self, time: &TimeCtx) -> Result<String> {
        let model = self.model();
        let date = &model.tables[model.date_table];
        let dsrc = source_sql(&date.source);
        let dcol = quote(&model.date_column);
        let dd = format!("d.{dcol}");
        let names: Vec<String> = time.keys.iter().map(|k| quote(&k.name)).collect();
        let mut select: Vec<String> = time.keys.iter().map(|k| format!("d.{} AS {}", quote(&k.column), quote(&k.name))).collect();
        select.push(format!("{dd} AS \"__d\""));
        let mut sql = format!("SELECT DISTINCT {} FROM {dsrc} d", select.join(", "));
        let wheres = time.filters.iter().map(|f| self.filter_sql(f, "d")).collect::<Result<Vec<String>>>()?;
        if !wheres.is_empty() {
            let _ = write!(sql, " WHERE {}", wheres.join(" AND "));
        }
        let mut map = self.cte("dm", sql);
        let keys_m: Vec<String> = names.iter().map(|n| format!("m.{n}")).collect();
        let keys_a: Vec<String> = names.iter().map(|n| format!("a.{n}")).collect();
        let group = if names.is_empty() { String::new() } else { format!(" GROUP BY {}", names.join(", ")) };
        let with = |v: &[String], extra: &str| {
            let mut all = v.to_vec();
            all.push(extra.to_string());
            all.join(", ")
        };
        let out_m = with(&keys_m, &format!("{dd} AS \"__d\""));
        let out_a = with(&keys_a, &format!("{dd} AS \"__d\""));
        for f in &time.fns {
            // The first and last dates in context per key, for the functions that work on the range.
            let range = format!("(SELECT {} FROM {map}{group}) a", with(&names, "MIN(\"__d\") AS \"__mn\", MAX(\"__d\") AS \"__mx\""));
            let between = |lo: String, hi: String| format!("SELECT DISTINCT {out_a} FROM {range} JOIN {dsrc} d ON {dd} >= {lo} AND {dd} <= {hi}");
            let sql = match f {
                TimeFn::Shift { count, unit } => {
                    let target = moved("m.\"__d\"", *count, *unit);
                    match unit {
                        PeriodUnit::Day => format!("SELECT DISTINCT {out_m} FROM {map} m JOIN {dsrc} d ON {dd} = {target}"),
                        _ => {
                            // A month's last day moves to the whole end of the target month (28 Feb → 28 and 29 Feb).
                            let month_end = end_of("m.\"__d\"", PeriodUnit::Month);
                            format!(
                                "SELECT DISTINCT {out_m} FROM {map} m JOIN {dsrc} d ON {dd} = {target} \
                                 UNION SELECT DISTINCT {out_m} FROM {map} m JOIN {dsrc} d ON {} = {} \
                                 WHERE m.\"__d\" = {month_end} AND {dd} > {target}",
                                start_of(&dd, PeriodUnit::Month),
                                start_of(&target, PeriodUnit::Month)
                            )
                        }
                    }
                }
                TimeFn::Periods { count, unit, from, to } => {
                    let lo = moved(&start_of(anchor(*from), *unit), *count, *unit);
                    let hi = end_of(&moved(&start_of(anchor(*to), *unit), *count, *unit), *unit);
                    between(lo, hi)
                }
                TimeFn::ToDate { unit } => between(start_of("a.\"__mx\"", *unit), "a.\"__mx\"".into()),
                TimeFn::InPeriod { start, count, unit } => {
                    let s = self.date_sql(start, &dd)?;
                    let (lo, hi) = match (unit, *count < 0) {
                        (PeriodUnit::Day, true) => (moved(&s, count + 1, PeriodUnit::Day), s.clone()),
                        (PeriodUnit::Day, false) => (s.clone(), moved(&s, count - 1, PeriodUnit::Day)),
                        (u, true) => {
                            // A period ending on a month's last day is whole calendar months.
                            let months = -count * u.months().unwrap_or(1);
                            let lo = format!(
                                "CASE WHEN {s} = {eom} THEN {whole} ELSE CAST({} + INTERVAL '1' DAY AS DATE) END",
                                moved(&s, -months, PeriodUnit::Month),
                                eom = end_of(&s, PeriodUnit::Month),
                                whole = moved(&start_of(&s, PeriodUnit::Month), -(months - 1), PeriodUnit::Month),
                            );
                            (lo, s.clone())
                        }
                        (u, false) => (s.clone(), format!("CAST({} - INTERVAL '1' DAY AS DATE)", moved(&s, *count, *u))),
                    };
                    between(lo, hi)
                }
                TimeFn::Between { start, end } => {
                    let mut conds = Vec::new();
                    if let Some(s) = start {
                        conds.push(format!("{dd} >= {}", self.date_sql(s, &dd)?));
                    }
                    if let Some(e) = end {
                        conds.push(format!("{dd} <= {}", self.date_sql(e, &dd)?));
                    }
                    let on = if conds.is_empty() { "TRUE".to_string() } else { conds.join(" AND ") };
                    format!("SELECT DISTINCT {out_a} FROM {range} JOIN {dsrc} d ON {on} WHERE a.\"__mn\" IS NOT NULL")
                }
                TimeFn::Edge { unit, end } => {
                    let x = match (unit, end) {
                        (None, false) => "a.\"__mn\"".to_string(),
                        (None, true) => "a.\"__mx\"".to_string(),
                        (Some(u), false) => start_of("a.\"__mn\"", *u),
                        (Some(u), true) => end_of("a.\"__mx\"", *u),
                    };
                    format!("SELECT DISTINCT {out_a} FROM {range} JOIN {dsrc} d ON {dd} = {x}")
                }
                TimeFn::Where { pred, selected } => {
                    let mut on = vec![format!("COALESCE({}, FALSE)", self.date_sql(pred, &dd)?)];
                    if *selected {
                        // ALLSELECTED: the dates the query's own filters allow.
                        let date_table = self.model().date_table;
                        for f in self.root_filters.clone().iter().filter(|f| f.table == date_table) {
                            on.push(self.filter_sql(f, "d")?);
                        }
                    }
                    format!("SELECT DISTINCT {out_a} FROM {range} JOIN {dsrc} d ON {}", on.join(" AND "))
                }
            };
            map = self.cte("dm", sql);
        }
        Ok(map)
    }
}
