//! Charts as hand-written SVG, drawn on the server: bars, donut, lines, scatter and funnel. Each is a pure
//! function from numbers to markup, so the pages need no JavaScript and the static report embeds them as is.
//! Written by hand rather than with plotters: these five shapes are a few hundred lines, the output is small
//! and styled by the page's CSS, text stays real (selectable, searchable) text, and no font files are needed.
//! Not a charting library: no interaction, no axes beyond what a dashboard card needs.

use std::fmt::Write;

use super::format::{compact, percent};
use super::html::esc;
use crate::model::Format;

/// The colours of series and slices, in order (colour-blind-safe Okabe–Ito palette, then greys).
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999"];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn open(width: f64, height: f64, label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{}" class="chart">"#,
        esc(label)
    )
}

/// A label cut to `max` characters, with an ellipsis (the full text stays in the `<title>` tooltip).
fn clip(label: &str, max: usize) -> String {
    if label.chars().count() <= max { label.to_string() } else { format!("{}…", label.chars().take(max - 1).collect::<String>()) }
}

/// The largest value, at least something positive so that an all-zero chart still draws.
fn top(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.filter(|v| v.is_finite()).fold(0.0_f64, |a, v| a.max(v.abs()));
    if m > 0.0 { m } else { 1.0 }
}

/// Horizontal bars, one per row, in the order given (the query's ORDER BY).
pub fn bar(label: &str, points: &[(String, f64)], format: Format) -> String {
    let row = 24.0;
    let (left, right, width) = (185.0, 110.0, 640.0);
    let height = row * points.len() as f64 + 8.0;
    let max = top(points.iter().map(|p| p.1));
    // Negative values (a year-on-year fall) grow left from a zero line.
    let has_neg = points.iter().any(|p| p.1 < 0.0);
    let span = width - left - right;
    let zero = if has_neg { left + span / 2.0 } else { left };
    let scale = if has_neg { span / 2.0 / max } else { span / max };
    let mut s = open(width, height, label);
    for (i, (name, v)) in points.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let w = if v.is_finite() { (v * scale).abs() } else { 0.0 };
        let x = if *v < 0.0 { zero - w } else { zero };
        let text = compact(*v, format);
        let _ = write!(
            s,
            r#"<g><title>{} : {}</title><text x="{:.1}" y="{:.1}" class="lbl" text-anchor="end">{}</text><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" class="val">{}</text></g>"#,
            esc(name),
            esc(&text),
            left - 6.0,
            y + row * 0.62,
            esc(&clip(name, 22)),
            y + 3.0,
            row - 6.0,
            colour(0),
            if *v < 0.0 { zero + 4.0 } else { x + w + 4.0 },
            y + row * 0.62,
            esc(&text),
        );
    }
    s.push_str("</svg>");
    s
}

