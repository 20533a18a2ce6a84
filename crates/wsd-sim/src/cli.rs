//! The command line: `run`, `explain`, `check` and `conform`, and the exit codes of
//! `docs/scenario.md`.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | an `expect` failed (`run`); a conformance check failed (`conform`) |
//! | 2 | bad input: a bad file, a bad argument, a missing file, or (`check`, `run`) a step the runner does not support (none today: every op of the format runs); for `conform`, a library that cannot be loaded or has no `WSPStartupEx` |
//!
//! `check` and `run` read a file alike ([`scenario::parse`]): a file `check` passes is one `run`
//! runs, and a step of an op the runner does not support yet ([`Op::is_supported`]) is the same
//! error, with the same key and line, for both. `explain` reads every op
//! ([`scenario::Ops::All`]) and skips the steps the runner does not support, with a one-line
//! note on stderr naming their lines, and goes on.
//!
//! A scenario file must be a regular file of at most [`MAX_SCENARIO_BYTES`] (4 MiB), in UTF-8
//! ([`read_scenario`]).
//!
//! Every problem goes to stderr on lines that start with `error:` (the tool's own, like
//! clap's for bad arguments); notes start with `note:`.
//!
//! Nothing here panics on user input; output errors (a closed pipe) are ignored.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use spi_abi::conform::Status;

use crate::render;
use crate::scenario::{self, Op, Ops, Scenario, SocketKind};

/// The largest scenario file `wsd-sim` reads: 4 MiB (4194304 bytes). A larger one is refused
/// (exit 2) before anything is parsed; the default scenario is about 5 KiB.
pub const MAX_SCENARIO_BYTES: u64 = 4 * 1024 * 1024;

/// The text `--help` shows after the commands (it names [`MAX_SCENARIO_BYTES`]).
const AFTER_HELP: &str = "A scenario FILE must be a regular file (not a directory, FIFO or device) of at most 4 MiB (4194304 bytes), in UTF-8.\n\nExit status: 0 ok, 1 an `expect` failed (run) or a conformance check failed (conform), 2 bad input (a bad, missing, unreadable or too large file, a library that cannot be loaded or has no WSPStartupEx (conform), or a bad argument).\n\nThe scenario format and the report fields are described in docs/scenario.md in the wsd-switch repository; the behaviour rules in docs/rules.md.";

/// `wsd-sim`: runs the Windows Sockets switch on simulated hosts and reports what it did.
#[derive(Debug, Parser)]
#[command(name = "wsd-sim", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do; without one, `run` on the built-in default scenario.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (the built-in default one without FILE) and print the report.
    ///
    /// The text report lists the steps with their results, and the providers and routes of
    /// each host as they are after all steps (the final state).
    #[command(after_help = AFTER_HELP)]
    Run {
        /// The scenario file (TOML; a regular file of at most 4 MiB).
        file: Option<PathBuf>,
        /// The report's format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Explain the switch's decision for a connect, and why, without connecting.
    ///
    /// The decision is made on the state after all of the file's steps: explain first runs the
    /// steps the runner supports, in order (address_change, install, remove, connect, listen,
    /// close and advance change the hosts, the clock and the negative cache; the file's
    /// `expect`s are not checked: `run` checks them), then decides with the same code a connect
    /// uses. The data steps (send, shutdown) run too. A step of an op the runner does not
    /// support (none today) would be skipped, with a note on stderr naming their lines.
    #[command(after_help = AFTER_HELP)]
    Explain {
        /// The scenario file (TOML; a regular file of at most 4 MiB).
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
    ///
    /// A file passes exactly when `run` would run it: a step of an op the runner does not
    /// support (none today) is an error, as in `run`.
    #[command(after_help = AFTER_HELP)]
    Check {
        /// The scenario file (TOML; a regular file of at most 4 MiB).
        file: PathBuf,
    },
    /// Check a provider shared object against the SPI contract the switch relies on.
    ///
    /// Loads LIBRARY through the real SPI ABI (its `WSPStartupEx` export) and runs, in order:
    /// startup with the TCP/IP provider's record and version 2.2, the version answered, the
    /// entry points the switch calls, a socket and its up-call, the address-list size contract
    /// and the list itself, every extension GUID (mandatory ones present) and an unknown GUID
    /// refused, closing the socket and cleaning up. One line per check, with the rule of
    /// docs/rules.md it serves. Exit 0 when every check passes, 1 when one fails, 2 when the
    /// library cannot be loaded or has no WSPStartupEx. The library's code runs in this
    /// process: a provider that crashes ends the command.
    #[command(after_help = AFTER_HELP)]
    Conform {
        /// The provider shared object (a `.so`, `.dylib` or `.dll`); a bare file name is
        /// taken from the current directory.
        library: PathBuf,
        /// The output's format.
        #[arg(long, value_enum, default_value_t = ConformFormat::Text)]
        format: ConformFormat,
    },
}

/// The output format of `conform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConformFormat {
    /// One line per check.
    Text,
    /// The conformance report as JSON.
    Json,
}

