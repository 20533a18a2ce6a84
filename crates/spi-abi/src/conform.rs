//! The provider conformance kit: the checks `wsd-sim conform` runs against a provider shared
//! object, loaded through the real SPI ABI.
//!
//! [`run`] opens the library ([`Library::open`]), makes one provider instance of it
//! ([`LibraryProvider`]) and drives it through the calls the switch makes when it brings a
//! provider up and puts it away, through the safe [`SanProvider`] methods only. Each step is one
//! [`Check`], named and tied to the rule of `docs/rules.md` it serves, in this order:
//!
//! | check | rule | passes when |
//! |---|---|---|
//! | `startup` | INIT-2 | `WSPStartupEx` asked for 2.2 with the TCP/IP provider's protocol-info record returns 0 |
//! | `version` | INIT-2a | `WSPDATA.wVersion` is 2.2 |
//! | `entry_points` | INIT-2 | no entry point the switch calls is left empty in the procedure table |
//! | `socket` | INIT-3 | `WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)` returns a socket, having made exactly one `WPUCreateSocketHandle` up-call |
//! | `address_list_size` | INIT-3 | `SIO_ADDRESS_LIST_QUERY` with a 4-byte buffer answers WSAEFAULT with the size needed (more than 4 bytes, at most the switch's 16 MiB) in `lpcbBytesReturned` |
//! | `address_list` | INIT-3 | with a buffer of that size it succeeds, says it wrote at most the buffer's size, and the list decodes against the buffer's own address |
//! | `extension.<name>`, seven | INIT-4 | `SIO_GET_EXTENSION_FUNCTION_POINTER` with the extension's GUID: a mandatory extension answers a non-null entry point of a pointer's size; an optional one passes either way (the detail says whether it is available) |
//! | `unknown_extension` | INIT-4 | the same request with a GUID no extension has fails |
//! | `close_socket` | CLOSE-1 | `WSPCloseSocket` returns 0 and the socket's `WPUCloseSocketHandle` came |
//! | `cleanup` | CLOSE-2 | `WSPCleanup` returns 0 |
//!
//! Every check runs whatever the earlier ones gave, as long as it can: a check that cannot
//! (there is no socket, the entry point it needs is empty, the startup failed) is skipped with
//! the reason, which always follows a failed check. After a failed startup nothing else runs,
//! `WSPCleanup` included: the switch owes no clean-up to a provider that did not start
//! (INIT-2a). A Rust panic inside a check (a bug of the shim) fails that check and does not
//! escape; a crash inside the provider's own code takes the process with it, as a provider DLL
//! does on Windows.
//!
//! Every buffer handed to the provider is followed by guard bytes: a provider that writes past
//! the size it was given fails the check, with nothing else damaged (within 4 KiB).
//!
//! The details never show addresses or the provider's own socket values, so the report of a
//! library is the same from run to run.
//!
//! ```
//! use std::path::Path;
//! use spi_abi::{LoadError, conform};
//! // A file that is not there: the load error, never a crash.
//! let err = conform::run(Path::new("/nonexistent/libprovider.so")).unwrap_err();
//! assert!(matches!(err, LoadError::Open { .. }));
//! ```

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use spi_types::address_list::{PointerWidth, decode_address_list};
use spi_types::{
    AddressFamily, Guid, IoctlCode, Protocol, ProtocolInfo, SanExtension, SocketFlags, SocketType,
    WinsockVersion, WsaError,
};
use switch_core::address::{INITIAL_ADDRESS_BUFFER, MAX_ADDRESS_BUFFER};
use switch_core::provider::{
    IoctlFailure, Overlapped, ProviderSocket, SanProvider, StartupAnswer, SwitchSocket, Upcalls,
};

use crate::{Library, LibraryProvider, LoadError};

/// The version the switch asks for and requires.
const VERSION: WinsockVersion = WinsockVersion::V2_2;

/// The catalog entry id in the TCP/IP provider's record handed to `WSPStartupEx`.
const TCPIP_CATALOG_ENTRY_ID: u32 = 1001;

/// The address-list buffer of the size check: too small for any list (a `SOCKET_ADDRESS_LIST`
/// is 12 bytes on 32-bit Windows, 24 on 64-bit).
pub const TOO_SMALL_ADDRESS_BUFFER: usize = 4;