/// A donut of the shares of each row, with a legend giving each value and share.
pub fn donut(label: &str, points: &[(String, f64)], format: Format) -> String {
    let total: f64 = points.iter().map(|p| p.1.max(0.0)).filter(|v| v.is_finite()).sum();
    let (cx, cy, r, hole) = (110.0, 110.0, 100.0, 58.0);
    let legend_row = 22.0;
    let height = (220.0_f64).max(legend_row * points.len() as f64 + 10.0);
    let mut s = open(640.0, height, label);
    let mut angle = -std::f64::consts::FRAC_PI_2;
    for (i, (name, v)) in points.iter().enumerate() {
        let share = if total > 0.0 && v.is_finite() { v.max(0.0) / total } else { 0.0 };
        let title = format!("{} : {} ({})", name, compact(*v, format), percent(share));
        if share >= 0.9999 {
            // One slice is the whole circle: an arc cannot start and end at the same point.
            let _ = write!(
                s,
                r#"<g><title>{}</title><circle cx="{cx}" cy="{cy}" r="{:.1}" fill="none" stroke="{}" stroke-width="{:.1}"/></g>"#,
                esc(&title),
                (r + hole) / 2.0,
                colour(i),
                r - hole
            );
        } else if share > 0.0 {
            let end = angle + share * std::f64::consts::TAU;
            let large = if share > 0.5 { 1 } else { 0 };
            let (x0, y0, x1, y1) = (cx + r * angle.cos(), cy + r * angle.sin(), cx + r * end.cos(), cy + r * end.sin());
            let (x2, y2, x3, y3) = (cx + hole * end.cos(), cy + hole * end.sin(), cx + hole * angle.cos(), cy + hole * angle.sin());
            let _ = write!(
                s,
                r#"<path d="M{x0:.2} {y0:.2}A{r} {r} 0 {large} 1 {x1:.2} {y1:.2}L{x2:.2} {y2:.2}A{hole} {hole} 0 {large} 0 {x3:.2} {y3:.2}Z" fill="{}"><title>{}</title></path>"#,
                colour(i),
                esc(&title)
            );
            angle = end;
        }
        let ly = 8.0 + i as f64 * legend_row;
        let _ = write!(
            s,
            r#"<rect x="250" y="{ly:.1}" width="12" height="12" fill="{}"/><text x="270" y="{:.1}" class="lbl">{} — {} ({})</text>"#,
            colour(i),
            ly + 10.5,
            esc(&clip(name, 28)),
            esc(&compact(*v, format)),
            esc(&percent(share))
        );
    }
    let _ = write!(s, r#"<text x="{cx}" y="{:.1}" class="total" text-anchor="middle">{}</text>"#, cy + 5.0, esc(&compact(total, format)));
    s.push_str("</svg>");
    s
}

/// Lines over an ordered x axis (months), one per series, with the y axis from zero.
pub fn line(label: &str, xs: &[String], series: &[(String, Vec<Option<f64>>)], format: Format) -> String {
    // Wider than the other charts: a line chart spans the page, and its text must not grow with it.
    let (width, height, left, right, top_m, bottom) = (1100.0, 300.0, 80.0, 10.0, 24.0, 40.0);
    let max = top(series.iter().flat_map(|(_, v)| v.iter().flatten().copied()));
    let min = series.iter().flat_map(|(_, v)| v.iter().flatten().copied()).filter(|v| v.is_finite()).fold(0.0_f64, f64::min);
    let (pw, ph) = (width - left - right, height - top_m - bottom);
    let n = xs.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + pw * i as f64 / n;
    let y = |v: f64| top_m + ph * (1.0 - (v - min) / (max - min));
    let mut s = open(width, height, label);
    for k in 0..=4 {
        let v = min + (max - min) * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text>"#,
            width - right,
            left - 6.0,
            y(v) + 4.0,
            esc(&compact(v, format)),
            y = y(v)
        );
    }
    // About twelve x labels whatever the number of months.
    let step = xs.len().div_ceil(12).max(1);
    for (i, t) in xs.iter().enumerate().step_by(step) {
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">{}</text>"#, x(i), height - bottom + 18.0, esc(t));
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let mut d = String::new();
        let mut pen_up = true;
        for (i, v) in values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    let _ = write!(d, "{}{:.1} {:.1}", if pen_up { "M" } else { "L" }, x(i), y(v));
                    pen_up = false;
                }
                // A BLANK month breaks the line rather than drawing it through zero.
                None => pen_up = true,
            }
        }
        let dash = if k > 0 { r#" stroke-dasharray="6 3""# } else { "" };
        let _ = write!(s, r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></path>"#, colour(k), esc(name));
        let lx = left + 10.0 + k as f64 * 200.0;
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="4" width="12" height="4" fill="{}"/><text x="{:.1}" y="11" class="lbl">{}</text>"#,
            colour(k),
            lx + 16.0,
            esc(&clip(name, 26))
        );
    }
    s.push_str("</svg>");
    s
}

/// One point per row: x and y from two measures, coloured by group (e.g. the product's category).
pub struct ScatterPoint {
    pub label: String,
    pub group: String,
    pub x: f64,
    pub y: f64,
}

/// An axis's range: linear from `lo` (at most 0) to `hi`, or logarithmic between powers of ten.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    fn new(values: &[f64], log: bool) -> Scale {
        if log {
            let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
            let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
            let max = positive.iter().copied().fold(0.0_f64, f64::max);
            if positive.is_empty() {
                return Scale { lo: 1.0, hi: 10.0, log };
            }
            let (lo, hi) = (10f64.powf(min.log10().floor()), 10f64.powf(max.log10().ceil()));
            return Scale { lo, hi: if hi > lo { hi } else { lo * 10.0 }, log };
        }
        Scale { lo: values.iter().copied().fold(0.0_f64, f64::min), hi: top(values.iter().copied()), log }
    }

    /// Where `v` falls between the ends, 0 to 1.
    fn at(&self, v: f64) -> f64 {
        if self.log { (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()) } else { (v - self.lo) / (self.hi - self.lo) }
    }

    /// The values of the grid lines: five even steps, or each power of ten.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.log10().round() as i32, self.hi.log10().round() as i32);
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            (0..=4).map(|k| self.lo + (self.hi - self.lo) * k as f64 / 4.0).collect()
        }
    }
}

