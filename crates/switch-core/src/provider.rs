//! The provider model: the traits at the switch's edge.
//!
//! A SAN provider is reached through [`SanProvider`], whose methods mirror the `WSP*` entry
//! points the switch calls. The switch hands every provider its up-call table ([`Upcalls`]) in
//! `WSPStartupEx`. Extension functions are obtained *through* [`SanProvider::ioctl`] with
//! `SIO_GET_EXTENSION_FUNCTION_POINTER` and the extension's GUID bytes as input, exactly as on
//! Windows, so a platform shim can forward the call unchanged; the pointer-sized value the
//! provider writes back is kept as an [`ExtensionHandle`].
//!
//! Nothing here performs I/O: a Windows shim implements [`SanProvider`] over a loaded DLL's
//! dispatch table, tests and the simulator implement it with the `mock-provider` crate.

use std::net::SocketAddr;
use std::sync::Arc;

use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, MemoryAccess, MsgFlags, NetworkEvents, Protocol,
    ProtocolInfo, SanExtension, SocketFlags, SocketType, WinsockVersion, WsaError,
    WsaNetworkEvents, WspData,
};

use crate::memory::{MemoryHandle, MemoryRange, WsaBufEx};
use crate::report::ExtensionSet;

/// A socket descriptor as a provider returns it (its own value, for example a pointer to its
/// state). The switch passes it back unchanged on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderSocket(pub u64);

/// A socket descriptor made by the switch's up-call `WPUCreateSocketHandle`. Providers use it in
/// every up-call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SwitchSocket(pub u64);

/// An event object handle (`WSAEVENT`) given to `WSPEventSelect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventHandle(pub u64);

/// The pointer-sized value a provider wrote for `SIO_GET_EXTENSION_FUNCTION_POINTER`: on Windows
/// the extension function's address. The switch keeps it and passes it back to the provider's
/// shim when it calls the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionHandle(pub u64);

/// What a provider answers `WSPStartupEx` with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupAnswer {
    /// The `WSPDATA` it filled in.
    pub data: WspData,
    /// Entry points the switch calls that the provider left empty in its procedure table
    /// (by name, such as `WSPSocket`): a provider loaded through the real ABI with one of
    /// them missing is rejected (`missing_entry_point`) and cleaned up. A provider
    /// implemented in Rust has them all.
    pub missing_entry_points: Vec<String>,
}

impl StartupAnswer {
    /// A successful startup with every entry point.
    pub fn new(data: WspData) -> Self {
        StartupAnswer {
            data,
            missing_entry_points: Vec::new(),
        }
    }
}

/// The entry points a provider returned, one slot per [`SanExtension`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtensionHandles([Option<ExtensionHandle>; SanExtension::ALL.len()]);

impl ExtensionHandles {
    /// The entry point of `extension`, if the provider returned one.
    pub fn get(&self, extension: SanExtension) -> Option<ExtensionHandle> {
        self.0[extension.index()]
    }

    /// Records the entry point of `extension`.
    pub fn insert(&mut self, extension: SanExtension, handle: ExtensionHandle) {
        self.0[extension.index()] = Some(handle);
    }

    /// The extensions that have an entry point.
    pub fn available(&self) -> ExtensionSet {
        let mut set = ExtensionSet::default();
        for e in SanExtension::ALL {
            if self.get(e).is_some() {
                set.insert(e);
            }
        }
        set
    }
}

/// A failed `WSPIoctl`: the error, and what the provider stored in `lpcbBytesReturned` (for
/// `WSAEFAULT` on a too-small buffer, the size it needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlFailure {
    /// The error.
    pub error: WsaError,
    /// `*lpcbBytesReturned` after the call.
    pub bytes_returned: usize,
}

impl IoctlFailure {
    /// A failure that reports no size.
    pub fn new(error: WsaError) -> Self {
        IoctlFailure {
            error,
            bytes_returned: 0,
        }
    }
}

/// What the switch's condition function sees during `WSPAccept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionArgs {
    /// The caller (the remote peer).
    pub caller: SocketAddr,
    /// The callee (the local address the request reached).
    pub callee: SocketAddr,
}

/// An accepted connection: the provider's socket for it and the peer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The new socket.
    pub socket: ProviderSocket,
    /// The peer.
    pub peer: SocketAddr,
}

/// An overlapped request handed to a provider's data call (`WSAOVERLAPPED`).
///
/// `poll_only` is the low bit of the event handle: set means "do not notify me, I will poll with
/// `WSPGetOverlappedResult`"; clear means the provider completes the request through the
/// `WPUCompleteOverlappedRequest` up-call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Overlapped {
    /// The switch's identifier of the request.
    pub id: u64,
    /// Whether the switch polls instead of being notified.
    pub poll_only: bool,
}

/// How an overlapped data call started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// Completed at once with this many bytes.
    Done(usize),
    /// Started (`WSA_IO_PENDING`); it completes later.
    Pending,
}

