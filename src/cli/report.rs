//! `omnimarket report --out DIR`: the five dashboards written as static, self-contained HTML files (inline CSS
//! and SVG, no script, no request anywhere), plus `index.html` linking them: the same pages `serve --http`
//! renders, for mail, archives or a machine without the server. `--filter Annee=2024` bakes slicers in.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::{ProjectArgs, runtime};
use crate::engine::Engine;
use crate::web::Web;
use crate::web::html::Links;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Directory to write `index.html` and one `<dashboard>.html` per dashboard into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// A slicer applied to every page, as ATTRIBUTE=VALUE (Annee, Mois, Nom_Canal, Code_Promo, Categorie,
    /// Segment_RFM); repeat it for several slicers or several values of one.
    #[arg(long = "filter", value_name = "ATTRIBUTE=VALUE")]
    pub filters: Vec<String>,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    let mut params = Vec::new();
    for f in &args.filters {
        let Some((k, v)) = f.split_once('=') else {
            eprintln!("error: --filter takes ATTRIBUTE=VALUE, not `{f}`");
            return Ok(ExitCode::from(2));
        };
        params.push((k.trim().to_string(), v.trim().to_string()));
    }
    let project = args.project.project()?;
    let engine = Engine::open(&project).map_err(|e| e.to_string())?;
    let dashboards = crate::dashboards::load(&args.project.project).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let web = Arc::new(Web::new(engine, dashboards, Arc::new(crate::auth::Authenticator::none())));
    let write = |name: &str, html: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let started = Instant::now();
    let failed = runtime()?.block_on(async {
        let mut failed = 0;
        let index = crate::web::pages::index(&web.dashboards, Links::Static);
        write("index.html", &index)?;
        println!("{:<18} {:>9} {:>9}", "file", "bytes", "ms");
        println!("{:<18} {:>9} {:>9}", "index.html", index.len(), 0);
        for d in &web.dashboards {
            let t = Instant::now();
            let page = match web.render(&d.name, &params, Links::Static).await {
                Ok(p) => p,
                // A bad --filter is a usage error: say so once, before writing the rest.
                Err(crate::web::WebError::BadRequest(m)) => return Err(format!("--filter: {m}")),
                Err(e) => return Err(e.to_string()),
            };
            let file = format!("{}.html", d.name);
            write(&file, &page.html)?;
            println!("{file:<18} {:>9} {:>9}", page.html.len(), t.elapsed().as_millis());
            for (visual, message) in &page.errors {
                eprintln!("error: {}/{visual}: {message}", d.name);
                failed += 1;
            }
        }
        Ok::<_, String>(failed)
    })?;
    println!("wrote {} pages to {} in {:.2} s", web.dashboards.len() + 1, args.out.display(), started.elapsed().as_secs_f64());
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
