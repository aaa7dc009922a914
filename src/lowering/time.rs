//! Time-intelligence functions bound to [`TimeFn`]s: each maps the dates in context to other dates of the
//! date table (the planner's date map). All need the model's date column.

use super::binder::{Binder, Env, Result, Scope};
use super::ir::{Agg, Anchor, Mod, Node, PeriodUnit, TimeFn};
use crate::dax::ast::Expr;

fn unit(b: &Binder, e: Option<&Expr>, at: usize, name: &str) -> Result<PeriodUnit> {
    match Binder::keyword(e).as_deref() {
        Some("DAY") => Ok(PeriodUnit::Day),
        Some("MONTH") => Ok(PeriodUnit::Month),
        Some("QUARTER") => Ok(PeriodUnit::Quarter),
        Some("YEAR") => Ok(PeriodUnit::Year),
        _ => Err(b.err(at, format!("{name}: the interval must be DAY, MONTH, QUARTER or YEAR"))),
    }
}

/// The changes of TOTALxTD and the opening/closing balances (before their optional filter).
pub(super) fn period_total(name: &str) -> Vec<Mod> {
    let u = if name.ends_with("MONTH") || name == "TOTALMTD" {
        PeriodUnit::Month
    } else if name.ends_with("QUARTER") || name == "TOTALQTD" {
        PeriodUnit::Quarter
    } else {
        PeriodUnit::Year
    };
    if name.starts_with("TOTAL") {
        vec![Mod::Time(TimeFn::ToDate { unit: u })]
    } else if name.starts_with("OPENING") {
        // The last day of the period before: the day before the period's first day.
        vec![
            Mod::Time(TimeFn::Edge { unit: Some(u), end: false }),
            Mod::Time(TimeFn::Periods { count: -1, unit: PeriodUnit::Day, from: Anchor::First, to: Anchor::First }),
        ]
    } else {
        vec![Mod::Time(TimeFn::Edge { unit: Some(u), end: true })]
    }
}

impl<'a> Binder<'a> {
    /// A date bound of DATESBETWEEN/DATESINPERIOD: literal dates, FIRSTDATE/LASTDATE/MIN/MAX of the dates in
    /// context, and arithmetic on them. BLANK is `None`.
    fn date_bound(&mut self, e: &Expr, env: &Env, scope: &mut Scope, name: &str) -> Result<Option<Node>> {
        let bound_env = Env { mods: Vec::new(), depth: env.depth, row: None, transitioned: true };
        let n = self.lower(e, &bound_env, scope)?;
        if n == Node::Blank {
            return Ok(None);
        }
        let (d, c) = (self.model.date_table, self.model.date_column.as_str());
        fn ok(n: &Node, d: usize, c: &str) -> bool {
            match n {
                Node::Leaf(l) => {
                    l.table == d
                        && matches!(l.agg, Agg::Min | Agg::Max)
                        && l.mods.is_empty()
                        && l.filter.is_none()
                        && matches!(l.value.as_deref(), Some(Node::Column { column, .. }) if column == c)
                }
                Node::Iterate(_) | Node::IntersectCount { .. } | Node::Outer(_) | Node::Info(_) | Node::Column { .. } => false,
                other => other.children().iter().all(|x| ok(x, d, c)),
            }
        }
        if !ok(&n, d, c) {
            return Err(self.err(
                e.at(),
                format!("{name}: a bound may be a date (DATE(2024, 1, 31)), FIRSTDATE/LASTDATE/MIN/MAX of the date column, or arithmetic on them"),
            ));
        }
        Ok(Some(n))
    }

