//! A loaded provider behind the switch's [`SanProvider`] trait.
//!
//! [`LibraryProvider`] calls the entry points the provider filled into its `WSPPROC_TABLE`,
//! with buffers the adapter owns and sizes itself; what comes back (the `WSPDATA`, sockaddrs,
//! network events, the address list) is decoded by `spi-types`, never trusted as a Rust value.
//!
//! What is adapted: `WSPStartupEx`, `WSPCleanup`, `WSPSocket`, `WSPBind`, `WSPListen`,
//! `WSPConnect`, `WSPAccept` with the switch's condition function, `WSPEventSelect`,
//! `WSPEnumNetworkEvents`, `WSPIoctl` (the address-list query and the extension probe),
//! `WSPCloseSocket`, `WSPGetSockOpt` and `WSPSetSockOpt`. The data path (`WSPSend`,
//! `WSPRecv`, `WSPGetOverlappedResult` and the memory and RDMA extensions) keeps the trait's
//! default answer, `WSAEOPNOTSUPP`, for now: a switch whose SAN connections run sessions fails
//! their negotiation on such a provider (`session_failed`); run it with sessions off
//! (`SessionConfig::disabled()`) to use a library provider for connects.
//!
//! Why not yet: a provider may write into a posted receive buffer from its own thread at any
//! moment before it completes the request, while the switch's `memory::Buffer` lends its bytes
//! to Rust code as `&mut [u8]` under a lock. A foreign write into a block Rust holds a
//! reference to is undefined behaviour, however disjoint the bytes. Passing pointers to such
//! memory needs a block whose bytes Rust never borrows while a provider may write (storage in
//! `UnsafeCell`, copied with raw pointers), which only this crate may implement: the session's
//! buffers would come from a memory type the platform supplies.
//!
//! A provider that crashes takes the process with it: a shared object runs in the process,
//! which the switch on Windows accepts by design. A panic cannot come out of C code.

use std::ffi::c_void;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, NetworkEvents, Protocol, ProtocolInfo, SocketFlags,
    SocketType, WinsockVersion, WsaError, WsaNetworkEvents, WspData,
    sockaddr::{decode_sockaddr, encode_sockaddr},
};
use switch_core::provider::{
    Accepted, ConditionArgs, EventHandle, IoctlFailure, ProviderSocket, SanProvider, StartupAnswer,
    Upcalls,
};

use crate::abi::{
    INVALID_SOCKET, ProcTable, ProtocolInfoRaw, Socket, WsaBuf, WsaNetworkEventsRaw, WspDataRaw,
    WspStartupEx,
};
use crate::router::{self, Slot};

/// The largest sockaddr the adapter reads back (`SOCKADDR_STORAGE`).
const SOCKADDR_MAX: usize = 128;

/// One provider instance of a loaded shared object.
pub struct LibraryProvider {
    // Keeps the shared object loaded while its functions may be called.
    _lib: Arc<libloading::Library>,
    path: PathBuf,
    startup: WspStartupEx,
    procs: Option<ProcTable>,
    slot: Option<Slot>,
}

impl std::fmt::Debug for LibraryProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryProvider")
            .field("path", &self.path)
            .field("started", &self.procs.is_some())
            .finish_non_exhaustive()
    }
}

impl LibraryProvider {
    pub(crate) fn new(lib: Arc<libloading::Library>, path: PathBuf, startup: WspStartupEx) -> Self {
        LibraryProvider {
            _lib: lib,
            path,
            startup,
            procs: None,
            slot: None,
        }
    }

    /// The shared object it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The procedure table the provider filled, once started.
    pub fn procedures(&self) -> Option<&ProcTable> {
        self.procs.as_ref()
    }

    fn procs(&self) -> Result<&ProcTable, WsaError> {
        self.procs.as_ref().ok_or(WsaError::WSANOTINITIALISED)
    }
}

