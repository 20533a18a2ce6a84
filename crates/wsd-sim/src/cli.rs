//! The command line: `run`, `explain` and `check`, and the exit codes of `scenario.md` §3.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | an `expect` failed (`run`) |
//! | 2 | bad input: a bad file, a bad argument, a missing file, or (`run`) a step the runner does not support yet (connect, listen, close) |
//!
//! `explain` skips connect, listen and close steps (they need connections, which it does not
//! make) with a one-line note on stderr naming their lines, and goes on.
//!
//! Nothing here panics on user input; output errors (a closed pipe) are ignored.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::render;
use crate::scenario::{self, Scenario, SocketKind};

/// `wsd-sim`: runs the Windows Sockets switch on simulated hosts and reports what it did.
#[derive(Debug, Parser)]
#[command(name = "wsd-sim", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without one, `run` on the built-in default scenario.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (the built-in default one without FILE) and print the report.
    Run {
        /// The scenario file (TOML).
        file: Option<PathBuf>,
        /// The report's format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Explain the switch's decision for a connect, and why, without connecting.
    Explain {
        /// The scenario file (TOML).
        file: PathBuf,
        /// The destination, "address:port" (IPv6 in brackets).
        #[arg(long, value_name = "ADDR:PORT", value_parser = parse_connect)]
        connect: SocketAddr,
        /// The host that connects (default: the first host).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// The socket kind.
        #[arg(long, value_enum, default_value_t = KindArg::Stream)]
        kind: KindArg,
    },
    /// Check a scenario file: list every error with its line.
    Check {
        /// The scenario file (TOML).
        file: PathBuf,
    },
}

/// The report's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// The JSON report of `scenario.md` §2.
    Json,
    /// A Mermaid sequence diagram.
    Mermaid,
}

/// The socket kind of `explain --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// A TCP stream socket.
    Stream,
    /// A UDP socket.
    Datagram,
    /// A raw socket.
    Raw,
    /// A multicast socket.
    Multicast,
}

impl From<KindArg> for SocketKind {
    fn from(k: KindArg) -> SocketKind {
        match k {
            KindArg::Stream => SocketKind::Stream,
            KindArg::Datagram => SocketKind::Datagram,
            KindArg::Raw => SocketKind::Raw,
            KindArg::Multicast => SocketKind::Multicast,
        }
    }
}

fn parse_connect(s: &str) -> Result<SocketAddr, String> {
    scenario::parse_socket_addr(s).map_err(|e| e.to_string())
}

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: ok.
    Ok,
    /// 1: an `expect` failed.
    ExpectFailed,
    /// 2: bad input.
    BadInput,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::ExpectFailed => 1,
            Exit::BadInput => 2,
        })
    }
}

/// A scenario file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read scenario file {}: {source}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The start of the message of every panic a mock provider raises on purpose (`panic_at`;
/// see mock-provider's `enter`).
pub const MOCK_PANIC_PREFIX: &str = "mock provider `";

/// Whether a panic's payload is a mock provider's deliberate panic: a message (`&str` or
/// `String`) that starts with [`MOCK_PANIC_PREFIX`].
pub fn is_deliberate_panic(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    message.is_some_and(|m| m.starts_with(MOCK_PANIC_PREFIX))
}

/// Installs a panic hook that keeps the mock providers' deliberate panics (`panic_at`, which
/// the switch catches) off stderr, or prints one line for each when `WSD_SIM_DEBUG` is set;
/// every other panic (a bug) goes to the hook that was installed before, normally the
/// default one, and prints as usual.
pub fn quiet_panics() {
    let fallback = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_deliberate_panic(info.payload()) {
            fallback(info);
        } else if std::env::var_os("WSD_SIM_DEBUG").is_some() {
            eprintln!("wsd-sim: caught panic: {info}");
        }
    }));
}

/// The entry point of the binary: parses the arguments and runs the command.
pub fn main() -> ExitCode {
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap: 2 for usage errors, 0 for --help and --version.
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    execute(cli.command, &mut stdout.lock(), &mut stderr.lock()).into()
}

/// Runs one command, writing the report to `out` and problems to `err`.
pub fn execute(command: Option<Command>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match command {
        None => run(None, Format::Text, out, err),
        Some(Command::Run { file, format }) => run(file.as_deref(), format, out, err),
        Some(Command::Explain {
            file,
            connect,
            host,
            kind,
        }) => explain(&file, connect, host.as_deref(), kind.into(), out, err),
        Some(Command::Check { file }) => check(&file, out, err),
    }
}

