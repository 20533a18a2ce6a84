//! The mock SAN provider: a [`SanProvider`] that does what its [`MockConfig`] says and logs
//! every call it receives.
//!
//! On its own, a mock's connects succeed at once (or fail with the configured error), and its
//! listeners never see a connect. Attached to a [`Fabric`] ([`MockProvider::attach`], or every
//! provider of a [`MockLoader`](crate::MockLoader) through
//! [`MockLoader::attach`](crate::MockLoader::attach)), its sockets take part in the fabric's
//! network: connects reach listeners of other hosts' providers, which accept or refuse them
//! (see the [`fabric`](crate::fabric) module for every rule).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use spi_types::address_list::{PointerWidth, encode_address_list_into, required_size};
use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, NetworkEvents, Protocol, ProtocolInfo, SanExtension,
    SocketFlags, SocketType, WinsockVersion, WsaError, WsaNetworkEvents, WspData,
};
use switch_core::provider::{
    Accepted, ConditionArgs, EventHandle, IoctlFailure, ProviderSocket, SanProvider, StartupAnswer,
    SwitchSocket, Upcalls,
};
use switch_core::trace::Call;

use crate::config::{AddressFault, MockConfig};
use crate::fabric::{AcceptDecision, Fabric, FabricError, SanAttachment};

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
pub struct CallLog(Arc<Mutex<Vec<LoggedCall>>>);

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<LoggedCall>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, provider: &str, call: Call, detail: CallDetail) {
        self.lock().push(LoggedCall {
            provider: provider.to_owned(),
            call,
            detail,
            thread: std::thread::current().id(),
        });
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.lock().clone()
    }

    /// The calls one provider received, in order.
    pub fn calls_of(&self, provider: &str) -> Vec<Call> {
        self.lock()
            .iter()
            .filter(|c| c.provider == provider)
            .map(|c| c.call)
            .collect()
    }

    /// How many times `provider` received `call`.
    pub fn count(&self, provider: &str, call: Call) -> usize {
        self.lock()
            .iter()
            .filter(|c| c.provider == provider && c.call == call)
            .count()
    }

    /// Forgets every call.
    pub fn clear(&self) {
        self.lock().clear();
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
        })
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        self.enter(Call::Cleanup, CallDetail::None);
        if self.started == 0 {
            return Err(WsaError::WSANOTINITIALISED);
        }
        self.started -= 1;
        if self.started == 0
            && let Some(f) = &self.fabric
        {
            f.set_started(false);
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
                let handle = 0x7f00_0000_u64 + 0x10 * (ext as u64 + 1);
                let out = output.get_mut(..n).ok_or(IoctlFailure {
                    error: WsaError::WSAEFAULT,
                    bytes_returned: n,
                })?;
                out.copy_from_slice(&handle.to_le_bytes()[..n]);
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
        self.pending.remove(&socket);
        if !self.sockets.contains_key(&socket) {
            return Err(WsaError::WSAENOTSOCK);
        }
        if let Some(f) = &self.fabric {
            // The fabric knows every socket the mock has; nothing to report if it disagrees.
            f.close(socket).ok();
        }
        self.drop_socket(socket)
    }
}