/// A socket value as the provider knows it.
fn raw(s: ProviderSocket) -> Result<Socket, WsaError> {
    usize::try_from(s.0).map_err(|_| WsaError::WSAENOTSOCK)
}

/// Answers a call that returns 0 or `SOCKET_ERROR` with its `lpErrno`. A failure without an
/// error stored is `WSASYSCALLFAILURE`.
fn result(rc: i32, errno: i32) -> Result<(), WsaError> {
    match (rc, errno) {
        (0, _) => Ok(()),
        (_, 0) => Err(WsaError::WSASYSCALLFAILURE),
        (_, e) => Err(WsaError::from_code(e)),
    }
}

/// The address in a `WSABUF` the provider passed, if it holds a valid sockaddr.
///
/// # Safety
///
/// `b` is null or points to a `WSABUF` whose `buf` is null or readable for `len` bytes.
unsafe fn sockaddr_in(b: *const WsaBuf) -> Option<SocketAddr> {
    if b.is_null() {
        return None;
    }
    // SAFETY: not null; the caller guarantees it points to a WSABUF.
    let wb = unsafe { *b };
    let len = usize::try_from(wb.len).ok()?;
    if wb.buf.is_null() || len > SOCKADDR_MAX {
        return None;
    }
    // Not null, and readable for `len` bytes (at most SOCKADDR_MAX) by the caller's
    // guarantee; the bytes are copied out before use.
    // SAFETY: for the reasons just above.
    let bytes = unsafe { std::slice::from_raw_parts(wb.buf, len) }.to_vec();
    decode_sockaddr(&bytes).ok()
}

/// What the condition function needs: the switch's decision.
struct ConditionContext<'a> {
    condition: &'a mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    called: bool,
}

