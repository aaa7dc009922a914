//! `omnimarket shell`: an interactive SQL shell on the embedded engine or, with `--connect`, on a Flight SQL
//! server. Statements end with `;` and may span lines; lines starting with `\` are meta commands. Ctrl-C at
//! the prompt clears the statement being typed; during a query it cancels the query (the stream is dropped,
//! which stops the query locally and on the server). Not a script runner: for one query use `omnimarket query`.

mod backend;
pub mod semantic;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use clap::Args;
use rustyline::error::ReadlineError;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::output::{OutputFormat, write_batches};
use super::{ProjectArgs, runtime};
use crate::engine::Engine;
use backend::{Backend, Fetched, Local, Remote};

#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Run statements on a Flight SQL server instead of the embedded engine: grpc://host:port or
    /// grpc+tls://host:port.
    #[arg(long)]
    pub connect: Option<String>,
    /// User name for --connect (password: $OMNIMARKET_PASSWORD, else read from standard input).
    #[arg(long, requires = "connect")]
    pub user: Option<String>,
    /// CA certificate (PEM) that signed the server's certificate, for grpc+tls://.
    #[arg(long, requires = "connect")]
    pub tls_ca: Option<PathBuf>,
    /// History file (default: ~/.omnimarket_history).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Output format at start (`\format` changes it).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// At most this many rows are printed per result; the rest is not read (`\limit` changes it).
    #[arg(long, default_value_t = 1000)]
    pub max_rows: usize,
}

struct Settings {
    format: OutputFormat,
    timing: bool,
    max_rows: usize,
}

