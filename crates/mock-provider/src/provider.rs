//! The mock SAN provider: a [`SanProvider`] that does what its [`MockConfig`] says and logs
//! every call it receives.
//!
//! On its own, a mock's connects succeed at once (or fail with the configured error), and its
//! listeners never see a connect. Attached to a [`Fabric`] ([`MockProvider::attach`], or every
//! provider of a [`MockLoader`](crate::MockLoader) through
//! [`MockLoader::attach`](crate::MockLoader::attach)), its sockets take part in the fabric's
//! network: connects reach listeners of other hosts' providers, which accept or refuse them
//! (see the [`fabric`](crate::fabric) module for every rule).
//!
//! # The data edge
//!
//! On a fabric, a connected socket carries messages (`WSPSend`, `WSPRecv`) and RDMA
//! (RdmaWrite, RdmaRead) to the other end of its connection; the fabric documents the rules.
//! What the mock checks itself, before the fabric sees the call:
//!
//! - an extension call's `entry` must be the handle this instance wrote for that extension
//!   through `SIO_GET_EXTENSION_FUNCTION_POINTER` (`WSAEINVAL` otherwise);
//! - every buffer of a data call must lie inside a live local registration (RegisterMemory) of
//!   this instance for the same socket, named by the buffer's handle, of the same
//!   [`Buffer`](switch_core::memory::Buffer), with `MEM_READ` for what is sent or RDMA-written
//!   and `MEM_WRITE` for what is received or RDMA-read: otherwise `WSAEFAULT`, counted by
//!   [`Fabric::mem_violations`];
//! - `WSPSend` takes 1 to 8 buffers, at most `SO_MAX_MSG_SIZE` bytes in all (`WSAEMSGSIZE`);
//!   `WSPRecv` exactly one; RDMA 1 to 8, at most `SO_MAX_RDMA_SIZE` bytes (`WSAEMSGSIZE`);
//!   other counts `WSAEINVAL`;
//! - data calls never complete inline: they answer [`DataOutcome::Pending`] and complete
//!   through `WPUCompleteOverlappedRequest`, or, for a `poll_only` request, through
//!   `WSPGetOverlappedResult` (`WSA_IO_INCOMPLETE` while under way; the result is answered
//!   once, then the request is forgotten; `WSAEINVAL` for a request the socket does not
//!   have);
//! - DeregisterMemory (and closing the socket) moves a registration into the instance's cache,
//!   which keeps its buffer until MemoryRegistrationCacheCallback covers it (MEM-2) or the
//!   provider's last `WSPCleanup`;
//! - `WSPCloseSocket` (CLOSE-1) aborts the socket's pending receives with
//!   `WSA_OPERATION_ABORTED`, fails the peer's with `WSAECONNRESET`, releases the socket's
//!   registrations, and only then makes its last up-call, `WPUCloseSocketHandle`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use spi_types::address_list::{PointerWidth, encode_address_list_into, required_size};
use spi_types::consts::{SO_MAX_MSG_SIZE, SO_MAX_RDMA_SIZE, SO_RDMA_THRESHOLD_SIZE, SOL_SOCKET};
use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, MemoryAccess, NetworkEvents, Protocol, ProtocolInfo,
    SanExtension, SocketFlags, SocketType, WinsockVersion, WsaError, WsaNetworkEvents, WspData,
};
use switch_core::memory::{MemoryHandle, MemoryRange, WsaBufEx};
use switch_core::provider::{
    Accepted, ConditionArgs, DataOutcome, EventHandle, ExtensionHandle, IoctlFailure, Overlapped,
    ProviderSocket, SanProvider, StartupAnswer, SwitchSocket, Upcalls,
};
use switch_core::trace::Call;

use crate::config::{AddressFault, MockConfig};
use crate::fabric::{
    AcceptDecision, Fabric, FabricError, Notify, RDMA_DESCRIPTOR_LEN, RdmaDirection, Request,
    SanAttachment, Upcall,
};
use crate::registry::{Registry, SharedRegistry};

/// The most buffers one `WSPSend`, RdmaWrite or RdmaRead takes.
pub const MAX_DATA_BUFFERS: usize = 8;