/// The report's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// The JSON report of `docs/scenario.md`.
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
    /// 1: a conformance check failed (`conform`).
    CheckFailed,
    /// 2: bad input.
    BadInput,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::ExpectFailed | Exit::CheckFailed => 1,
            Exit::BadInput => 2,
        })
    }
}

/// A scenario file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read scenario file {}: {kind}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub kind: ReadErrorKind,
}

/// Why a scenario file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    /// The system refused (no such file, no permission, ...).
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// Not a regular file: reading a directory fails, a FIFO blocks, a device such as
    /// `/dev/zero` never ends.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than [`MAX_SCENARIO_BYTES`].
    #[error(
        "it is {}, more than the limit of {limit} bytes ({} MiB)",
        .size.map_or_else(|| "larger".to_owned(), |n| format!("{n} bytes")),
        .limit >> 20
    )]
    TooLarge {
        /// Its size, when known before reading (a file that grew while read: `None`).
        size: Option<u64>,
        /// The limit, [`MAX_SCENARIO_BYTES`].
        limit: u64,
    },
    /// Not UTF-8 text.
    #[error(
        "it is not UTF-8 text: invalid byte 0x{byte:02X} at byte offset {offset} (line {line})"
    )]
    NotUtf8 {
        /// The offset of the first invalid byte, from 0.
        offset: usize,
        /// Its line, from 1.
        line: usize,
        /// The byte.
        byte: u8,
    },
}

/// What kind of file `t` is, for [`ReadErrorKind::NotRegular`]; `None` for a regular file.
fn non_regular(t: std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file but something else")
}

/// The bytes of `r` when it has at most `limit` of them, `None` when it has more: reads at
/// most `limit + 1` bytes, whatever `r` holds (a file that grows, an endless source).
/// `size_hint` sizes the buffer (at most `limit`).
fn read_capped(r: impl Read, size_hint: u64, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(size_hint.min(limit)).unwrap_or(0));
    r.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(u64::try_from(bytes.len())
        .is_ok_and(|n| n <= limit)
        .then_some(bytes))
}

/// Reads a scenario file: a regular file (checked on the path before it is opened, so a FIFO
/// or a device is never opened, and again on the opened file), of at most
/// [`MAX_SCENARIO_BYTES`] (checked on its size, and by reading at most one byte more, so a
/// file that grows while read is capped too), in UTF-8 (the first invalid byte is named with
/// its offset and line).
pub fn read_scenario(path: &Path) -> Result<String, ReadError> {
    let fail = |kind| ReadError {
        path: path.to_owned(),
        kind,
    };
    let regular = |meta: &std::fs::Metadata| match non_regular(meta.file_type()) {
        Some(what) => Err(fail(ReadErrorKind::NotRegular(what))),
        None if meta.len() > MAX_SCENARIO_BYTES => Err(fail(ReadErrorKind::TooLarge {
            size: Some(meta.len()),
            limit: MAX_SCENARIO_BYTES,
        })),
        None => Ok(()),
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(ReadErrorKind::Io(e)))?;
    regular(&meta)?;
    let file = std::fs::File::open(path).map_err(|e| fail(ReadErrorKind::Io(e)))?;
    // The path may name another file by now: check the one opened.
    let meta = file.metadata().map_err(|e| fail(ReadErrorKind::Io(e)))?;
    regular(&meta)?;
    let bytes = read_capped(file, meta.len(), MAX_SCENARIO_BYTES)
        .map_err(|e| fail(ReadErrorKind::Io(e)))?
        .ok_or_else(|| {
            fail(ReadErrorKind::TooLarge {
                size: None,
                limit: MAX_SCENARIO_BYTES,
            })
        })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        fail(ReadErrorKind::NotUtf8 {
            offset,
            line: 1 + bytes.iter().take(offset).filter(|&&b| b == b'\n').count(),
            byte: bytes.get(offset).copied().unwrap_or(0),
        })
    })
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
            eprintln!("note: caught panic: {info}");
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
        Some(Command::Conform { library, format }) => conform(&library, format, out, err),
    }
}

/// Reads and parses a scenario, accepting the step ops `ops` says; on failure, writes every
/// problem to `err`.
fn load(file: Option<&Path>, ops: Ops, err: &mut dyn Write) -> Option<Scenario> {
    let (name, text) = match file {
        None => (
            "<default scenario>".to_owned(),
            crate::DEFAULT_SCENARIO.to_owned(),
        ),
        Some(path) => match read_scenario(path) {
            Ok(t) => (path.display().to_string(), t),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return None;
            }
        },
    };
    // A relative `library` is relative to the scenario file's directory.
    let dir = file.and_then(Path::parent).unwrap_or(Path::new(""));
    match scenario::parse_in(&text, ops, dir) {
        Ok(s) => Some(s),
        Err(errors) => {
            for e in errors.errors() {
                let _ = writeln!(err, "error: {name}: {e}");
            }
            let _ = writeln!(err, "error: {name}: {} error(s)", errors.errors().len());
            None
        }
    }
}