pub fn run(args: ShellArgs) -> Result<ExitCode, String> {
    let rt = runtime()?;
    let mut backend: Box<dyn Backend> = match &args.connect {
        Some(url) => Box::new(rt.block_on(connect(url, args.user.as_deref(), args.tls_ca.as_deref()))?),
        None => {
            let project = args.project.project()?;
            Box::new(Local::new(Engine::open(&project).map_err(|e| e.to_string())?))
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| format!("cannot start the line editor: {e}"))?;
    let history = args.history.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".omnimarket_history")));
    if let Some(h) = &history {
        // A missing history file is the first session, not an error.
        let _ = editor.load_history(h);
    }
    if interactive {
        println!("OmniMarket 360 shell on {}. End statements with `;`; \\help for commands, \\q to quit.", backend.describe_target());
    }
    let mut settings = Settings { format: args.format, timing: false, max_rows: args.max_rows };
    let mut buffer = String::new();
    let mut failed = false;
    loop {
        let prompt = if buffer.is_empty() { "omnimarket> " } else { "         -> " };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("cannot read input: {e}")),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && (trimmed.starts_with('\\') || trimmed == "exit" || trimmed == "quit") {
            let _ = editor.add_history_entry(trimmed);
            match rt.block_on(meta(trimmed, backend.as_mut(), &mut settings)) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
            continue;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !trimmed.ends_with(';') {
            continue;
        }
        let statement = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(statement.as_str());
        let sql = statement.trim().trim_end_matches(';').trim();
        if sql.is_empty() {
            continue;
        }
        if let Err(e) = rt.block_on(run_statement(sql, backend.as_mut(), &settings)) {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    // Interactive sessions always end well; a piped script reports whether a statement failed.
    Ok(if failed && !interactive { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

enum Flow {
    Continue,
    Quit,
}

/// Runs one statement; Ctrl-C drops it (and so cancels the query).
async fn run_statement(sql: &str, backend: &mut dyn Backend, settings: &Settings) -> Result<(), String> {
    let started = Instant::now();
    let result = tokio::select! {
        r = backend.query(sql, settings.max_rows) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("cancelled");
            return Ok(());
        }
    }?;
    print_result(&result, settings, started.elapsed())
}

fn print_result(result: &Fetched, settings: &Settings, elapsed: Duration) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let rows: usize = result.batches.iter().map(|b| b.num_rows()).sum();
    if result.batches.is_empty() || rows == 0 {
        // Show the columns of an empty result, as psql does.
        let empty = datafusion::arrow::record_batch::RecordBatch::new_empty(result.schema.clone());
        write_batches(&mut out, settings.format, &[empty])?;
    } else {
        write_batches(&mut out, settings.format, &result.batches)?;
    }
    if settings.format == OutputFormat::Table {
        let more = if result.truncated { format!(" (first {}; \\limit N to see more)", settings.max_rows) } else { String::new() };
        let _ = writeln!(out, "{rows} row{}{more}", if rows == 1 { "" } else { "s" });
    }
    if settings.timing {
        let _ = writeln!(out, "Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
    }
    out.flush().map_err(|e| e.to_string())
}

const HELP: &str = "\
Statements end with `;` and may span several lines. Ctrl-C cancels a running query; Ctrl-D quits.
  \\dt [PATTERN]        list tables (PATTERN: SQL LIKE, e.g. Dim_%)
  \\d TABLE             describe a table's columns (raw.Dim_Client, staging.stg_ventes, ...)
  \\measures            list the semantic model's measures by folder
  \\compile SQL         show the plain SQL a semantic query compiles to
  \\format table|csv|json
  \\timing [on|off]     print each statement's time
  \\limit N             print at most N rows of a result
  \\help                this help
  \\q                   quit";

async fn meta(line: &str, backend: &mut dyn Backend, settings: &mut Settings) -> Result<Flow, String> {
    let (cmd, rest) = match line.split_once(char::is_whitespace) {
        Some((c, r)) => (c, r.trim()),
        None => (line, ""),
    };
    let rest = rest.trim_end_matches(';').trim();
    match cmd {
        "\\q" | "\\quit" | "exit" | "quit" => return Ok(Flow::Quit),
        "\\?" | "\\h" | "\\help" => println!("{HELP}"),
        "\\dt" => {
            let tables = backend.tables((!rest.is_empty()).then_some(rest)).await?;
            println!("{:<12} {:<28} type", "schema", "table");
            for t in &tables {
                println!("{:<12} {:<28} {}", t.schema, t.name, t.table_type);
            }
            println!("{} table{}", tables.len(), if tables.len() == 1 { "" } else { "s" });
        }
        "\\d" => {
            if rest.is_empty() {
                return Err("usage: \\d TABLE".into());
            }
            let Some((table, schema)) = backend.columns(rest).await? else {
                return Err(format!("no table `{rest}` (\\dt lists them)"));
            };
            println!("{}.{} ({})", table.schema, table.name, table.table_type);
            println!("  {:<28} {:<24} nullable", "column", "type");
            for f in schema.fields() {
                println!("  {:<28} {:<24} {}", f.name(), f.data_type().to_string(), if f.is_nullable() { "yes" } else { "no" });
            }
        }
        "\\measures" => match backend.measures().await? {
            None => println!("no semantic model loaded: there are no measures yet"),
            Some(measures) => {
                // Model order, folder by folder, as the model's author arranged them.
                let mut folder: Option<&str> = None;
                for m in &measures {
                    if folder != Some(m.folder.as_str()) {
                        println!("{}", if m.folder.is_empty() { "(no folder)" } else { &m.folder });
                        folder = Some(&m.folder);
                    }
                    match &m.expression {
                        Some(e) => println!("  {:<28} {e}", m.name),
                        None => println!("  {}", m.name),
                    }
                }
                println!("{} measure{}", measures.len(), if measures.len() == 1 { "" } else { "s" });
            }
        },
        "\\compile" => {
            if rest.is_empty() {
                return Err("usage: \\compile SELECT ... FROM omnimarket ...".into());
            }
            match backend.compile(rest).await? {
                None => println!("no semantic model loaded: semantic SQL cannot be compiled yet"),
                Some(sql) => println!("{sql}"),
            }
        }
        "\\format" => {
            settings.format = match rest {
                "table" => OutputFormat::Table,
                "csv" => OutputFormat::Csv,
                "json" => OutputFormat::Json,
                _ => return Err("usage: \\format table|csv|json".into()),
            };
            println!("format: {rest}");
        }
        "\\timing" => {
            settings.timing = match rest {
                "" => !settings.timing,
                "on" => true,
                "off" => false,
                _ => return Err("usage: \\timing [on|off]".into()),
            };
            println!("timing {}", if settings.timing { "on" } else { "off" });
        }
        "\\limit" => {
            settings.max_rows = rest.parse().map_err(|_| "usage: \\limit N (a row count)".to_string())?;
            println!("at most {} rows per result", settings.max_rows);
        }
        other => return Err(format!("unknown command `{other}` (\\help lists them)")),
    }
    Ok(Flow::Continue)
}

/// Connects to a Flight SQL server and, with a user name, hand-shakes for a token.
async fn connect(url: &str, user: Option<&str>, tls_ca: Option<&std::path::Path>) -> Result<Remote, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("bad --connect `{url}`: expected grpc://host:port"))?;
    let endpoint = match scheme {
        "grpc" | "grpc+tcp" | "http" => Endpoint::from_shared(format!("http://{rest}")).map_err(|e| format!("bad --connect `{url}`: {e}"))?,
        "grpc+tls" | "https" => {
            let mut tls = ClientTlsConfig::new();
            if let Some(ca) = tls_ca {
                let pem = std::fs::read_to_string(ca).map_err(|e| format!("{}: cannot read: {e}", ca.display()))?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            } else {
                return Err("grpc+tls:// needs --tls-ca FILE (the CA certificate that signed the server's)".into());
            }
            Endpoint::from_shared(format!("https://{rest}"))
                .map_err(|e| format!("bad --connect `{url}`: {e}"))?
                .tls_config(tls)
                .map_err(|e| format!("TLS: {e}"))?
        }
        other => return Err(format!("bad --connect `{url}`: unknown scheme `{other}` (grpc:// or grpc+tls://)")),
    };
    let channel = endpoint.connect_timeout(Duration::from_secs(10)).connect().await.map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let mut client = FlightSqlServiceClient::new(channel);
    if let Some(user) = user {
        let password = match std::env::var("OMNIMARKET_PASSWORD") {
            Ok(p) => p,
            Err(_) => {
                if std::io::stdin().is_terminal() {
                    eprint!("password for {user} (shown as typed): ");
                    let _ = std::io::stderr().flush();
                }
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
                line.trim_end_matches(['\n', '\r']).to_string()
            }
        };
        client.handshake(user, &password).await.map_err(|e| format!("login failed: {e}"))?;
    }
    Ok(Remote::new(url.to_string(), client))
}