    /// A time-intelligence function as context changes; `None` when `name` is not one.
    pub(super) fn time_filter(&mut self, name: &str, args: &[Option<Expr>], at: usize, env: &Env, scope: &mut Scope) -> Result<Option<Vec<Mod>>> {
        let periods = |count, unit, anchor| TimeFn::Periods { count, unit, from: anchor, to: anchor };
        let f = match name {
            "SAMEPERIODLASTYEAR" => TimeFn::Shift { count: -1, unit: PeriodUnit::Year },
            "DATEADD" => {
                let count = self.integer(self.arg(name, args, 1, at)?, "DATEADD: the number of intervals")?;
                TimeFn::Shift { count, unit: unit(self, Self::opt_arg(args, 2), at, name)? }
            }
            "PARALLELPERIOD" => {
                let count = self.integer(self.arg(name, args, 1, at)?, "PARALLELPERIOD: the number of intervals")?;
                let u = unit(self, Self::opt_arg(args, 2), at, name)?;
                if u == PeriodUnit::Day {
                    return Err(self.err(at, "PARALLELPERIOD: the interval must be MONTH, QUARTER or YEAR"));
                }
                TimeFn::Periods { count, unit: u, from: Anchor::First, to: Anchor::Last }
            }
            "PREVIOUSDAY" => periods(-1, PeriodUnit::Day, Anchor::First),
            "PREVIOUSMONTH" => periods(-1, PeriodUnit::Month, Anchor::First),
            "PREVIOUSQUARTER" => periods(-1, PeriodUnit::Quarter, Anchor::First),
            "PREVIOUSYEAR" => periods(-1, PeriodUnit::Year, Anchor::Last),
            "NEXTDAY" => periods(1, PeriodUnit::Day, Anchor::Last),
            "NEXTMONTH" => periods(1, PeriodUnit::Month, Anchor::Last),
            "NEXTQUARTER" => periods(1, PeriodUnit::Quarter, Anchor::Last),
            "NEXTYEAR" => periods(1, PeriodUnit::Year, Anchor::First),
            "DATESMTD" => TimeFn::ToDate { unit: PeriodUnit::Month },
            "DATESQTD" => TimeFn::ToDate { unit: PeriodUnit::Quarter },
            "DATESYTD" => {
                if args.len() > 1 {
                    return Err(self.err(at, "DATESYTD: a fiscal year end is not supported; years end on 31 December"));
                }
                TimeFn::ToDate { unit: PeriodUnit::Year }
            }
            "DATESBETWEEN" => {
                let start = self.date_bound(self.arg(name, args, 1, at)?, env, scope, name)?;
                let end = self.date_bound(self.arg(name, args, 2, at)?, env, scope, name)?;
                TimeFn::Between { start: start.map(Box::new), end: end.map(Box::new) }
            }
            "DATESINPERIOD" => {
                let start = self
                    .date_bound(self.arg(name, args, 1, at)?, env, scope, name)?
                    .ok_or_else(|| self.err(at, "DATESINPERIOD: the start date cannot be BLANK"))?;
                let count = self.integer(self.arg(name, args, 2, at)?, "DATESINPERIOD: the number of intervals")?;
                if count == 0 {
                    return Err(self.err(at, "DATESINPERIOD: the number of intervals cannot be 0"));
                }
                TimeFn::InPeriod { start: Box::new(start), count, unit: unit(self, Self::opt_arg(args, 3), at, name)? }
            }
            "FIRSTDATE" => TimeFn::Edge { unit: None, end: false },
            "LASTDATE" => TimeFn::Edge { unit: None, end: true },
            "STARTOFMONTH" => TimeFn::Edge { unit: Some(PeriodUnit::Month), end: false },
            "ENDOFMONTH" => TimeFn::Edge { unit: Some(PeriodUnit::Month), end: true },
            "STARTOFQUARTER" => TimeFn::Edge { unit: Some(PeriodUnit::Quarter), end: false },
            "ENDOFQUARTER" => TimeFn::Edge { unit: Some(PeriodUnit::Quarter), end: true },
            "STARTOFYEAR" => TimeFn::Edge { unit: Some(PeriodUnit::Year), end: false },
            "ENDOFYEAR" => TimeFn::Edge { unit: Some(PeriodUnit::Year), end: true },
            _ => return Ok(None),
        };
        self.date_column(self.arg(name, args, 0, at)?)?;
        Ok(Some(vec![Mod::Time(f)]))
    }
}