/// The `WSP*` entry points of a SAN service provider that the switch calls.
///
/// Each method answers the Winsock error the provider stored through `lpErrno` (or returned, for
/// `WSPStartupEx`). Implementations may panic: the switch calls every method behind a panic
/// boundary and isolates a provider that does.
///
/// The data-path methods (options, [`send`](Self::send), [`recv`](Self::recv),
/// [`get_overlapped_result`](Self::get_overlapped_result) and the memory and RDMA extensions)
/// have defaults that answer `WSAEOPNOTSUPP`, so a provider used only for initialization and
/// routing need not write them. Their buffers are [`WsaBufEx`] values: memory the switch owns
/// and registered, which a provider may keep (a clone of the handle) until a pending call
/// completes. The extension methods get the entry point the provider returned for the
/// extension, as a Windows shim calls through the function pointer.
pub trait SanProvider: Send {
    /// `WSPStartupEx`: the switch asks for `version` and passes the TCP/IP provider's
    /// protocol-info record and its up-call table.
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError>;

    /// `WSPCleanup`.
    fn cleanup(&mut self) -> Result<(), WsaError>;

    /// `WSPSocket`. The switch passes an IP family, `SOCK_STREAM`, `IPPROTO_TCP` and
    /// `WSA_FLAG_OVERLAPPED`.
    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError>;

    /// `WSPBind`.
    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError>;

    /// `WSPListen`.
    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError>;

    /// `WSPConnect` (always non-blocking: `WSAEWOULDBLOCK` means the result comes through the
    /// `FD_CONNECT` event).
    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError>;

    /// `WSPAccept`: the provider calls `condition` on the calling thread before returning.
    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError>;

    /// `WSPEventSelect` (the switch selects only `FD_ACCEPT` and `FD_CONNECT`).
    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError>;

    /// `WSPEnumNetworkEvents`.
    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError>;

    /// `WSPIoctl`: `input` and `output` are the caller's buffers; the output buffer's address is
    /// `output.as_ptr()`, which matters for answers that hold pointers into it
    /// (`SIO_ADDRESS_LIST_QUERY`). Answers the bytes returned.
    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure>;

    /// `WSPCloseSocket`.
    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError>;