/// Reads and parses a scenario; on failure, writes every problem to `err`.
fn load(file: Option<&Path>, err: &mut dyn Write) -> Option<Scenario> {
    let (name, text) = match file {
        None => (
            "<default scenario>".to_owned(),
            crate::DEFAULT_SCENARIO.to_owned(),
        ),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (path.display().to_string(), t),
            Err(source) => {
                let e = ReadError {
                    path: path.to_owned(),
                    source,
                };
                let _ = writeln!(err, "wsd-sim: {e}");
                return None;
            }
        },
    };
    match scenario::parse(&text) {
        Ok(s) => Some(s),
        Err(errors) => {
            for e in errors.errors() {
                let _ = writeln!(err, "{name}: {e}");
            }
            let _ = writeln!(err, "{name}: {} error(s)", errors.errors().len());
            None
        }
    }
}

/// `check FILE`.
fn check(file: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(s) = load(Some(file), err) else {
        return Exit::BadInput;
    };
    let providers: usize = s.hosts.iter().map(|h| h.providers.len()).sum();
    let _ = writeln!(
        out,
        "{}: ok: {} host(s), {} provider(s), {} step(s)",
        file.display(),
        s.hosts.len(),
        providers,
        s.steps.len()
    );
    Exit::Ok
}

/// Refuses steps whose op the runner does not support yet.
fn refuse_unsupported(s: &Scenario, name: &str, err: &mut dyn Write) -> bool {
    let mut refused = false;
    for step in s.steps.iter().filter(|st| !st.action.op().is_supported()) {
        let _ = writeln!(
            err,
            "{name}: line {}: op {} is not supported yet",
            step.line,
            step.action.op()
        );
        refused = true;
    }
    refused
}

/// The scenario without the steps whose op the runner does not support yet (connect, listen,
/// close: they need connections, which `explain` does not make); when there were any, one
/// line on `err` naming their lines.
fn skip_unsupported(mut s: Scenario, name: &str, err: &mut dyn Write) -> Scenario {
    let skipped: Vec<String> = s
        .steps
        .iter()
        .filter(|st| !st.action.op().is_supported())
        .map(|st| st.line.to_string())
        .collect();
    if !skipped.is_empty() {
        s.steps.retain(|st| st.action.op().is_supported());
        let _ = writeln!(
            err,
            "{name}: explain skips the connect, listen and close steps on line(s) {} (they need connections, which explain does not make)",
            skipped.join(", ")
        );
    }
    s
}

/// `run [FILE] [--format …]`.
fn run(file: Option<&Path>, format: Format, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(s) = load(file, err) else {
        return Exit::BadInput;
    };
    let name = file.map_or("<default scenario>".to_owned(), |p| p.display().to_string());
    if refuse_unsupported(&s, &name, err) {
        return Exit::BadInput;
    }
    let (report, mismatches) = match crate::run::run(&s) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "{name}: {e}");
            return Exit::BadInput;
        }
    };
    let text = match format {
        Format::Text => render::text(&report),
        Format::Json => render::json(&report),
        Format::Mermaid => render::mermaid(&report),
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if mismatches.is_empty() {
        return Exit::Ok;
    }
    for m in &mismatches {
        let _ = writeln!(err, "{name}: expect failed: {m}");
    }
    let _ = writeln!(err, "{name}: {} expect(s) failed", mismatches.len());
    Exit::ExpectFailed
}

/// `explain FILE --connect ADDR:PORT [--host NAME] [--kind KIND]`.
fn explain(
    file: &Path,
    connect: SocketAddr,
    host: Option<&str>,
    kind: SocketKind,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let Some(s) = load(Some(file), err) else {
        return Exit::BadInput;
    };
    if let Some(h) = host
        && s.host(h).is_none()
    {
        let names: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
        let _ = writeln!(
            err,
            "wsd-sim: --host: no host named {h:?} in {} (hosts: {})",
            file.display(),
            names.join(", ")
        );
        return Exit::BadInput;
    }
    let name = file.display().to_string();
    let s = skip_unsupported(s, &name, err);
    let decision =
        crate::run::Simulation::start(&s).and_then(|sim| sim.explain(host, connect, kind));
    let d = match decision {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "{name}: {e}");
            return Exit::BadInput;
        }
    };
    let _ = writeln!(
        out,
        "{}: connect {} ({kind}) -> {}",
        d.host, connect, d.result
    );
    if let Some(r) = &d.reason {
        let _ = writeln!(out, "reason: {}: {}", r.code.name(), r.detail);
    }
    let _ = out.flush();
    Exit::Ok
}