/// What a logged call carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallDetail {
    /// Nothing worth recording.
    None,
    /// `WSPStartupEx`: the version asked for and the record passed.
    Startup {
        /// The version asked for.
        version: WinsockVersion,
        /// The protocol-info record passed.
        protocol_info: Box<ProtocolInfo>,
    },
    /// `WSPSocket`'s arguments.
    Socket {
        /// Address family.
        family: AddressFamily,
        /// Socket type.
        socket_type: SocketType,
        /// Protocol.
        protocol: Protocol,
        /// Flags.
        flags: SocketFlags,
    },
    /// An ioctl's output buffer size.
    Ioctl {
        /// The socket it was made on.
        socket: ProviderSocket,
        /// The output buffer's size.
        output_len: usize,
    },
    /// A call on a socket.
    Socket2(ProviderSocket),
    /// A call with an address.
    Address(SocketAddr),
    /// A data call (`WSPSend`, `WSPRecv`, RdmaWrite, RdmaRead) or `WSPGetOverlappedResult`.
    Data {
        /// The socket.
        socket: ProviderSocket,
        /// The request.
        overlapped: Overlapped,
        /// The bytes of its buffers in all (0 for `WSPGetOverlappedResult`).
        bytes: usize,
    },
    /// A registration call or the cache callback: the memory it names.
    Memory {
        /// The socket (none for the cache callback).
        socket: Option<ProviderSocket>,
        /// The first address.
        address: u64,
        /// The length.
        len: usize,
    },
    /// `WSPGetSockOpt`'s option.
    SockOpt {
        /// The socket.
        socket: ProviderSocket,
        /// The level.
        level: i32,
        /// The option.
        name: i32,
    },
}

/// One call a mock received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCall {
    /// The provider's name.
    pub provider: String,
    /// The entry point.
    pub call: Call,
    /// What it carried.
    pub detail: CallDetail,
    /// The thread it was made on.
    pub thread: ThreadId,
}

/// A log of calls, shared by every mock made by one loader.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<LogInner>>);

/// The calls in order, and how many of each kind each provider received up to `counted`:
/// [`CallLog::count`] adds the calls logged since it last ran, so it does not walk a log that
/// grows with every data-path call, and logging a call costs no more than a push.
#[derive(Debug, Default)]
struct LogInner {
    calls: Vec<LoggedCall>,
    counts: HashMap<String, HashMap<Call, usize>>,
    counted: usize,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, provider: &str, call: Call, detail: CallDetail) {
        self.lock().calls.push(LoggedCall {
            provider: provider.to_owned(),
            call,
            detail,
            thread: std::thread::current().id(),
        });
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.lock().calls.clone()
    }

    /// The calls one provider received, in order.
    pub fn calls_of(&self, provider: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.provider == provider)
            .map(|c| c.call)
            .collect()
    }

    /// How many times `provider` received `call`.
    pub fn count(&self, provider: &str, call: Call) -> usize {
        let mut log = self.lock();
        let LogInner {
            calls,
            counts,
            counted,
        } = &mut *log;
        for c in &calls[*counted..] {
            let per_call = match counts.get_mut(&c.provider) {
                Some(p) => p,
                None => counts.entry(c.provider.clone()).or_default(),
            };
            *per_call.entry(c.call).or_insert(0) += 1;
        }
        *counted = calls.len();
        log.counts
            .get(provider)
            .and_then(|c| c.get(&call))
            .copied()
            .unwrap_or(0)
    }

    /// Forgets every call.
    pub fn clear(&self) {
        let mut log = self.lock();
        log.calls.clear();
        log.counts.clear();
        log.counted = 0;
    }
}

/// A configuration shared between a mock and its owner, so a test can change, for example, the
/// addresses of a provider the switch already holds.
pub type SharedConfig = Arc<Mutex<MockConfig>>;

/// The mock provider.
pub struct MockProvider {
    config: SharedConfig,
    log: CallLog,
    width: PointerWidth,
    upcalls: Option<Arc<dyn Upcalls>>,
    started: u32,
    next_socket: u64,
    /// Open sockets and the switch's handle of each.
    sockets: HashMap<ProviderSocket, SwitchSocket>,
    address_queries: u32,
    /// Without a fabric: sockets with a connect under way, and where to.
    pending: HashMap<ProviderSocket, IpAddr>,
    /// Its place on a fabric, if attached.
    fabric: Option<SanAttachment>,
    /// Its local memory registrations and cache.
    registry: SharedRegistry,
    /// The extensions whose entry point it wrote, by index.
    returned: [bool; SanExtension::ALL.len()],
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("name", &self.cfg().name)
            .field("started", &self.started)
            .field("fabric", &self.fabric)
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// A mock doing what `config` says, logging into `log`, writing 64-bit layouts.
    pub fn new(config: MockConfig, log: CallLog) -> Self {
        Self::shared(Arc::new(Mutex::new(config)), log, PointerWidth::Bits64)
    }

