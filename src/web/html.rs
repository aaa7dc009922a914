//! HTML escaping and the page frame (head, inline stylesheet, navigation bar) shared by every page, served or
//! written as a static report. Everything is inline so that a page is one self-contained file with no request
//! to a CDN or even back to the server.

use std::fmt::Write;

use crate::dashboards::Dashboard;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How pages link to each other: the server's paths, or the report's sibling files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Server,
    Static,
}

impl Links {
    pub fn dashboard(self, name: &str) -> String {
        match self {
            Links::Server => format!("/{name}"),
            Links::Static => format!("{name}.html"),
        }
    }

    pub fn home(self) -> &'static str {
        match self {
            Links::Server => "/",
            Links::Static => "index.html",
        }
    }
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:#f4f6f9;color:#1d2733}
header{background:#13294b;color:#fff;padding:.6rem 1.2rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#dfe8f5;text-decoration:none;padding:.3rem .6rem;border-radius:4px}
header a.brand{font-weight:700;color:#fff}
header a[aria-current=page]{background:#2f5597;color:#fff}
main{padding:1rem 1.2rem;max-width:1400px;margin:auto}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.05rem;margin:0 0 .6rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:.8rem;margin-bottom:1rem}
.card{background:#fff;border-radius:6px;padding:.8rem 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08);border-top:4px solid #0072B2}
.card .name{font-size:.8rem;color:#5a6776}
.card .value{font-size:1.5rem;font-weight:600;margin-top:.3rem;white-space:nowrap}
.card .value.text{font-size:1rem;white-space:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
section.visual{background:#fff;border-radius:6px;padding:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow-x:auto}
section.wide{grid-column:1/-1}
svg.chart{max-width:100%;height:auto;font-size:12px}
svg .lbl{fill:#1d2733;font-size:12px}
svg .val{fill:#1d2733;font-size:12px;font-weight:600}
svg .axis{fill:#5a6776;font-size:11px}
svg .total{fill:#1d2733;font-size:13px;font-weight:700}
svg line.grid{stroke:#e3e8ee}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid #e3e8ee;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
details{margin-top:.5rem}
summary{cursor:pointer;color:#2f5597;font-size:.85rem}
form.slicers{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:end;background:#fff;padding:.8rem 1rem;border-radius:6px;margin-bottom:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
form.slicers label{display:flex;flex-direction:column;font-size:.8rem;color:#5a6776;gap:.2rem}
form.slicers select{font-size:.9rem;padding:.2rem;min-width:8rem}
form.slicers button{font-size:.9rem;padding:.35rem 1rem;background:#2f5597;color:#fff;border:0;border-radius:4px}
.filters{font-size:.85rem;color:#5a6776;margin:-.4rem 0 1rem}
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:4px;white-space:pre-wrap;font-family:monospace;font-size:.8rem}
.note{font-size:.8rem;color:#5a6776}
ul.boards{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1rem}
ul.boards li{background:#fff;border-radius:6px;padding:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
ul.boards a{font-weight:600;color:#13294b}
footer{font-size:.75rem;color:#5a6776;text-align:center;padding:1rem}
form.logout{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.8rem;color:#dfe8f5}
form.logout button{font-size:.8rem;padding:.25rem .7rem;background:transparent;color:#fff;border:1px solid #dfe8f5;border-radius:4px;cursor:pointer}
section.login{max-width:22rem;margin:3rem auto;background:#fff;border-radius:6px;padding:1.2rem 1.4rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.login form{display:flex;flex-direction:column;gap:.8rem}
section.login label{display:flex;flex-direction:column;font-size:.85rem;color:#5a6776;gap:.25rem}
section.login input{font-size:1rem;padding:.35rem}
section.login button{font-size:.95rem;padding:.45rem 1rem;background:#2f5597;color:#fff;border:0;border-radius:4px}
"#;

/// The whole page around `body`: `current` is the dashboard shown (for the navigation bar), `None` on `/`.
pub fn page(title: &str, dashboards: &[Dashboard], current: Option<&str>, links: Links, body: &str) -> String {
    let mut nav = String::new();
    let _ = write!(nav, r#"<a class="brand" href="{}">OmniMarket 360</a>"#, links.home());
    for d in dashboards {
        let here = if current == Some(d.name.as_str()) { r#" aria-current="page""# } else { "" };
        let _ = write!(nav, r#"<a href="{}"{here}>{}</a>"#, esc(&links.dashboard(&d.name)), esc(&d.title));
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{} · OmniMarket 360</title><style>{STYLE}</style></head>
<body><header><nav aria-label="Tableaux de bord">{nav}</nav></header>
<main>{body}</main>
<footer>OmniMarket 360 — chaque chiffre est une mesure du modèle sémantique.</footer></body></html>
"#,
        esc(title)
    )
}

/// A served page with the logged-in user's name and a logout button in its header bar (a POST form: a link
/// could be followed by a crawler or prefetched).
pub fn with_logout(page: String, user: &str) -> String {
    let form = format!(
        r#"<form class="logout" method="post" action="/logout"><span>{}</span><button type="submit">Se déconnecter</button></form>"#,
        esc(user)
    );
    match page.find("</header>") {
        Some(at) => format!("{}{form}{}", &page[..at], &page[at..]),
        None => page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(esc(r#"<a href="x">O'Neil & co</a>"#), "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;");
    }
}