/// A GUID that no extension has, for the `unknown_extension` check:
/// `{3C1F7A2E-9D4B-4E61-8A05-C7E21B9D6F40}`.
pub fn unknown_extension_guid() -> Guid {
    Guid::from_bytes([
        0x2E, 0x7A, 0x1F, 0x3C, 0x4B, 0x9D, 0x61, 0x4E, 0x8A, 0x05, 0xC7, 0xE2, 0x1B, 0x9D, 0x6F,
        0x40,
    ])
}

/// Bytes of guard after every buffer handed to the provider.
const GUARD: usize = 4096;

/// The value of the guard bytes.
const CANARY: u8 = 0xA5;

/// The pointer width of this process, which the provider shares.
const WIDTH: PointerWidth = if cfg!(target_pointer_width = "32") {
    PointerWidth::Bits32
} else {
    PointerWidth::Bits64
};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The provider did what the rule asks.
    Pass,
    /// It did not.
    Fail,
    /// The check could not run (the detail says why); always after a failed check.
    Skip,
}

impl Status {
    /// `"pass"`, `"fail"` or `"skip"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name (`startup`, `address_list_size`, `extension.rdma_write`, ...).
    pub name: String,
    /// The rule of `docs/rules.md` it serves (`INIT-2`, `CLOSE-1`, ...).
    pub rule: &'static str,
    /// Whether it passed (a skipped check did not).
    pub passed: bool,
    /// Pass, fail or skip.
    pub status: Status,
    /// What the provider did, or why the check was skipped.
    pub detail: String,
}

/// The outcome of [`run`]: every check, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConformReport {
    /// The library, as named to [`run`].
    pub library: String,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// Whether every check passed.
    pub passed: bool,
}

impl ConformReport {
    /// The checks that ended with `status`.
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(move |c| c.status == status)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Loads the provider shared object `path` and runs every check against one instance of it.
///
/// The error is why the library could not be used at all: it cannot be loaded (missing, not a
/// regular file, not a shared object: [`LoadError::Open`]) or it has no `WSPStartupEx` export
/// ([`LoadError::NoStartup`]). A relative path names a file from the current directory, never
/// one the system loader would search for.
///
/// Loading runs the library's initialization code, and the checks run the provider's code in
/// this process: run it on a library you would load into the switch.
pub fn run(path: &Path) -> Result<ConformReport, LoadError> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(LoadError::Open {
            path: path.to_path_buf(),
            message: format!("it is {what}, not a shared object"),
        });
    }
    let library = Library::open(loader_path(path))?;
    let mut kit = Kit {
        provider: library.provider(),
        upcalls: Arc::new(Recorder::default()),
        checks: Vec::new(),
    };
    kit.run_all();
    let passed = kit.checks.iter().all(|c| c.passed);
    Ok(ConformReport {
        library: path.display().to_string(),
        checks: kit.checks,
        passed,
    })
}