/// `check FILE`: what `run` accepts ([`Ops::Supported`]).
fn check(file: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(s) = load(Some(file), Ops::Supported, err) else {
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

/// `conform LIBRARY [--format …]`: the conformance checks of a provider shared object.
fn conform(
    library: &Path,
    format: ConformFormat,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let report = match spi_abi::conform::run(library) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Exit::BadInput;
        }
    };
    let text = match format {
        ConformFormat::Text => crate::conform::text(&report),
        ConformFormat::Json => crate::conform::json(&report),
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if report.passed {
        return Exit::Ok;
    }
    let failed: Vec<&str> = report
        .with_status(Status::Fail)
        .map(|c| c.name.as_str())
        .collect();
    let _ = writeln!(
        err,
        "error: {}: {} conformance check(s) failed: {}",
        library.display(),
        failed.len(),
        failed.join(", ")
    );
    Exit::CheckFailed
}

/// The scenario without the steps whose op the runner does not support yet
/// ([`Op::is_supported`]); when there were any, one note on `err` naming their lines and ops.
fn skip_unsupported(mut s: Scenario, name: &str, err: &mut dyn Write) -> Scenario {
    let skipped: Vec<&scenario::Step> = s
        .steps
        .iter()
        .filter(|st| !st.action.op().is_supported())
        .collect();
    if !skipped.is_empty() {
        let lines: Vec<String> = skipped.iter().map(|st| st.line.to_string()).collect();
        let mut ops: Vec<Op> = Vec::new();
        for st in &skipped {
            if !ops.contains(&st.action.op()) {
                ops.push(st.action.op());
            }
        }
        let ops: Vec<&str> = ops.into_iter().map(Op::name).collect();
        let _ = writeln!(
            err,
            "note: {name}: explain skips the steps on line(s) {} (op {}: not supported by the runner yet)",
            lines.join(", "),
            ops.join(", ")
        );
        s.steps.retain(|st| st.action.op().is_supported());
    }
    s
}

/// `run [FILE] [--format …]`.
fn run(file: Option<&Path>, format: Format, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(s) = load(file, Ops::Supported, err) else {
        return Exit::BadInput;
    };
    let name = file.map_or("<default scenario>".to_owned(), |p| p.display().to_string());
    let (report, mismatches) = match crate::run::run(&s) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {name}: {e}");
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
        let _ = writeln!(err, "error: {name}: expect failed: {m}");
    }
    let _ = writeln!(err, "error: {name}: {} expect(s) failed", mismatches.len());
    Exit::ExpectFailed
}

/// `explain FILE --connect ADDR:PORT [--host NAME] [--kind KIND]`: the decision on the state
/// after the file's steps the runner supports (the others skipped with a note).
fn explain(
    file: &Path,
    connect: SocketAddr,
    host: Option<&str>,
    kind: SocketKind,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let Some(s) = load(Some(file), Ops::All, err) else {
        return Exit::BadInput;
    };
    if let Some(h) = host
        && s.host(h).is_none()
    {
        let names: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
        let _ = writeln!(
            err,
            "error: --host: no host named {h:?} in {} (hosts: {})",
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
            let _ = writeln!(err, "error: {name}: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_states_the_size_limit_of_the_constant() {
        assert_eq!(MAX_SCENARIO_BYTES, 4 << 20);
        assert!(AFTER_HELP.contains(&format!("{MAX_SCENARIO_BYTES} bytes")));
        assert!(AFTER_HELP.contains(&format!("at most {} MiB", MAX_SCENARIO_BYTES >> 20)));
        // The help points at the repository's own docs.
        assert!(AFTER_HELP.contains("docs/scenario.md"));
        let e = ReadErrorKind::TooLarge {
            size: None,
            limit: MAX_SCENARIO_BYTES,
        };
        assert_eq!(
            e.to_string(),
            "it is larger, more than the limit of 4194304 bytes (4 MiB)"
        );
    }

    #[test]
    fn the_bounded_reader_stops_one_byte_past_the_limit_of_an_endless_source() {
        // A file that grows while read is such a source: the size looked at before reading
        // does not bound what is read; the reader does.
        let got = read_capped(std::io::repeat(b'#'), 0, 1000);
        assert!(matches!(got, Ok(None)), "{got:?}");
        let got = read_capped(&b"[[host]]"[..], 8, 8);
        assert_eq!(got.ok().flatten().as_deref(), Some(&b"[[host]]"[..]));
        let got = read_capped(&b"[[host]]x"[..], 8, 8);
        assert!(matches!(got, Ok(None)), "{got:?}");
    }

    #[test]
    fn a_file_larger_than_the_limit_is_refused_by_its_size_before_reading() {
        let dir = std::env::temp_dir().join(format!("wsd-sim-cli-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("big.toml");
        let big = vec![b'#'; usize::try_from(MAX_SCENARIO_BYTES).unwrap_or(0) + 10];
        assert!(std::fs::write(&path, &big).is_ok());
        let e = read_scenario(&path).err().map(|e| e.kind);
        assert!(
            matches!(e, Some(ReadErrorKind::TooLarge { size: Some(n), .. }) if n == MAX_SCENARIO_BYTES + 10),
            "{e:?}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