    /// A mock over a shared configuration.
    pub fn shared(config: SharedConfig, log: CallLog, width: PointerWidth) -> Self {
        MockProvider {
            config,
            log,
            width,
            upcalls: None,
            started: 0,
            next_socket: 0,
            sockets: HashMap::new(),
            address_queries: 0,
            pending: HashMap::new(),
            fabric: None,
            registry: Registry::shared(),
            returned: [false; SanExtension::ALL.len()],
        }
    }

    /// Attaches the mock to `host` of `fabric`: its configuration's addresses belong to the
    /// host from now on, it serves them on its fabric ([`MockConfig::fabric`]) while it is
    /// started, and its sockets connect and listen on the fabric. Sockets it already has
    /// join as they are (unbound, no event). A mock is attached once; dropping it withdraws
    /// it.
    pub fn attach(&mut self, fabric: &Fabric, host: usize) -> Result<(), FabricError> {
        if self.fabric.is_some() {
            return Err(FabricError::AlreadyAttached);
        }
        self.fabric = Some(SanAttachment::attach(
            fabric,
            host,
            &self.config,
            &self.registry,
            self.started > 0,
            self.sockets.keys().copied(),
        )?);
        Ok(())
    }

    /// The host it is attached to, if it is on a fabric.
    pub fn host(&self) -> Option<usize> {
        self.fabric.as_ref().map(SanAttachment::host)
    }

    /// The fabric it is attached to, if any.
    pub fn fabric(&self) -> Option<&Fabric> {
        self.fabric.as_ref().map(SanAttachment::fabric)
    }

    /// Makes a provider socket and its switch handle (`WPUCreateSocketHandle`).
    fn new_socket(&mut self) -> Result<ProviderSocket, WsaError> {
        let upcalls = self.upcalls.clone().ok_or(WsaError::WSANOTINITIALISED)?;
        self.next_socket += 1;
        let mine = ProviderSocket(0x5000 + self.next_socket);
        let theirs = upcalls.create_socket_handle(0, mine.0)?;
        self.sockets.insert(mine, theirs);
        Ok(mine)
    }

    /// What closing `socket` does, by `WSPCloseSocket` or by the last `WSPCleanup`: its calls
    /// under way are aborted, its peer sees the close, its registrations go, and the switch's
    /// handle is closed last.
    fn release_socket(&mut self, socket: ProviderSocket, cleanup: bool) -> Result<(), WsaError> {
        self.pending.remove(&socket);
        if !self.sockets.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        let upcalls = match &self.fabric {
            // The fabric knows every socket the mock has; nothing to report if it disagrees.
            Some(f) if cleanup => f.reset_at_cleanup(socket).unwrap_or_default(),
            Some(f) => f.close(socket).unwrap_or_default(),
            None => Vec::new(),
        };
        Registry::lock(&self.registry).release_socket(socket);
        // The completions first: WPUCloseSocketHandle is the last up-call for the socket.
        deliver(upcalls);
        self.drop_socket(socket)
    }