    /// `WSPGetSockOpt`: writes the value into `value`, answers its length.
    fn get_sock_opt(
        &mut self,
        _socket: ProviderSocket,
        _level: i32,
        _name: i32,
        _value: &mut [u8],
    ) -> Result<usize, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// `WSPSetSockOpt`.
    fn set_sock_opt(
        &mut self,
        _socket: ProviderSocket,
        _level: i32,
        _name: i32,
        _value: &[u8],
    ) -> Result<(), WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// `WSPSend` of the registered `buffers`, overlapped, with no completion routine and flags
    /// 0 (SESS-5). A provider that answers [`DataOutcome::Pending`] keeps what it needs of the
    /// buffers (a [`Buffer`](crate::memory::Buffer) clone keeps the memory alive) and
    /// completes the request later: through `WPUCompleteOverlappedRequest`, or, when
    /// `overlapped.poll_only` is set, by answering
    /// [`get_overlapped_result`](Self::get_overlapped_result).
    fn send(
        &mut self,
        _socket: ProviderSocket,
        _buffers: &[WsaBufEx],
        _overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// `WSPRecv` into the registered `buffers`, overlapped, as [`send`](Self::send).
    fn recv(
        &mut self,
        _socket: ProviderSocket,
        _buffers: &[WsaBufEx],
        _overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// `WSPGetOverlappedResult(fWait = FALSE)` for a request started with `poll_only`: the
    /// bytes transferred, `WSA_IO_INCOMPLETE` while it is still under way, or the request's
    /// own error once it failed.
    fn get_overlapped_result(
        &mut self,
        _socket: ProviderSocket,
        _overlapped: Overlapped,
    ) -> Result<usize, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The RegisterMemory extension (`WSPRegisterMemory`), called through the entry point
    /// `entry` the provider returned: a local registration of `range` for `socket` with
    /// `access`.
    fn register_memory(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _range: &MemoryRange,
        _access: MemoryAccess,
    ) -> Result<MemoryHandle, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The DeregisterMemory extension.
    fn deregister_memory(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _handle: MemoryHandle,
    ) -> Result<(), WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The RegisterRdmaMemory extension: exposes `range` to the peer of `socket`'s connection
    /// and writes the opaque descriptor into `descriptor`, answering its length. A
    /// `descriptor` too small fails with `WSAEFAULT` and the size needed in
    /// [`IoctlFailure::bytes_returned`].
    fn register_rdma_memory(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _range: &MemoryRange,
        _access: MemoryAccess,
        _descriptor: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        Err(IoctlFailure::new(WsaError::WSAEOPNOTSUPP))
    }

    /// The DeregisterRdmaMemory extension.
    fn deregister_rdma_memory(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _descriptor: &[u8],
    ) -> Result<(), WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The RdmaWrite extension: writes the `local` buffers into the peer's memory named by
    /// `target` (its descriptor), starting `target_offset` bytes into it; overlapped as
    /// [`send`](Self::send).
    fn rdma_write(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _local: &[WsaBufEx],
        _target: &[u8],
        _target_offset: u32,
        _overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The RdmaRead extension: reads the peer's memory named by `target` from `target_offset`
    /// into the `local` buffers; overlapped as [`send`](Self::send).
    fn rdma_read(
        &mut self,
        _entry: ExtensionHandle,
        _socket: ProviderSocket,
        _local: &[WsaBufEx],
        _target: &[u8],
        _target_offset: u32,
        _overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// The MemoryRegistrationCacheCallback extension: the `size` bytes at `address` are about
    /// to be released, so the provider drops every cached registration inside them (MEM-2).
    fn memory_registration_cache_callback(
        &mut self,
        _entry: ExtensionHandle,
        _address: u64,
        _size: usize,
    ) -> Result<(), WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }
}

/// The switch's up-call table (`WSPUPCALLTABLEEX`), as far as SAN providers use it.
///
/// Providers may call it from any thread, so it is `Send + Sync`.
pub trait Upcalls: Send + Sync {
    /// `WPUCreateSocketHandle`: a new switch descriptor carrying `context`.
    fn create_socket_handle(
        &self,
        catalog_entry_id: u32,
        context: u64,
    ) -> Result<SwitchSocket, WsaError>;

    /// `WPUCloseSocketHandle`: the provider's last up-call for a socket.
    fn close_socket_handle(&self, socket: SwitchSocket) -> Result<(), WsaError>;

    /// `WPUQuerySocketHandleContext`: the context given at creation.
    fn query_socket_handle_context(&self, socket: SwitchSocket) -> Result<u64, WsaError>;

    /// `WPUCompleteOverlappedRequest`: completes a request that was not `poll_only`.
    fn complete_overlapped_request(
        &self,
        socket: SwitchSocket,
        overlapped: Overlapped,
        error: Option<WsaError>,
        bytes: usize,
    ) -> Result<(), WsaError>;
}

/// Turns a catalog entry into a provider instance: on Windows, loading the entry's DLL and
/// taking its `WSPStartupEx` export; in tests and the simulator, building a mock.
pub trait ProviderLoader {
    /// The provider behind `entry`, or the error that prevented loading it.
    fn load(
        &mut self,
        entry: &crate::catalog::CatalogEntry,
    ) -> Result<Box<dyn SanProvider>, WsaError>;
}

/// The TCP/IP provider's handle of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpSocket(pub u64);

/// The TCP/IP provider: the base provider, always present, that owns every application socket
/// from its creation (CONN-1) and carries every connection no SAN provider takes. A platform
/// shim implements it over the system's own TCP/IP; tests and the simulator with the
/// `mock-provider` crate.
///
/// Errors are the WSA errors the system's provider would answer.
pub trait TcpProvider: Send {
    /// Creates a socket of `kind`'s type in `family`.
    fn socket(
        &mut self,
        family: AddressFamily,
        kind: crate::routing::SocketKind,
    ) -> Result<TcpSocket, WsaError>;

    /// Binds the socket; answers the address it is bound to (a port of 0 is chosen here).
    fn bind(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError>;

    /// Sets an option (`setsockopt`).
    fn set_option(
        &mut self,
        socket: TcpSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError>;

    /// Connects the socket to `address`; binds it first if it is not bound. Answers the local
    /// address, or `WSAEWOULDBLOCK` when the connect goes on in the background (the platform
    /// completes it; the switch is done with it).
    fn connect(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError>;

    /// Listens on the bound socket.
    fn listen(&mut self, socket: TcpSocket, backlog: i32) -> Result<(), WsaError>;

    /// Closes the socket.
    fn close(&mut self, socket: TcpSocket) -> Result<(), WsaError>;

    /// Sends `data` on the connected socket with `flags` (`MSG_OOB` for urgent data); answers
    /// the bytes taken.
    fn send(
        &mut self,
        _socket: TcpSocket,
        _data: &[u8],
        _flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// Receives into `buf` (with `MSG_OOB`: the urgent byte); answers the bytes received, 0 at
    /// the end of the stream, `WSAEWOULDBLOCK` when nothing is there yet.
    fn recv(
        &mut self,
        _socket: TcpSocket,
        _buf: &mut [u8],
        _flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }

    /// `shutdown` of the socket's sending side, receiving side, or both.
    fn shutdown(&mut self, _socket: TcpSocket, _how: Shutdown) -> Result<(), WsaError> {
        Err(WsaError::WSAEOPNOTSUPP)
    }
}

/// What `shutdown` ends (`SD_RECEIVE`, `SD_SEND`, `SD_BOTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// `SD_RECEIVE`: no more receives.
    Receive,
    /// `SD_SEND`: no more sends; the peer sees the end of the stream.
    Send,
    /// `SD_BOTH`.
    Both,
}

impl Shutdown {
    /// Whether it ends sending.
    pub fn sends(self) -> bool {
        matches!(self, Shutdown::Send | Shutdown::Both)
    }

    /// Whether it ends receiving.
    pub fn receives(self) -> bool {
        matches!(self, Shutdown::Receive | Shutdown::Both)
    }
}