/// `log` = (x, y): logarithmic axes, for values spanning orders of magnitude (points at or below zero cannot be
/// placed on them and are left out, with a note).
pub fn scatter(label: &str, points: &[ScatterPoint], axes: (&str, Format, &str, Format), log: (bool, bool)) -> String {
    let (xname, xfmt, yname, yfmt) = axes;
    let (width, height, left, right, top_m, bottom) = (640.0, 320.0, 80.0, 130.0, 12.0, 44.0);
    let finite: Vec<&ScatterPoint> =
        points.iter().filter(|p| p.x.is_finite() && p.y.is_finite() && (!log.0 || p.x > 0.0) && (!log.1 || p.y > 0.0)).collect();
    let left_out = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()).count() - finite.len();
    let xs = Scale::new(&finite.iter().map(|p| p.x).collect::<Vec<_>>(), log.0);
    let ys = Scale::new(&finite.iter().map(|p| p.y).collect::<Vec<_>>(), log.1);
    let (pw, ph) = (width - left - right, height - top_m - bottom);
    let px = |v: f64| left + pw * xs.at(v);
    let py = |v: f64| top_m + ph * (1.0 - ys.at(v));
    let mut groups: Vec<&str> = Vec::new();
    for p in &finite {
        if !groups.contains(&p.group.as_str()) {
            groups.push(&p.group);
        }
    }
    groups.sort_unstable();
    let mut s = open(width, height, label);
    for vy in ys.ticks() {
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text>"#,
            left + pw,
            py(vy),
            py(vy),
            left - 6.0,
            py(vy) + 4.0,
            esc(&compact(vy, yfmt)),
        );
    }
    for vx in xs.ticks() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle" data-tick="{vx}">{}</text>"#,
            px(vx),
            top_m + ph + 16.0,
            esc(&compact(vx, xfmt))
        );
    }
    if log.0 || log.1 {
        let which: Vec<&str> = [(log.0, "x"), (log.1, "y")].iter().filter(|(l, _)| *l).map(|(_, a)| *a).collect();
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="end" data-log="{}">échelle log.</text>"#,
            left + pw,
            top_m + ph + 30.0,
            which.join(" ")
        );
    }
    if left_out > 0 {
        let _ = write!(s, r#"<text x="{left}" y="{:.1}" class="axis">{left_out} point(s) ≤ 0 hors échelle log.</text>"#, top_m + ph + 30.0);
    }
    let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" class="lbl" text-anchor="middle">{}</text>"#, left + pw / 2.0, height - 6.0, esc(xname));
    let _ = write!(
        s,
        r#"<text x="12" y="{:.1}" class="lbl" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        top_m + ph / 2.0,
        top_m + ph / 2.0,
        esc(yname)
    );
    for p in &finite {
        let g = groups.iter().position(|g| *g == p.group).unwrap_or(0);
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}" fill-opacity="0.75"><title>{} ({}) : {}, {}</title></circle>"#,
            px(p.x),
            py(p.y),
            colour(g),
            esc(&p.label),
            esc(&p.group),
            esc(&compact(p.x, xfmt)),
            esc(&compact(p.y, yfmt))
        );
    }
    for (k, g) in groups.iter().enumerate() {
        let ly = top_m + 4.0 + k as f64 * 20.0;
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{}"/><text x="{:.1}" y="{:.1}" class="lbl">{}</text>"#,
            left + pw + 20.0,
            ly + 5.0,
            colour(k),
            left + pw + 30.0,
            ly + 9.0,
            esc(&clip(g, 16))
        );
    }
    s.push_str("</svg>");
    s
}

/// Centred bars narrowing step by step, each with its value and its share of the first step.
pub fn funnel(label: &str, points: &[(String, f64)], format: Format) -> String {
    let (width, row) = (640.0, 44.0);
    let height = row * points.len() as f64 + 6.0;
    let first = points.first().map(|p| p.1).filter(|v| v.is_finite() && *v > 0.0).unwrap_or(1.0);
    let max = top(points.iter().map(|p| p.1));
    let mut s = open(width, height, label);
    for (i, (name, v)) in points.iter().enumerate() {
        let w = if v.is_finite() { (v.abs() / max * 420.0).max(2.0) } else { 2.0 };
        let y = 3.0 + i as f64 * row;
        let text = format!("{} — {} ({})", name, compact(*v, format), percent(v / first));
        let _ = write!(
            s,
            r#"<g><title>{}</title><rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{}" rx="3"/><text x="{:.1}" y="{:.1}" class="val" text-anchor="middle">{}</text></g>"#,
            esc(&text),
            (width - w) / 2.0,
            row - 18.0,
            colour(i),
            width / 2.0,
            y + row - 4.0,
            esc(&text)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_escaped_svg() {
        let pts = vec![("A & B <x>".to_string(), 3.0), ("C".to_string(), -1.0)];
        for svg in [bar("t", &pts, Format::Currency), donut("t", &pts, Format::Integer), funnel("t", &pts, Format::Integer)] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
            assert!(svg.contains("A &amp; B &lt;x&gt;") && !svg.contains("<x>"), "{svg}");
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
        let l = line("t", &["01/2023".into(), "02/2023".into()], &[("CA".into(), vec![Some(1.0), None])], Format::Currency);
        assert!(l.contains("M80.0") && !l.contains("NaN"), "{l}");
        let empty = bar("t", &[], Format::Currency);
        assert!(empty.ends_with("</svg>"));
        let sc = scatter(
            "t",
            &[ScatterPoint { label: "p".into(), group: "g".into(), x: 1.0, y: f64::NAN }],
            ("x", Format::Currency, "y", Format::Percent),
            (false, false),
        );
        assert!(!sc.contains("NaN"), "{sc}");
    }
}