    /// Forgets a socket and closes its switch handle (`WPUCloseSocketHandle`).
    fn drop_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        let theirs = self.sockets.remove(&socket).ok_or(WsaError::WSAENOTSOCK)?;
        match &self.upcalls {
            Some(u) => u.close_socket_handle(theirs),
            None => Ok(()),
        }
    }

    fn cfg(&self) -> MutexGuard<'_, MockConfig> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs the call and panics if the configuration says so.
    fn enter(&self, call: Call, detail: CallDetail) {
        let (name, panic_at) = {
            let c = self.cfg();
            (c.name.clone(), c.panic_at)
        };
        self.log.push(&name, call, detail);
        if panic_at == Some(call) {
            panic!("mock provider `{name}` panics in {call} as configured");
        }
    }

    /// `WSAEINVAL` unless `entry` is the handle this instance wrote for `ext`.
    fn check_entry(&self, entry: ExtensionHandle, ext: SanExtension) -> Result<(), WsaError> {
        if self.returned[ext.index()] && entry == extension_handle(ext) {
            Ok(())
        } else {
            Err(WsaError::WSAEINVAL)
        }
    }

    /// `WSAENOTSOCK` unless the socket is open.
    fn check_socket(&self, socket: ProviderSocket) -> Result<(), WsaError> {
        if self.sockets.contains_key(&socket) {
            Ok(())
        } else {
            Err(WsaError::WSAENOTSOCK)
        }
    }

    /// The request of a data call on `socket`: where its completion goes.
    fn request(&self, socket: ProviderSocket, overlapped: Overlapped) -> Result<Request, WsaError> {
        let theirs = *self.sockets.get(&socket).ok_or(WsaError::WSAENOTSOCK)?;
        let notify = if overlapped.poll_only {
            None
        } else {
            let upcalls = self.upcalls.clone().ok_or(WsaError::WSANOTINITIALISED)?;
            Some(Notify {
                upcalls,
                socket: theirs,
            })
        };
        Ok(Request { overlapped, notify })
    }

    /// Counts a refused memory access on the fabric, if attached.
    fn violation(&self) {
        if let Some(f) = &self.fabric {
            f.violation();
        }
    }

    /// `WSAEFAULT` (counted) unless every buffer lies in a live registration of `socket` with
    /// `need`.
    fn check_local(
        &self,
        socket: ProviderSocket,
        bufs: &[WsaBufEx],
        need: MemoryAccess,
    ) -> Result<(), WsaError> {
        // The registry's lock is released before the fabric's is taken.
        let covered = Registry::lock(&self.registry).covers(socket, bufs, need);
        if covered {
            Ok(())
        } else {
            self.violation();
            Err(WsaError::WSAEFAULT)
        }
    }

    /// RdmaWrite and RdmaRead.
    #[allow(clippy::too_many_arguments)]
    fn rdma(
        &mut self,
        direction: RdmaDirection,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        let (call, ext, need) = match direction {
            RdmaDirection::Write => (Call::RdmaWrite, SanExtension::RdmaWrite, MemoryAccess::READ),
            RdmaDirection::Read => (Call::RdmaRead, SanExtension::RdmaRead, MemoryAccess::WRITE),
        };
        let bytes = total_len(local);
        self.enter(
            call,
            CallDetail::Data {
                socket,
                overlapped,
                bytes,
            },
        );
        self.check_entry(entry, ext)?;
        let request = self.request(socket, overlapped)?;
        if local.is_empty() || local.len() > MAX_DATA_BUFFERS {
            return Err(WsaError::WSAEINVAL);
        }
        self.check_local(socket, local, need)?;
        if bytes > self.cfg().max_rdma_size as usize {
            return Err(WsaError::WSAEMSGSIZE);
        }
        let f = self.fabric.as_ref().ok_or(WsaError::WSAENOTCONN)?;
        let upcalls = f.rdma(socket, local, target, target_offset, direction, request)?;
        deliver(upcalls);
        Ok(DataOutcome::Pending)
    }

    fn address_answer(&mut self, output: &mut [u8]) -> Result<usize, IoctlFailure> {
        self.address_queries += 1;
        let cfg = self.cfg().clone();
        let base = output.as_ptr() as usize as u64;
        let fault_size = |needed: usize| IoctlFailure {
            error: WsaError::WSAEFAULT,
            bytes_returned: needed,
        };
        if let Some(raw) = &cfg.address_raw {
            if output.len() < raw.bytes.len() {
                return Err(fault_size(raw.bytes.len()));
            }
            output[..raw.bytes.len()].copy_from_slice(&raw.bytes);
            rebase(&mut output[..raw.bytes.len()], raw.base, base, self.width);
            return Ok(raw.bytes.len());
        }
        let mut addrs: Vec<SocketAddr> = cfg
            .listed_addresses()
            .into_iter()
            .map(|a| SocketAddr::new(a, 0))
            .collect();
        // These faults damage an entry, so there must be one.
        if addrs.is_empty()
            && matches!(
                cfg.address_fault,
                AddressFault::WrongFamily | AddressFault::PointerOutside
            )
        {
            addrs.push(SocketAddr::from(([192, 0, 2, 1], 0)));
        }
        let needed = required_size(&addrs, self.width) + cfg.size_slack;
        match cfg.address_fault {
            AddressFault::Error(e) => return Err(IoctlFailure::new(e)),
            AddressFault::TooSmallAlways => return Err(fault_size(output.len() * 2)),
            AddressFault::TooSmallOnce if self.address_queries == 1 => {
                return Err(fault_size(needed));
            }
            _ => {}
        }
        if output.len() < needed {
            return Err(fault_size(needed));
        }
        let written = encode_address_list_into(&addrs, base, self.width, output)
            .map_err(|e| IoctlFailure::new(e.wsa_error()))?;
        let entry0 = self.width.header_size();
        match cfg.address_fault {
            AddressFault::Garbage => {
                for (i, b) in output.iter_mut().take(written.max(16)).enumerate() {
                    *b = [0xde, 0xad, 0xbe, 0xef][i % 4];
                }
            }
            AddressFault::WrongFamily => {
                let data = read_ptr(output, entry0, self.width).wrapping_sub(base) as usize;
                if let Some(f) = output.get_mut(data..data + 2) {
                    f.copy_from_slice(&17i16.to_le_bytes());
                }
            }
            AddressFault::ImpossibleCount => {
                output[0..4].copy_from_slice(&i32::MAX.to_le_bytes());
            }
            AddressFault::PointerOutside => {
                let outside = base + output.len() as u64 + 64;
                write_ptr(output, entry0, self.width, outside);
            }
            _ => {}
        }
        Ok(written)
    }
}