/// `path` as the system loader must be given it to open that very file: a bare file name
/// (`libx.so`) is searched for in the system's library directories by `dlopen` and
/// `LoadLibrary`, so it is prefixed with the current directory (`./libx.so`).
fn loader_path(path: &Path) -> PathBuf {
    let bare = path.is_relative() && path.parent().is_none_or(|p| p.as_os_str().is_empty());
    if bare {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// The up-calls the provider made, as this kit's switch saw them.
#[derive(Debug, Default)]
struct Recorder {
    inner: Mutex<Calls>,
}

#[derive(Debug, Default)]
struct Calls {
    /// Every `WPUCreateSocketHandle`, in order: the handle given out.
    created: Vec<u64>,
    /// Every successful `WPUCloseSocketHandle`, in order.
    closed: Vec<u64>,
    /// The open handles and their contexts.
    open: BTreeMap<u64, u64>,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Calls> {
        // Every update is a push, insert or remove: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn created(&self) -> usize {
        self.lock().created.len()
    }

    fn created_since(&self, n: usize) -> Vec<u64> {
        self.lock().created.get(n..).unwrap_or_default().to_vec()
    }

    fn closed(&self) -> Vec<u64> {
        self.lock().closed.clone()
    }
}

impl Upcalls for Recorder {
    fn create_socket_handle(
        &self,
        _catalog_entry_id: u32,
        context: u64,
    ) -> Result<SwitchSocket, WsaError> {
        let mut c = self.lock();
        let handle = c.created.len() as u64 + 1;
        c.created.push(handle);
        c.open.insert(handle, context);
        Ok(SwitchSocket(handle))
    }

    fn close_socket_handle(&self, socket: SwitchSocket) -> Result<(), WsaError> {
        let mut c = self.lock();
        c.open.remove(&socket.0).ok_or(WsaError::WSAENOTSOCK)?;
        c.closed.push(socket.0);
        Ok(())
    }

    fn query_socket_handle_context(&self, socket: SwitchSocket) -> Result<u64, WsaError> {
        self.lock()
            .open
            .get(&socket.0)
            .copied()
            .ok_or(WsaError::WSAENOTSOCK)
    }

    fn complete_overlapped_request(
        &self,
        _socket: SwitchSocket,
        _overlapped: Overlapped,
        _error: Option<WsaError>,
        _bytes: usize,
    ) -> Result<(), WsaError> {
        // The kit starts no overlapped request, so none can be completed.
        Err(WsaError::WSAEINVAL)
    }
}

/// What one check found, and what it hands to the later ones.
struct Verdict<T> {
    passed: bool,
    detail: String,
    value: Option<T>,
}

fn pass<T>(detail: impl Into<String>, value: Option<T>) -> Verdict<T> {
    Verdict {
        passed: true,
        detail: detail.into(),
        value,
    }
}

fn fail<T>(detail: impl Into<String>, value: Option<T>) -> Verdict<T> {
    Verdict {
        passed: false,
        detail: detail.into(),
        value,
    }
}

/// An error's Windows name, or its number.
fn wsa(e: WsaError) -> String {
    e.name()
        .map_or_else(|| format!("error {}", e.code()), str::to_owned)
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// A provider's answer to one `WSPIoctl`, with the buffer it was given.
struct IoctlAnswer {
    result: Result<usize, IoctlFailure>,
    /// The output buffer as the provider left it (the size offered).
    bytes: Vec<u8>,
    /// Its address: what pointers in it are relative to.
    base: u64,
    /// Whether the provider wrote past the size it was given.
    overrun: bool,
}

/// Calls `WSPIoctl` with an output buffer of `len` zero bytes followed by [`GUARD`] guard
/// bytes, and reports whether any of those changed.
fn guarded_ioctl(
    provider: &mut LibraryProvider,
    socket: ProviderSocket,
    code: IoctlCode,
    input: &[u8],
    len: usize,
) -> IoctlAnswer {
    let mut buffer = vec![0u8; len + GUARD];
    buffer[len..].fill(CANARY);
    // The pointers of an address list are relative to this address; the heap allocation
    // does not move while the Vec is kept.
    let base = buffer.as_ptr() as usize as u64;
    let result = provider.ioctl(socket, code, input, &mut buffer[..len]);
    let overrun = buffer[len..].iter().any(|b| *b != CANARY);
    buffer.truncate(len);
    IoctlAnswer {
        result,
        bytes: buffer,
        base,
        overrun,
    }
}

/// What the extension request for one GUID answered.
enum ExtensionAnswer {
    /// A non-null entry point of a pointer's size.
    EntryPoint,
    /// Success, but no usable entry point (null, or fewer bytes than a pointer).
    NoEntryPoint(String),
    /// The request failed.
    Refused(WsaError),
    /// The provider wrote past the pointer-sized buffer.
    Overrun,
}

fn ask_extension(
    provider: &mut LibraryProvider,
    socket: ProviderSocket,
    guid: Guid,
) -> ExtensionAnswer {
    let width = WIDTH.bytes();
    let a = guarded_ioctl(
        provider,
        socket,
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
        &guid.to_bytes(),
        width,
    );
    if a.overrun {
        return ExtensionAnswer::Overrun;
    }
    match a.result {
        Err(f) => ExtensionAnswer::Refused(f.error),
        Ok(n) if n < width => ExtensionAnswer::NoEntryPoint(format!(
            "it said it wrote {n} bytes, fewer than a pointer ({width})"
        )),
        Ok(_) if a.bytes.iter().all(|b| *b == 0) => {
            ExtensionAnswer::NoEntryPoint("the entry point is null".to_owned())
        }
        Ok(_) => ExtensionAnswer::EntryPoint,
    }
}

/// The checks' state: the provider instance, the up-calls it made, the checks so far.
struct Kit {
    provider: LibraryProvider,
    upcalls: Arc<Recorder>,
    checks: Vec<Check>,
}

impl Kit {
    /// Runs one check, catching a panic inside it (which fails it); answers what it hands on.
    fn check<T>(
        &mut self,
        name: &str,
        rule: &'static str,
        f: impl FnOnce(&mut LibraryProvider, &Arc<Recorder>) -> Verdict<T>,
    ) -> Option<T> {
        let provider = &mut self.provider;
        let upcalls = &self.upcalls;
        let verdict =
            catch_unwind(AssertUnwindSafe(|| f(provider, upcalls))).unwrap_or_else(|payload| {
                fail(
                    format!("panicked inside the shim: {}", panic_text(payload.as_ref())),
                    None,
                )
            });
        self.checks.push(Check {
            name: name.to_owned(),
            rule,
            passed: verdict.passed,
            status: if verdict.passed {
                Status::Pass
            } else {
                Status::Fail
            },
            detail: verdict.detail,
        });
        verdict.value
    }

    fn skip(&mut self, name: &str, rule: &'static str, reason: &str) {
        self.checks.push(Check {
            name: name.to_owned(),
            rule,
            passed: false,
            status: Status::Skip,
            detail: format!("skipped: {reason}"),
        });
    }

    fn run_all(&mut self) {
        let answer = self.check("startup", "INIT-2", startup);
        let Some(answer) = answer else {
            let reason = "WSPStartupEx did not succeed";
            for (name, rule) in after_startup() {
                self.skip(&name, rule, reason);
            }
            if self.provider.procedures().is_some() {
                // It did start before the shim panicked: clean it up all the same.
                self.check("cleanup", "CLOSE-2", cleanup);
            } else {
                self.skip(
                    "cleanup",
                    "CLOSE-2",
                    "WSPStartupEx failed, so no WSPCleanup is owed (INIT-2a)",
                );
            }
            return;
        };
        self.check("version", "INIT-2a", |_, _| version(&answer));
        self.check("entry_points", "INIT-2", |_, _| entry_points(&answer));
        let missing = |name: &str| answer.missing_entry_points.iter().any(|m| m == name);
        let empty = |name: &str| format!("{name} is empty in the procedure table (entry_points)");

        let socket = if missing("WSPSocket") {
            self.skip("socket", "INIT-3", &empty("WSPSocket"));
            None
        } else {
            self.check("socket", "INIT-3", socket)
        };

        let ioctl_checks = ioctl_checks();
        match socket {
            None => {
                let reason = if missing("WSPSocket") {
                    "no socket: WSPSocket is empty (entry_points)"
                } else {
                    "no socket: WSPSocket failed (socket)"
                };
                for (name, rule) in &ioctl_checks {
                    self.skip(name, rule, reason);
                }
                self.skip("close_socket", "CLOSE-1", reason);
            }
            Some((s, handles)) => {
                if missing("WSPIoctl") {
                    for (name, rule) in &ioctl_checks {
                        self.skip(name, rule, &empty("WSPIoctl"));
                    }
                } else {
                    self.ioctls(s);
                }
                if missing("WSPCloseSocket") {
                    self.skip("close_socket", "CLOSE-1", &empty("WSPCloseSocket"));
                } else {
                    self.check("close_socket", "CLOSE-1", |p, u| {
                        close_socket(p, u, s, &handles)
                    });
                }
            }
        }

        if missing("WSPCleanup") {
            self.skip("cleanup", "CLOSE-2", &empty("WSPCleanup"));
        } else {
            self.check("cleanup", "CLOSE-2", cleanup);
        }
    }

    /// The address-list and extension checks, on `socket`.
    fn ioctls(&mut self, socket: ProviderSocket) {
        let needed = self.check("address_list_size", "INIT-3", |p, _| {
            address_list_size(p, socket)
        });
        self.check("address_list", "INIT-3", |p, _| {
            address_list(p, socket, needed)
        });
        for e in SanExtension::ALL {
            self.check(&extension_check_name(e), "INIT-4", |p, _| {
                extension(p, socket, e)
            });
        }
        self.check("unknown_extension", "INIT-4", |p, _| {
            unknown_extension(p, socket)
        });
    }
}

/// The name of the check of extension `e`: `extension.<name>`.
pub fn extension_check_name(e: SanExtension) -> String {
    format!("extension.{}", e.name())
}

/// The checks that use `WSPIoctl` on the socket, with their rules.
fn ioctl_checks() -> Vec<(String, &'static str)> {
    let mut v = vec![
        ("address_list_size".to_owned(), "INIT-3"),
        ("address_list".to_owned(), "INIT-3"),
    ];
    v.extend(
        SanExtension::ALL
            .iter()
            .map(|e| (extension_check_name(*e), "INIT-4")),
    );
    v.push(("unknown_extension".to_owned(), "INIT-4"));
    v
}

/// Every check after `startup` and before `cleanup`, with its rule.
fn after_startup() -> Vec<(String, &'static str)> {
    let mut v = vec![
        ("version".to_owned(), "INIT-2a"),
        ("entry_points".to_owned(), "INIT-2"),
        ("socket".to_owned(), "INIT-3"),
    ];
    v.extend(ioctl_checks());
    v.push(("close_socket".to_owned(), "CLOSE-1"));
    v
}

fn startup(p: &mut LibraryProvider, upcalls: &Arc<Recorder>) -> Verdict<StartupAnswer> {
    let info = ProtocolInfo::tcpip(TCPIP_CATALOG_ENTRY_ID);
    let table: Arc<dyn Upcalls> = upcalls.clone();
    match p.startup_ex(VERSION, &info, table) {
        Ok(answer) => pass(
            "WSPStartupEx(2.2) with the TCP/IP provider's protocol-info record returned 0",
            Some(answer),
        ),
        Err(e) => fail(
            format!(
                "WSPStartupEx(2.2) with the TCP/IP provider's protocol-info record failed with {}",
                wsa(e)
            ),
            None,
        ),
    }
}

fn version(answer: &StartupAnswer) -> Verdict<()> {
    let d = &answer.data;
    let text = format!(
        "answered version {} (highest {}), description {:?}",
        d.version, d.high_version, d.description
    );
    if d.version == VERSION {
        pass(text, None)
    } else {
        fail(
            format!("{text}: the switch accepts only 2.2 and rejects it (version_mismatch)"),
            None,
        )
    }
}

fn entry_points(answer: &StartupAnswer) -> Verdict<()> {
    let missing = &answer.missing_entry_points;
    if missing.is_empty() {
        pass(
            "every entry point the switch calls is filled in the procedure table",
            None,
        )
    } else {
        fail(
            format!(
                "left empty in the procedure table: {} (the switch rejects it: missing_entry_point)",
                missing.join(", ")
            ),
            None,
        )
    }
}

fn socket(p: &mut LibraryProvider, upcalls: &Arc<Recorder>) -> Verdict<(ProviderSocket, Vec<u64>)> {
    let before = upcalls.created();
    let result = p.socket(
        AddressFamily::INET,
        SocketType::STREAM,
        Protocol::TCP,
        SocketFlags::OVERLAPPED,
    );
    let made = upcalls.created_since(before);
    const CALL: &str = "WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)";
    match result {
        Ok(s) if made.len() == 1 => pass(
            format!("{CALL} returned a socket after one WPUCreateSocketHandle"),
            Some((s, made)),
        ),
        Ok(s) => fail(
            format!(
                "{CALL} returned a socket after {} WPUCreateSocketHandle up-calls; exactly one is required",
                made.len()
            ),
            Some((s, made)),
        ),
        Err(e) => fail(format!("{CALL} failed with {}", wsa(e)), None),
    }
}

/// The size check: answers the size the provider asked for, when the switch could use it.
fn address_list_size(p: &mut LibraryProvider, socket: ProviderSocket) -> Verdict<usize> {
    let offered = TOO_SMALL_ADDRESS_BUFFER;
    let a = guarded_ioctl(p, socket, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], offered);
    if a.overrun {
        return fail(
            format!("wrote past the end of the {offered}-byte buffer it was given"),
            None,
        );
    }
    match a.result {
        Err(f) if f.error == WsaError::WSAEFAULT => match f.bytes_returned {
            0 => fail(
                format!(
                    "WSAEFAULT with a {offered}-byte buffer, but no size in lpcbBytesReturned: the switch has nothing to retry with"
                ),
                None,
            ),
            n if n <= offered => fail(
                format!(
                    "WSAEFAULT with {n} bytes needed, no more than the {offered} offered: the switch cannot retry with it"
                ),
                None,
            ),
            n if n > MAX_ADDRESS_BUFFER => fail(
                format!(
                    "WSAEFAULT with {n} bytes needed, more than the switch's limit of {MAX_ADDRESS_BUFFER}"
                ),
                None,
            ),
            n => pass(
                format!("WSAEFAULT with {n} bytes needed ({offered} offered)"),
                Some(n),
            ),
        },
        Err(f) => fail(
            format!(
                "failed with {} for a {offered}-byte buffer; a buffer too small must be answered WSAEFAULT with the size needed",
                wsa(f.error)
            ),
            None,
        ),
        Ok(n) => fail(
            format!(
                "succeeded with a {offered}-byte buffer (saying it wrote {n} bytes), which no address list fits; it must answer WSAEFAULT with the size needed"
            ),
            None,
        ),
    }
}

/// The list check, with the size asked for, or the switch's first buffer without one.
fn address_list(
    p: &mut LibraryProvider,
    socket: ProviderSocket,
    needed: Option<usize>,
) -> Verdict<()> {
    let (len, offered) = match needed {
        Some(n) => (n, format!("the {n} bytes it asked for")),
        None => (
            INITIAL_ADDRESS_BUFFER,
            format!("the switch's first buffer of {INITIAL_ADDRESS_BUFFER} bytes"),
        ),
    };
    let a = guarded_ioctl(p, socket, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], len);
    if a.overrun {
        return fail(
            format!("wrote past the end of the buffer of {offered}"),
            None,
        );
    }
    let returned = match a.result {
        Ok(n) => n,
        Err(f) if f.error == WsaError::WSAEFAULT => {
            return fail(
                format!(
                    "answered WSAEFAULT again (asking for {} bytes) with a buffer of {offered}",
                    f.bytes_returned
                ),
                None,
            );
        }
        Err(f) => {
            return fail(
                format!("failed with {} with a buffer of {offered}", wsa(f.error)),
                None,
            );
        }
    };
    if returned > len {
        return fail(
            format!("said it wrote {returned} bytes into a buffer of {len}"),
            None,
        );
    }
    // A count of 0 on success: the switch decodes the whole buffer (and reports
    // address_list_size_missing), and so does the kit.
    let (written, note) = match returned {
        0 => (
            &a.bytes[..],
            format!(
                "; lpcbBytesReturned was 0, so the whole {len}-byte buffer was decoded, as the switch does (it reports address_list_size_missing)"
            ),
        ),
        n => (&a.bytes[..n], String::new()),
    };
    match decode_address_list(written, a.base, WIDTH) {
        Ok(list) if list.is_empty() => pass(
            format!(
                "an empty list in {returned} bytes (valid: the provider serves no subnet){note}"
            ),
            None,
        ),
        Ok(list) => {
            let addresses: Vec<String> = list.iter().map(|a| a.ip().to_string()).collect();
            pass(
                format!(
                    "{} address{} in {returned} bytes: {}{note}",
                    list.len(),
                    if list.len() == 1 { "" } else { "es" },
                    addresses.join(", ")
                ),
                None,
            )
        }
        Err(e) => fail(
            format!("the list does not decode (the switch rejects it: address_list_invalid): {e}"),
            None,
        ),
    }
}

fn extension(p: &mut LibraryProvider, socket: ProviderSocket, e: SanExtension) -> Verdict<()> {
    let kind = if e.is_mandatory() {
        "mandatory"
    } else {
        "optional"
    };
    let why = match ask_extension(p, socket, e.guid()) {
        ExtensionAnswer::EntryPoint => {
            let text = if e.is_mandatory() {
                "mandatory: entry point returned"
            } else {
                "optional: available (entry point returned)"
            };
            return pass(text, None);
        }
        ExtensionAnswer::Overrun => {
            return fail(
                format!("{kind}: wrote past the end of the pointer-sized buffer it was given"),
                None,
            );
        }
        ExtensionAnswer::NoEntryPoint(why) => why,
        ExtensionAnswer::Refused(err) => format!("refused with {}", wsa(err)),
    };
    if e.is_mandatory() {
        fail(
            format!("mandatory: {why} (the switch rejects it: missing_extension)"),
            None,
        )
    } else {
        pass(format!("optional: not available ({why})"), None)
    }
}

fn unknown_extension(p: &mut LibraryProvider, socket: ProviderSocket) -> Verdict<()> {
    let guid = unknown_extension_guid();
    match ask_extension(p, socket, guid) {
        ExtensionAnswer::Refused(e) => pass(format!("{guid} refused with {}", wsa(e)), None),
        ExtensionAnswer::Overrun => fail(
            format!("{guid}: wrote past the end of the pointer-sized buffer it was given"),
            None,
        ),
        ExtensionAnswer::EntryPoint => fail(
            format!(
                "{guid}, which no extension has, was answered with an entry point; it must be refused (WSAEINVAL)"
            ),
            None,
        ),
        ExtensionAnswer::NoEntryPoint(why) => fail(
            format!(
                "{guid}, which no extension has, was answered with success ({why}); it must be refused (WSAEINVAL)"
            ),
            None,
        ),
    }
}

fn close_socket(
    p: &mut LibraryProvider,
    upcalls: &Arc<Recorder>,
    socket: ProviderSocket,
    handles: &[u64],
) -> Verdict<()> {
    if let Err(e) = p.close_socket(socket) {
        return fail(format!("WSPCloseSocket failed with {}", wsa(e)), None);
    }
    let closed = upcalls.closed();
    if handles.is_empty() {
        return fail(
            "WSPCloseSocket returned 0, but the socket has no switch handle (WSPSocket made no WPUCreateSocketHandle), so no WPUCloseSocketHandle could come",
            None,
        );
    }
    let left: Vec<u64> = handles
        .iter()
        .copied()
        .filter(|h| !closed.contains(h))
        .collect();
    if left.is_empty() {
        pass(
            "WSPCloseSocket returned 0, and WPUCloseSocketHandle came for the socket's handle",
            None,
        )
    } else {
        fail(
            "WSPCloseSocket returned 0, but no WPUCloseSocketHandle came for the socket's handle: the switch's handle stays open",
            None,
        )
    }
}

fn cleanup(p: &mut LibraryProvider, _: &Arc<Recorder>) -> Verdict<()> {
    match p.cleanup() {
        Ok(()) => pass("WSPCleanup returned 0", None),
        Err(e) => fail(format!("WSPCleanup failed with {}", wsa(e)), None),
    }
}

/// The directory the build put the sample providers in, for tests.
pub fn sample_providers_dir() -> &'static str {
    env!("WSD_SAMPLE_PROVIDERS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_opened_from_the_current_directory_not_searched_for() {
        assert_eq!(loader_path(Path::new("libx.so")), Path::new("./libx.so"));
        assert_eq!(
            loader_path(Path::new("lib/libx.so")),
            Path::new("lib/libx.so")
        );
        assert_eq!(
            loader_path(Path::new("/opt/libx.so")),
            Path::new("/opt/libx.so")
        );
        assert_eq!(loader_path(Path::new("./libx.so")), Path::new("./libx.so"));
    }

    #[cfg(unix)]
    #[test]
    fn a_panic_inside_a_check_fails_that_check_and_goes_no_further() {
        let ext = if cfg!(target_os = "macos") {
            "dylib"
        } else {
            "so"
        };
        let src = Path::new(sample_providers_dir()).join(format!("libwsd_good.{ext}"));
        let dir = std::env::temp_dir().join(format!("wsd-conform-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("libwsd_good.{ext}"));
        std::fs::copy(&src, &path).unwrap();
        let library = Library::open(&path).unwrap();
        let mut kit = Kit {
            provider: library.provider(),
            upcalls: Arc::new(Recorder::default()),
            checks: Vec::new(),
        };
        let got: Option<()> = kit.check("boom", "INIT-2", |_, _| panic!("deliberate"));
        assert!(got.is_none());
        let c = &kit.checks[0];
        assert_eq!((c.status, c.passed), (Status::Fail, false));
        assert_eq!(c.detail, "panicked inside the shim: deliberate");
    }
}
