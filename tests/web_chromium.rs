//! End to end in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run` installs) loads every
//! page of the in-process server, applies a slicer as a reader would (the form's GET), and must log no console
//! error; one screenshot per page goes to `target/tmp/web_chromium/`. Chromium is driven from the command line
//! (`--dump-dom`, `--screenshot`) rather than over the DevTools protocol: no WebSocket client to maintain, and
//! console messages reach stderr with `--enable-logging=stderr --v=0`, which the test reads (any message fails:
//! the pages run no script). A page with a deliberate `console.error` checks that this detection works at all.
//! That log does not report sub-resources that fail to load, so the test also checks that the DOM asks for none
//! (everything is inline).
//!
//! Without a `chromium` on PATH the test fails, saying so; OMNIMARKET_SKIP_BROWSER=1 skips it explicitly.

mod common;
mod web_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use web_support::{cards, start, unescape};

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|b| {
        let out = Command::new("which").arg(b).output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// Console messages. Chromium's stderr log gives no level for them (`INFO:CONSOLE:1] "text", source: ...`
    /// for a log and an error alike), and the pages run no script, so any console message at all fails.
    fn console_errors(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
    }
}

/// One headless Chromium run on `url` with `action` (`--dump-dom` or `--screenshot=FILE`).
fn chromium(bin: &Path, profile: &Path, url: &str, action: &str) -> Run {
    let out = Command::new("timeout")
        .arg("90")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(url)
        .output()
        .expect("chromium runs");
    let run = Run { stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() };
    assert!(out.status.success(), "chromium {action} {url} failed ({:?}):\n{}", out.status, run.stderr);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_headless_chromium() {
    if std::env::var_os("OMNIMARKET_SKIP_BROWSER").is_some() {
        eprintln!("skipped: OMNIMARKET_SKIP_BROWSER is set");
        return;
    }
    let Some(bin) = browser() else {
        panic!("no chromium on PATH: ./test.sh installs it (apt-get install chromium), or set OMNIMARKET_SKIP_BROWSER=1 to skip");
    };
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_chromium");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).expect("output dir");
    let profile = tempfile::tempdir().expect("profile dir");
    let s = start().await;
    let base = format!("http://{}", s.addr);
    let names: Vec<String> = s.web.dashboards.iter().map(|d| d.name.clone()).collect();
    // The slicer values come from the server (computed once), so later page loads are fast.
    let _ = s.web.slicers().await.expect("slicers");

    let (bin2, prof) = (bin.clone(), profile.path().to_path_buf());
    let control_dir = out_dir.clone();
    let results = tokio::task::spawn_blocking(move || {
        // The detector must see a console error when there is one.
        let control = control_dir.join("control.html");
        std::fs::write(&control, "<!DOCTYPE html><html><body><script>console.error('deliberate control error')</script></body></html>")
            .expect("control page");
        let run = chromium(&bin2, &prof, &format!("file://{}", control.display()), "--dump-dom");
        assert!(!run.console_errors().is_empty(), "the console-error detection sees nothing on a page that logs one:\n{}", run.stderr);

        let mut pages = Vec::new();
        for path in std::iter::once(String::new()).chain(names.iter().cloned()) {
            let url = format!("{base}/{path}");
            let dom = chromium(&bin2, &prof, &url, "--dump-dom");
            assert!(dom.console_errors().is_empty(), "{url}: console errors:\n{}", dom.console_errors().join("\n"));
            let shot = control_dir.join(format!("{}.png", if path.is_empty() { "index" } else { &path }));
            let run = chromium(&bin2, &prof, &url, &format!("--screenshot={}", shot.display()));
            assert!(run.console_errors().is_empty(), "{url}: console errors:\n{}", run.console_errors().join("\n"));
            pages.push((url, dom.stdout));
        }
        // A slicer as a reader applies it: the first year offered by the executive page's form, submitted by GET.
        let exec = &pages.iter().find(|(u, _)| u.ends_with("/executive")).expect("executive").1;
        let select = &exec[exec.find("<select name=\"Annee\">").expect("a year slicer")..];
        let year = select.split("<option value=\"").nth(2).and_then(|o| o.split('"').next()).expect("a year").to_string();
        let url = format!("{base}/executive?Annee={year}");
        let sliced = chromium(&bin2, &prof, &url, "--dump-dom");
        assert!(sliced.console_errors().is_empty(), "{url}: console errors:\n{}", sliced.console_errors().join("\n"));
        chromium(&bin2, &prof, &url, &format!("--screenshot={}", control_dir.join("executive_sliced.png").display()));
        (pages, year, sliced.stdout)
    })
    .await
    .expect("browser runs");

    let (pages, year, sliced) = results;
    for (url, dom) in &pages {
        // The browser built the page we served: the navigation and (on dashboards) charts and cards.
        assert!(dom.contains("OmniMarket 360"), "{url}");
        if !url.ends_with('/') {
            assert!(dom.contains("<svg") && dom.contains("class=\"card\""), "{url}");
            assert!(!dom.contains("class=\"error\""), "{url}");
        }
        assert!(!dom.contains(" src=\"") && !dom.contains("stylesheet"), "{url} loads a sub-resource");
    }
    assert!(unescape(&sliced).contains(&format!("Année = {year}")), "the slicer is applied");
    let all = cards(&pages.iter().find(|(u, _)| u.ends_with("/executive")).expect("executive").1);
    let one_year = cards(&sliced);
    assert_eq!(all.len(), one_year.len());
    assert_ne!(all, one_year, "the cards follow the slicer");
    let shots: Vec<String> =
        ["index".to_string(), "executive_sliced".to_string()].into_iter().chain(s.web.dashboards.iter().map(|d| d.name.clone())).collect();
    for n in &shots {
        let png = out_dir.join(format!("{n}.png"));
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{}: {size} bytes", png.display());
    }
    eprintln!("screenshots in {}", out_dir.display());
}