/// The entry point the mock writes for `ext`.
fn extension_handle(ext: SanExtension) -> ExtensionHandle {
    ExtensionHandle(0x7f00_0000_u64 + 0x10 * (ext as u64 + 1))
}

/// The bytes of `bufs` in all.
fn total_len(bufs: &[WsaBufEx]) -> usize {
    bufs.iter().fold(0, |n, b| n.saturating_add(b.range.len))
}

/// Whether `access` is one of `MEM_READ`, `MEM_WRITE`, `MEM_READWRITE`.
fn valid_access(access: MemoryAccess) -> bool {
    [
        MemoryAccess::READ,
        MemoryAccess::WRITE,
        MemoryAccess::READWRITE,
    ]
    .contains(&access)
}

/// Makes the up-calls a fabric call collected (its lock is released by now).
fn deliver(upcalls: Vec<Upcall>) {
    for u in upcalls {
        u.deliver();
    }
}

fn read_ptr(b: &[u8], off: usize, w: PointerWidth) -> u64 {
    let mut a = [0u8; 8];
    let n = w.bytes();
    if let Some(s) = b.get(off..off + n) {
        a[..n].copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn write_ptr(b: &mut [u8], off: usize, w: PointerWidth, v: u64) {
    let n = w.bytes();
    if let Some(s) = b.get_mut(off..off + n) {
        s.copy_from_slice(&v.to_le_bytes()[..n]);
    }
}

/// Moves the entry pointers of an address list captured at `from` to `to`; nothing else
/// changes. Entries past the end of the bytes, or a negative count, are left alone.
pub fn rebase(bytes: &mut [u8], from: u64, to: u64, width: PointerWidth) {
    let Some(count) = bytes
        .get(0..4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    else {
        return;
    };
    let count = usize::try_from(count).unwrap_or(0);
    for i in 0..count {
        let off = width.header_size() + i * width.entry_size();
        if off + width.bytes() > bytes.len() {
            break;
        }
        let p = read_ptr(bytes, off, width);
        write_ptr(bytes, off, width, p.wrapping_sub(from).wrapping_add(to));
    }
}

impl SanProvider for MockProvider {
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError> {
        self.enter(
            Call::StartupEx,
            CallDetail::Startup {
                version,
                protocol_info: Box::new(protocol_info.clone()),
            },
        );
        let cfg = self.cfg().clone();
        if version < cfg.min_version {
            return Err(WsaError::WSAVERNOTSUPPORTED);
        }
        cfg.startup?;
        self.started += 1;
        self.upcalls = Some(upcalls);
        if let Some(f) = &self.fabric {
            f.set_started(true);
        }
        Ok(StartupAnswer {
            data: WspData {
                version: cfg.version,
                high_version: cfg.high_version,
                description: cfg.description,
            },
            missing_entry_points: Vec::new(),
        })
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        self.enter(Call::Cleanup, CallDetail::None);
        if self.started == 0 {
            return Err(WsaError::WSANOTINITIALISED);
        }
        self.started -= 1;
        if self.started == 0 {
            // As WSPCleanup says: sockets still open are reset and freed as if each were
            // closed (their peers see the connection reset, the switch's handles are closed).
            let mut open: Vec<ProviderSocket> = self.sockets.keys().copied().collect();
            open.sort_unstable();
            for socket in open {
                let _ = self.release_socket(socket, true);
            }
            // The provider's last cleanup forgets its registration cache (MEM-2).
            Registry::lock(&self.registry).drop_cache();
            if let Some(f) = &self.fabric {
                f.set_started(false);
            }
        }
        self.cfg().cleanup
    }

    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError> {
        self.enter(
            Call::Socket,
            CallDetail::Socket {
                family,
                socket_type,
                protocol,
                flags,
            },
        );
        self.cfg().socket?;
        let mine = self.new_socket()?;
        if let Some(f) = &self.fabric {
            f.socket_opened(mine);
        }
        Ok(mine)
    }

    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.enter(Call::Bind, CallDetail::Address(address));
        let listed = self.cfg().listed_addresses();
        if !(address.ip().is_unspecified() || listed.contains(&address.ip())) {
            return Err(WsaError::WSAEADDRNOTAVAIL);
        }
        match &self.fabric {
            Some(f) => f.bind(socket, address),
            None => Ok(()),
        }
    }

    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        self.enter(Call::Listen, CallDetail::Socket2(socket));
        match &self.fabric {
            Some(f) => f.listen(socket, backlog),
            None => Ok(()),
        }
    }

    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.enter(Call::Connect, CallDetail::Address(address));
        if let Some(f) = &self.fabric {
            return f.connect(socket, address);
        }
        let (pending, error) = {
            let c = self.cfg();
            (
                c.connect_pending,
                c.connect_errors.get(&address.ip()).copied(),
            )
        };
        if pending {
            self.pending.insert(socket, address.ip());
            return Err(WsaError::WSAEWOULDBLOCK);
        }
        error.map_or(Ok(()), Err)
    }

    fn set_sock_opt(
        &mut self,
        socket: ProviderSocket,
        _level: i32,
        _name: i32,
        _value: &[u8],
    ) -> Result<(), WsaError> {
        self.enter(Call::SetSockOpt, CallDetail::Socket2(socket));
        self.cfg().set_option
    }

    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError> {
        self.enter(Call::Accept, CallDetail::Socket2(socket));
        let Some(f) = &self.fabric else {
            return Err(WsaError::WSAEWOULDBLOCK);
        };
        let offer = f.accept_offer(socket)?;
        // The condition function runs with no lock held: it may look at the fabric.
        let decision = match condition(&offer.args) {
            ConditionResult::Accept => AcceptDecision::Accept(self.new_socket()),
            ConditionResult::Reject => AcceptDecision::Reject,
            ConditionResult::Defer => AcceptDecision::Defer,
        };
        let Some(f) = &self.fabric else {
            return Err(WsaError::WSAENETDOWN);
        };
        let answer = f.accept_finish(socket, offer, decision);
        if answer.is_err()
            && let AcceptDecision::Accept(Ok(made)) = decision
        {
            // The fabric did not take the socket made for the connection: undo it.
            self.drop_socket(made).ok();
        }
        answer
    }

    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        self.enter(Call::EventSelect, CallDetail::Socket2(socket));
        if !events
            .difference(NetworkEvents::ACCEPT | NetworkEvents::CONNECT)
            .is_empty()
        {
            return Err(WsaError::WSAEINVAL);
        }
        match &self.fabric {
            Some(f) => f.event_select(socket, event, events),
            None => Ok(()),
        }
    }

    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        _event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError> {
        self.enter(Call::EnumNetworkEvents, CallDetail::Socket2(socket));
        if let Some(f) = &self.fabric {
            return f.enum_network_events(socket);
        }
        let mut events = WsaNetworkEvents::default();
        if let Some(ip) = self.pending.remove(&socket) {
            let error = self.cfg().connect_errors.get(&ip).copied();
            events.set(NetworkEvents::CONNECT, error);
        }
        Ok(events)
    }

    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        let detail = CallDetail::Ioctl {
            socket,
            output_len: output.len(),
        };
        match code {
            IoctlCode::SIO_ADDRESS_LIST_QUERY => {
                self.enter(Call::AddressListQuery, detail);
                self.address_answer(output)
            }
            IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER => {
                let Some(ext) = SanExtension::from_guid_bytes(input) else {
                    let unknown = self.cfg().unknown_guid;
                    return Err(IoctlFailure::new(unknown));
                };
                self.enter(Call::GetExtension(ext), detail);
                self.cfg()
                    .extension_answer(ext)
                    .map_err(IoctlFailure::new)?;
                let n = self.width.bytes();
                let handle = extension_handle(ext).0;
                let out = output.get_mut(..n).ok_or(IoctlFailure {
                    error: WsaError::WSAEFAULT,
                    bytes_returned: n,
                })?;
                out.copy_from_slice(&handle.to_le_bytes()[..n]);
                self.returned[ext.index()] = true;
                Ok(n)
            }
            _ => {
                let unknown = self.cfg().unknown_ioctl;
                Err(IoctlFailure::new(unknown))
            }
        }
    }

    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        self.enter(Call::CloseSocket, CallDetail::Socket2(socket));
        self.release_socket(socket, false)
    }

    fn get_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &mut [u8],
    ) -> Result<usize, WsaError> {
        self.enter(
            Call::GetSockOpt,
            CallDetail::SockOpt {
                socket,
                level,
                name,
            },
        );
        self.check_socket(socket)?;
        let answer = {
            let c = self.cfg();
            match (level, name) {
                (SOL_SOCKET, SO_MAX_MSG_SIZE) => c.max_msg_size,
                (SOL_SOCKET, SO_MAX_RDMA_SIZE) => c.max_rdma_size,
                (SOL_SOCKET, SO_RDMA_THRESHOLD_SIZE) => c.rdma_threshold,
                _ => return Err(WsaError::WSAENOPROTOOPT),
            }
        };
        let out = value.get_mut(..4).ok_or(WsaError::WSAEFAULT)?;
        out.copy_from_slice(&answer.to_le_bytes());
        Ok(4)
    }

    fn send(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        let bytes = total_len(buffers);
        self.enter(
            Call::Send,
            CallDetail::Data {
                socket,
                overlapped,
                bytes,
            },
        );
        let request = self.request(socket, overlapped)?;
        if buffers.is_empty() || buffers.len() > MAX_DATA_BUFFERS {
            return Err(WsaError::WSAEINVAL);
        }
        self.check_local(socket, buffers, MemoryAccess::READ)?;
        if bytes > self.cfg().max_msg_size as usize {
            return Err(WsaError::WSAEMSGSIZE);
        }
        let f = self.fabric.as_ref().ok_or(WsaError::WSAENOTCONN)?;
        let mut message = vec![0; bytes];
        let mut at = 0;
        for b in buffers {
            let part = message
                .get_mut(at..at + b.range.len)
                .ok_or(WsaError::WSAEFAULT)?;
            b.range
                .buffer
                .read(b.range.offset, part)
                .map_err(|_| WsaError::WSAEFAULT)?;
            at += b.range.len;
        }
        let upcalls = f.send(socket, message, request)?;
        deliver(upcalls);
        Ok(DataOutcome::Pending)
    }

    fn recv(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.enter(
            Call::Recv,
            CallDetail::Data {
                socket,
                overlapped,
                bytes: total_len(buffers),
            },
        );
        let request = self.request(socket, overlapped)?;
        let [buffer] = buffers else {
            return Err(WsaError::WSAEINVAL);
        };
        self.check_local(socket, buffers, MemoryAccess::WRITE)?;
        let f = self.fabric.as_ref().ok_or(WsaError::WSAENOTCONN)?;
        let upcalls = f.recv(socket, buffer.range.clone(), request)?;
        deliver(upcalls);
        Ok(DataOutcome::Pending)
    }

    fn get_overlapped_result(
        &mut self,
        socket: ProviderSocket,
        overlapped: Overlapped,
    ) -> Result<usize, WsaError> {
        self.enter(
            Call::GetOverlappedResult,
            CallDetail::Data {
                socket,
                overlapped,
                bytes: 0,
            },
        );
        self.check_socket(socket)?;
        match &self.fabric {
            Some(f) => f.poll(socket, overlapped),
            // Without a fabric no data call starts, so the socket has no request.
            None => Err(WsaError::WSAEINVAL),
        }
    }

    fn register_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> Result<MemoryHandle, WsaError> {
        self.enter(
            Call::RegisterMemory,
            CallDetail::Memory {
                socket: Some(socket),
                address: range.addr(),
                len: range.len,
            },
        );
        self.check_entry(entry, SanExtension::RegisterMemory)?;
        self.check_socket(socket)?;
        if range.check().is_err() {
            self.violation();
            return Err(WsaError::WSAEFAULT);
        }
        if !valid_access(access) {
            return Err(WsaError::WSAEINVAL);
        }
        self.cfg().register_memory?;
        Ok(Registry::lock(&self.registry).register(socket, range, access))
    }

    fn deregister_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        handle: MemoryHandle,
    ) -> Result<(), WsaError> {
        self.enter(Call::DeregisterMemory, CallDetail::Socket2(socket));
        self.check_entry(entry, SanExtension::DeregisterMemory)?;
        self.check_socket(socket)?;
        Registry::lock(&self.registry).deregister(socket, handle)
    }

    fn register_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
        descriptor: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        self.enter(
            Call::RegisterRdmaMemory,
            CallDetail::Memory {
                socket: Some(socket),
                address: range.addr(),
                len: range.len,
            },
        );
        self.check_entry(entry, SanExtension::RegisterRdmaMemory)
            .map_err(IoctlFailure::new)?;
        self.check_socket(socket).map_err(IoctlFailure::new)?;
        let Some(out) = descriptor.get_mut(..RDMA_DESCRIPTOR_LEN) else {
            return Err(IoctlFailure {
                error: WsaError::WSAEFAULT,
                bytes_returned: RDMA_DESCRIPTOR_LEN,
            });
        };
        if range.check().is_err() {
            self.violation();
            return Err(IoctlFailure::new(WsaError::WSAEFAULT));
        }
        if !valid_access(access) {
            return Err(IoctlFailure::new(WsaError::WSAEINVAL));
        }
        self.cfg().register_rdma_memory.map_err(IoctlFailure::new)?;
        let f = self
            .fabric
            .as_ref()
            .ok_or(IoctlFailure::new(WsaError::WSAENOTCONN))?;
        let d = f
            .register_rdma(socket, range, access)
            .map_err(IoctlFailure::new)?;
        out.copy_from_slice(&d);
        Ok(RDMA_DESCRIPTOR_LEN)
    }

    fn deregister_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        descriptor: &[u8],
    ) -> Result<(), WsaError> {
        self.enter(Call::DeregisterRdmaMemory, CallDetail::Socket2(socket));
        self.check_entry(entry, SanExtension::DeregisterRdmaMemory)?;
        self.check_socket(socket)?;
        if descriptor.len() != RDMA_DESCRIPTOR_LEN {
            return Err(WsaError::WSAEINVAL);
        }
        match &self.fabric {
            Some(f) => f.deregister_rdma(socket, descriptor),
            None => Err(WsaError::WSAEINVAL),
        }
    }

    fn rdma_write(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.rdma(
            RdmaDirection::Write,
            entry,
            socket,
            local,
            target,
            target_offset,
            overlapped,
        )
    }

    fn rdma_read(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.rdma(
            RdmaDirection::Read,
            entry,
            socket,
            local,
            target,
            target_offset,
            overlapped,
        )
    }

    fn memory_registration_cache_callback(
        &mut self,
        entry: ExtensionHandle,
        address: u64,
        size: usize,
    ) -> Result<(), WsaError> {
        self.enter(
            Call::MemoryRegistrationCacheCallback,
            CallDetail::Memory {
                socket: None,
                address,
                len: size,
            },
        );
        self.check_entry(entry, SanExtension::MemoryRegistrationCacheCallback)?;
        Registry::lock(&self.registry).cache_callback(address, size)
    }
}