crate::wsp_extern! {
    unsafe fn condition_trampoline(
        caller_id: *mut WsaBuf,
        _caller_data: *mut WsaBuf,
        _sqos: *mut c_void,
        _gqos: *mut c_void,
        callee_id: *mut WsaBuf,
        _callee_data: *mut WsaBuf,
        _group: *mut u32,
        callback_data: usize,
    ) -> i32 {
        let reject = ConditionResult::Reject.value();
        if callback_data == 0 {
            return reject;
        }
        // SAFETY: the provider passes the WSABUFs of WSPAccept's contract (null or valid).
        let (caller, callee) = unsafe { (sockaddr_in(caller_id), sockaddr_in(callee_id)) };
        let (Some(caller), Some(callee)) = (caller, callee) else {
            return reject;
        };
        // `callback_data` is the address of the ConditionContext that
        // `LibraryProvider::accept` keeps alive across the WSPAccept call it passed it to,
        // and the provider calls the condition on that thread before WSPAccept returns
        // (ACCEPT-1).
        // SAFETY: the context outlives this call and nothing else refers to it meanwhile.
        let ctx = unsafe { &mut *(callback_data as *mut ConditionContext<'_>) };
        ctx.called = true;
        let args = ConditionArgs { caller, callee };
        catch_unwind(AssertUnwindSafe(|| (ctx.condition)(&args)))
            .map_or(reject, ConditionResult::value)
    }
}

impl SanProvider for LibraryProvider {
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError> {
        let mut info = ProtocolInfoRaw(protocol_info.encode().map_err(|_| WsaError::WSAEFAULT)?);
        let slot = router::claim(upcalls).ok_or(WsaError::WSAEPROCLIM)?;
        let mut data = WspDataRaw::zeroed();
        let mut procs = ProcTable::empty();
        // `startup` is the library's `WSPStartupEx` export, with the signature of the SPI; the
        // library stays loaded (`_lib`). `data`, `info` and `procs` are owned here and sized as
        // the headers say (checked at compile time); the up-call table is a static.
        // SAFETY: the function is the export and every pointer is valid for the call.
        let rc = unsafe {
            (self.startup)(
                version.to_word(),
                &mut data,
                &mut info,
                slot.table(),
                &mut procs,
            )
        };
        if rc != 0 {
            return Err(WsaError::from_code(rc));
        }
        // A description that does not decode (no NUL in 256 units, say) is left out: the
        // version is what matters, and the provider did start, so it must be cleaned up.
        let data = WspData::decode(&data.to_bytes()).unwrap_or_else(|_| WspData {
            version: WinsockVersion::from_word(data.version),
            high_version: WinsockVersion::from_word(data.high_version),
            description: String::new(),
        });
        let missing_entry_points = procs.missing().into_iter().map(String::from).collect();
        self.procs = Some(procs);
        self.slot = Some(slot);
        Ok(StartupAnswer {
            data,
            missing_entry_points,
        })
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        let f = self.procs()?.cleanup.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut errno = 0;
        // An entry point from the provider's procedure table (the library is still
        // loaded); `errno` is a valid `int`.
        // SAFETY: for the reasons just above.
        let rc = unsafe { f(&mut errno) };
        result(rc, errno)
    }

    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError> {
        let f = self.procs()?.socket.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut errno = 0;
        // As for `cleanup`; the protocol-info pointer may be null (the provider's own
        // record is meant), the other arguments are plain values.
        // SAFETY: for the reasons just above.
        let s = unsafe {
            f(
                family.0,
                socket_type.0,
                protocol.0,
                std::ptr::null(),
                0,
                flags.bits(),
                &mut errno,
            )
        };
        if s == INVALID_SOCKET {
            return Err(WsaError::from_code(errno));
        }
        Ok(ProviderSocket(s as u64))
    }

    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        let f = self.procs()?.bind.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let name = encode_sockaddr(&address);
        let mut errno = 0;
        // SAFETY: as for `cleanup`; `name` is an owned sockaddr of `name.len()` bytes.
        let rc = unsafe { f(raw(socket)?, name.as_ptr(), name.len() as i32, &mut errno) };
        result(rc, errno)
    }

    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        let f = self.procs()?.listen.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut errno = 0;
        // SAFETY: as for `cleanup`.
        let rc = unsafe { f(raw(socket)?, backlog, &mut errno) };
        result(rc, errno)
    }

    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        let f = self.procs()?.connect.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let name = encode_sockaddr(&address);
        let mut errno = 0;
        let null = std::ptr::null();
        // As for `bind`; no caller or callee data and no QoS (null pointers, which
        // the SPI allows).
        // SAFETY: for the reasons just above.
        let rc = unsafe {
            f(
                raw(socket)?,
                name.as_ptr(),
                name.len() as i32,
                null,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                &mut errno,
            )
        };
        result(rc, errno)
    }

    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError> {
        let f = self.procs()?.accept.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut addr = [0u8; SOCKADDR_MAX];
        let mut len = SOCKADDR_MAX as i32;
        let mut errno = 0;
        let mut ctx = ConditionContext {
            condition,
            called: false,
        };
        // As for `cleanup`; `addr` and `len` are owned and describe each other; the
        // condition function is called with `ctx`'s address, which lives until the call
        // returns (the SPI requires the provider to call it before WSPAccept returns).
        // SAFETY: for the reasons just above.
        let s = unsafe {
            f(
                raw(socket)?,
                addr.as_mut_ptr(),
                &mut len,
                Some(condition_trampoline),
                &mut ctx as *mut ConditionContext<'_> as usize,
                &mut errno,
            )
        };
        if s == INVALID_SOCKET {
            return Err(WsaError::from_code(errno));
        }
        let n = usize::try_from(len)
            .ok()
            .filter(|n| *n <= SOCKADDR_MAX)
            .ok_or(WsaError::WSAEFAULT)?;
        let peer = decode_sockaddr(&addr[..n]).map_err(|_| WsaError::WSAEFAULT)?;
        Ok(Accepted {
            socket: ProviderSocket(s as u64),
            peer,
        })
    }

    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        let f = self.procs()?.event_select.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut errno = 0;
        // As for `cleanup`; the event handle is an opaque value the provider passes
        // back to the platform, never dereferenced here.
        // SAFETY: for the reasons just above.
        let rc = unsafe {
            f(
                raw(socket)?,
                event.0 as usize as *mut c_void,
                events.bits(),
                &mut errno,
            )
        };
        result(rc, errno)
    }

    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError> {
        let f = self
            .procs()?
            .enum_network_events
            .ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut out = WsaNetworkEventsRaw::default();
        let mut errno = 0;
        let handle = event.map_or(std::ptr::null_mut(), |e| e.0 as usize as *mut c_void);
        // SAFETY: as for `event_select`; `out` is an owned WSANETWORKEVENTS.
        let rc = unsafe { f(raw(socket)?, handle, &mut out, &mut errno) };
        result(rc, errno)?;
        let mut bytes = [0u8; 44];
        bytes[0..4].copy_from_slice(&out.network_events.to_le_bytes());
        for (i, e) in out.error_code.iter().enumerate() {
            bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(&e.to_le_bytes());
        }
        WsaNetworkEvents::decode(&bytes).map_err(|_| WsaError::WSAEFAULT)
    }

    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        let f = self
            .procs()
            .map_err(IoctlFailure::new)?
            .ioctl
            .ok_or(IoctlFailure::new(WsaError::WSAEOPNOTSUPP))?;
        let s = raw(socket).map_err(IoctlFailure::new)?;
        let cb_in =
            u32::try_from(input.len()).map_err(|_| IoctlFailure::new(WsaError::WSAEFAULT))?;
        let cb_out =
            u32::try_from(output.len()).map_err(|_| IoctlFailure::new(WsaError::WSAEFAULT))?;
        let mut returned = 0u32;
        let mut errno = 0;
        // As for `cleanup`; the input and output buffers are the caller's slices with
        // their true lengths, so the provider can neither read nor write past them if it keeps
        // to the sizes it is given; no overlapped request and no completion routine (null).
        // SAFETY: for the reasons just above.
        let rc = unsafe {
            f(
                s,
                code.0,
                input.as_ptr().cast(),
                cb_in,
                output.as_mut_ptr().cast(),
                cb_out,
                &mut returned,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                &mut errno,
            )
        };
        if rc == 0 {
            Ok(returned as usize)
        } else {
            Err(IoctlFailure {
                error: WsaError::from_code(errno),
                bytes_returned: returned as usize,
            })
        }
    }

    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        let f = self.procs()?.close_socket.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut errno = 0;
        // SAFETY: as for `cleanup`.
        let rc = unsafe { f(raw(socket)?, &mut errno) };
        result(rc, errno)
    }

    fn get_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &mut [u8],
    ) -> Result<usize, WsaError> {
        let f = self.procs()?.get_sock_opt.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let mut len = i32::try_from(value.len()).map_err(|_| WsaError::WSAEFAULT)?;
        let mut errno = 0;
        // SAFETY: as for `cleanup`; `value` and `len` describe the caller's buffer.
        let rc = unsafe {
            f(
                raw(socket)?,
                level,
                name,
                value.as_mut_ptr(),
                &mut len,
                &mut errno,
            )
        };
        result(rc, errno)?;
        usize::try_from(len)
            .ok()
            .filter(|n| *n <= value.len())
            .ok_or(WsaError::WSAEFAULT)
    }

    fn set_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        let f = self.procs()?.set_sock_opt.ok_or(WsaError::WSAEOPNOTSUPP)?;
        let len = i32::try_from(value.len()).map_err(|_| WsaError::WSAEFAULT)?;
        let mut errno = 0;
        // SAFETY: as for `get_sock_opt`, read only.
        let rc = unsafe { f(raw(socket)?, level, name, value.as_ptr(), len, &mut errno) };
        result(rc, errno)
    }
}
