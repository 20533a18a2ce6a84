//! The Windows x64 layouts and the calling convention a SAN provider DLL sees.
//!
//! Every structure here is `#[repr(C)]` with the field order, sizes and offsets of the Windows
//! headers (`ws2spi.h`, `ws2san.h`, `winsock2.h`), checked at compile time on 64-bit targets.
//! Records whose contents `spi-types` already encodes (`WSAPROTOCOL_INFOW`, `WSPDATA`, the
//! sockaddrs, `SOCKET_ADDRESS_LIST`, `WSANETWORKEVENTS`) travel as byte blocks of the right
//! size and alignment, encoded and decoded there.
//!
//! ## The calling convention
//!
//! A provider's entry points use the Windows x64 convention. [`wsp_fn_types!`](crate::wsp_fn_types) declares every
//! function-pointer type once and picks the ABI:
//!
//! - `extern "system"` on Windows;
//! - `extern "win64"` on x86_64 elsewhere, so that the tests on Linux exercise the exact
//!   convention a Windows provider is called with (C providers declare it with
//!   `__attribute__((ms_abi))`, which `include/wsd_provider.h` hides behind `WSPAPI`);
//! - `extern "C"` on other architectures (macOS on arm64), where no Windows convention exists.
//!
//! [`wsp_extern!`](crate::wsp_extern) defines Rust functions with the same convention (the up-calls, the condition
//! function).

use std::ffi::c_void;

/// `SOCKET` (`UINT_PTR`).
pub type Socket = usize;

/// `INVALID_SOCKET`.
pub const INVALID_SOCKET: Socket = !0;

/// `SOCKET_ERROR`.
pub const SOCKET_ERROR: i32 = -1;

/// `HANDLE` / `WSAEVENT`.
pub type Handle = *mut c_void;

/// `BOOL`.
pub type Bool = i32;

/// Declares function-pointer types with the provider calling convention (see the module
/// docs). Each `pub type Name = fn(args) -> ret;` becomes an `unsafe extern "…" fn` type.
#[macro_export]
macro_rules! wsp_fn_types {
    ($( $(#[$m:meta])* pub type $name:ident = fn($($arg:ty),* $(,)?) -> $ret:ty; )*) => {
        $(
            #[cfg(windows)]
            $(#[$m])*
            pub type $name = unsafe extern "system" fn($($arg),*) -> $ret;
            #[cfg(all(not(windows), target_arch = "x86_64"))]
            $(#[$m])*
            pub type $name = unsafe extern "win64" fn($($arg),*) -> $ret;
            #[cfg(all(not(windows), not(target_arch = "x86_64")))]
            $(#[$m])*
            pub type $name = unsafe extern "C" fn($($arg),*) -> $ret;
        )*
    };
}

/// Defines functions with the provider calling convention (see the module docs).
#[macro_export]
macro_rules! wsp_extern {
    ($( $(#[$m:meta])* $vis:vis unsafe fn $name:ident($($p:ident: $t:ty),* $(,)?) -> $ret:ty $body:block )*) => {
        $(
            #[cfg(windows)]
            $(#[$m])*
            $vis unsafe extern "system" fn $name($($p: $t),*) -> $ret $body
            #[cfg(all(not(windows), target_arch = "x86_64"))]
            $(#[$m])*
            $vis unsafe extern "win64" fn $name($($p: $t),*) -> $ret $body
            #[cfg(all(not(windows), not(target_arch = "x86_64")))]
            $(#[$m])*
            $vis unsafe extern "C" fn $name($($p: $t),*) -> $ret $body
        )*
    };
}

/// `WSPDATA` as the provider fills it (516 bytes; decoded with `spi_types::WspData`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WspDataRaw {
    /// `wVersion`.
    pub version: u16,
    /// `wHighVersion`.
    pub high_version: u16,
    /// `szDescription`.
    pub description: [u16; 256],
}

impl WspDataRaw {
    /// All zero.
    pub fn zeroed() -> Self {
        WspDataRaw {
            version: 0,
            high_version: 0,
            description: [0; 256],
        }
    }

    /// The structure's bytes, for `spi_types::WspData::decode`.
    pub fn to_bytes(&self) -> [u8; 516] {
        let mut b = [0u8; 516];
        b[0..2].copy_from_slice(&self.version.to_le_bytes());
        b[2..4].copy_from_slice(&self.high_version.to_le_bytes());
        for (i, u) in self.description.iter().enumerate() {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        b
    }
}

/// `WSAPROTOCOL_INFOW` as a 628-byte block (encoded with `spi_types::ProtocolInfo`), aligned
/// as the structure is.
#[repr(C, align(4))]
#[derive(Clone, Copy)]
pub struct ProtocolInfoRaw(pub [u8; 628]);

/// `WSABUF`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WsaBuf {
    /// `len`.
    pub len: u32,
    /// `buf`.
    pub buf: *mut u8,
}

/// `WSABUFEX`: a `WSABUF` with the registration handle of its memory.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WsaBufExRaw {
    /// `len`.
    pub len: u32,
    /// `buf`.
    pub buf: *mut u8,
    /// `handle`: what `WSPRegisterMemory` returned.
    pub handle: Handle,
}

/// `WSAOVERLAPPED` (`OVERLAPPED`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WsaOverlapped {
    /// `Internal`: the status (`WSS_OPERATION_IN_PROGRESS` while pending).
    pub internal: usize,
    /// `InternalHigh`: bytes transferred.
    pub internal_high: usize,
    /// `Offset`: result flags.
    pub offset: u32,
    /// `OffsetHigh`: the Winsock error.
    pub offset_high: u32,
    /// `hEvent`; its low bit set means "the switch polls".
    pub event: Handle,
}

/// `WSATHREADID`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WsaThreadId {
    /// `ThreadHandle`.
    pub thread_handle: Handle,
    /// `Reserved`.
    pub reserved: usize,
}

/// `WSANETWORKEVENTS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WsaNetworkEventsRaw {
    /// `lNetworkEvents`.
    pub network_events: i32,
    /// `iErrorCode[FD_MAX_EVENTS]`.
    pub error_code: [i32; 10],
}

/// A table slot the switch never calls: only its size matters (a nullable function pointer,
/// never called, so its convention plays no part).
pub type Unused = Option<unsafe extern "C" fn()>;

wsp_fn_types! {
    /// The condition function `WSPAccept` calls (`LPCONDITIONPROC`).
    pub type ConditionProc = fn(
        *mut WsaBuf, *mut WsaBuf, *mut c_void, *mut c_void, *mut WsaBuf, *mut WsaBuf, *mut u32,
        usize,
    ) -> i32;
    /// `WSPStartupEx`.
    pub type WspStartupEx = fn(
        u16, *mut WspDataRaw, *mut ProtocolInfoRaw, *const UpcallTableEx, *mut ProcTable,
    ) -> i32;
    /// `WSPAccept`.
    pub type WspAccept = fn(Socket, *mut u8, *mut i32, Option<ConditionProc>, usize, *mut i32)
        -> Socket;
    /// `WSPBind`.
    pub type WspBind = fn(Socket, *const u8, i32, *mut i32) -> i32;
    /// `WSPCleanup`.
    pub type WspCleanup = fn(*mut i32) -> i32;
    /// `WSPCloseSocket`.
    pub type WspCloseSocket = fn(Socket, *mut i32) -> i32;
    /// `WSPConnect`.
    pub type WspConnect = fn(
        Socket, *const u8, i32, *const WsaBuf, *mut WsaBuf, *const c_void, *const c_void,
        *mut i32,
    ) -> i32;
    /// `WSPEnumNetworkEvents`.
    pub type WspEnumNetworkEvents = fn(Socket, Handle, *mut WsaNetworkEventsRaw, *mut i32) -> i32;
    /// `WSPEventSelect`.
    pub type WspEventSelect = fn(Socket, Handle, i32, *mut i32) -> i32;
    /// `WSPGetOverlappedResult`.
    pub type WspGetOverlappedResult = fn(
        Socket, *mut WsaOverlapped, *mut u32, Bool, *mut u32, *mut i32,
    ) -> Bool;
    /// `WSPGetSockOpt`.
    pub type WspGetSockOpt = fn(Socket, i32, i32, *mut u8, *mut i32, *mut i32) -> i32;
    /// `WSPIoctl`.
    pub type WspIoctl = fn(
        Socket, u32, *const c_void, u32, *mut c_void, u32, *mut u32, *mut WsaOverlapped,
        *const c_void, *const WsaThreadId, *mut i32,
    ) -> i32;
    /// `WSPListen`.
    pub type WspListen = fn(Socket, i32, *mut i32) -> i32;
    /// `WSPRecv`.
    pub type WspRecv = fn(
        Socket, *mut WsaBuf, u32, *mut u32, *mut u32, *mut WsaOverlapped, *const c_void,
        *const WsaThreadId, *mut i32,
    ) -> i32;
    /// `WSPSend`.
    pub type WspSend = fn(
        Socket, *mut WsaBuf, u32, *mut u32, u32, *mut WsaOverlapped, *const c_void,
        *const WsaThreadId, *mut i32,
    ) -> i32;
    /// `WSPSetSockOpt`.
    pub type WspSetSockOpt = fn(Socket, i32, i32, *const u8, i32, *mut i32) -> i32;
    /// `WSPSocket`.
    pub type WspSocket = fn(i32, i32, i32, *const ProtocolInfoRaw, u32, u32, *mut i32) -> Socket;
    /// `WSPRegisterMemory` (an extension).
    pub type WspRegisterMemory = fn(Socket, *mut c_void, u32, u32, *mut i32) -> Handle;
    /// `WSPDeregisterMemory` (an extension).
    pub type WspDeregisterMemory = fn(Socket, Handle, *mut i32) -> i32;
    /// `WSPRegisterRdmaMemory` (an extension).
    pub type WspRegisterRdmaMemory = fn(
        Socket, *mut c_void, u32, u32, *mut c_void, *mut u32, *mut i32,
    ) -> i32;
    /// `WSPDeregisterRdmaMemory` (an extension).
    pub type WspDeregisterRdmaMemory = fn(Socket, *const c_void, u32, *mut i32) -> i32;
    /// `WSPRdmaWrite` and `WSPRdmaRead` (extensions).
    pub type WspRdma = fn(
        Socket, *mut WsaBufExRaw, u32, *const c_void, u32, u32, *mut u32, u32,
        *mut WsaOverlapped, *const c_void, *const WsaThreadId, *mut i32,
    ) -> i32;
    /// `WSPMemoryRegistrationCacheCallback` (an extension).
    pub type WspCacheCallback = fn(*mut c_void, usize, *mut i32) -> i32;
    /// `WPUCloseEvent`.
    pub type WpuCloseEvent = fn(Handle, *mut i32) -> Bool;
    /// `WPUCloseSocketHandle`.
    pub type WpuCloseSocketHandle = fn(Socket, *mut i32) -> i32;
    /// `WPUCreateEvent`.
    pub type WpuCreateEvent = fn(*mut i32) -> Handle;
    /// `WPUCreateSocketHandle`.
    pub type WpuCreateSocketHandle = fn(u32, usize, *mut i32) -> Socket;
    /// `WPUFDIsSet`.
    pub type WpuFdIsSet = fn(Socket, *mut c_void) -> i32;
    /// `WPUGetProviderPath`.
    pub type WpuGetProviderPath = fn(*mut c_void, *mut u16, *mut i32, *mut i32) -> i32;
    /// `WPUModifyIFSHandle`.
    pub type WpuModifyIfsHandle = fn(u32, Socket, *mut i32) -> Socket;
    /// `WPUPostMessage`.
    pub type WpuPostMessage = fn(Handle, u32, usize, isize) -> Bool;
    /// `WPUQueryBlockingCallback`.
    pub type WpuQueryBlockingCallback = fn(u32, *mut *const c_void, *mut usize, *mut i32) -> i32;
    /// `WPUQuerySocketHandleContext`.
    pub type WpuQuerySocketHandleContext = fn(Socket, *mut usize, *mut i32) -> i32;
    /// `WPUQueueApc`.
    pub type WpuQueueApc = fn(*const WsaThreadId, *const c_void, usize, *mut i32) -> i32;
    /// `WPUResetEvent` and `WPUSetEvent`.
    pub type WpuEvent = fn(Handle, *mut i32) -> Bool;
    /// `WPUOpenCurrentThread` and `WPUCloseThread`.
    pub type WpuThread = fn(*mut WsaThreadId, *mut i32) -> i32;
    /// `WPUCompleteOverlappedRequest`.
    pub type WpuCompleteOverlappedRequest = fn(Socket, *mut WsaOverlapped, u32, u32, *mut i32)
        -> i32;
}

/// `WSPPROC_TABLE`: the 30 entry points a provider fills in `WSPStartupEx`, in the headers'
/// order. The slots the switch never calls are kept as bare pointers.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProcTable {
    /// 1 `lpWSPAccept`.
    pub accept: Option<WspAccept>,
    /// 2 `lpWSPAddressToString`.
    pub address_to_string: Unused,
    /// 3 `lpWSPAsyncSelect`.
    pub async_select: Unused,
    /// 4 `lpWSPBind`.
    pub bind: Option<WspBind>,
    /// 5 `lpWSPCancelBlockingCall`.
    pub cancel_blocking_call: Unused,
    /// 6 `lpWSPCleanup`.
    pub cleanup: Option<WspCleanup>,
    /// 7 `lpWSPCloseSocket`.
    pub close_socket: Option<WspCloseSocket>,
    /// 8 `lpWSPConnect`.
    pub connect: Option<WspConnect>,
    /// 9 `lpWSPDuplicateSocket`.
    pub duplicate_socket: Unused,
    /// 10 `lpWSPEnumNetworkEvents`.
    pub enum_network_events: Option<WspEnumNetworkEvents>,
    /// 11 `lpWSPEventSelect`.
    pub event_select: Option<WspEventSelect>,
    /// 12 `lpWSPGetOverlappedResult`.
    pub get_overlapped_result: Option<WspGetOverlappedResult>,
    /// 13 `lpWSPGetPeerName`.
    pub get_peer_name: Unused,
    /// 14 `lpWSPGetSockName`.
    pub get_sock_name: Unused,
    /// 15 `lpWSPGetSockOpt`.
    pub get_sock_opt: Option<WspGetSockOpt>,
    /// 16 `lpWSPGetQOSByName`.
    pub get_qos_by_name: Unused,
    /// 17 `lpWSPIoctl`.
    pub ioctl: Option<WspIoctl>,
    /// 18 `lpWSPJoinLeaf`.
    pub join_leaf: Unused,
    /// 19 `lpWSPListen`.
    pub listen: Option<WspListen>,
    /// 20 `lpWSPRecv`.
    pub recv: Option<WspRecv>,
    /// 21 `lpWSPRecvDisconnect`.
    pub recv_disconnect: Unused,
    /// 22 `lpWSPRecvFrom`.
    pub recv_from: Unused,
    /// 23 `lpWSPSelect`.
    pub select: Unused,
    /// 24 `lpWSPSend`.
    pub send: Option<WspSend>,
    /// 25 `lpWSPSendDisconnect`.
    pub send_disconnect: Unused,
    /// 26 `lpWSPSendTo`.
    pub send_to: Unused,
    /// 27 `lpWSPSetSockOpt`.
    pub set_sock_opt: Option<WspSetSockOpt>,
    /// 28 `lpWSPShutdown`.
    pub shutdown: Unused,
    /// 29 `lpWSPSocket`.
    pub socket: Option<WspSocket>,
    /// 30 `lpWSPStringToAddress`.
    pub string_to_address: Unused,
}

impl ProcTable {
    /// Every slot empty, as handed to `WSPStartupEx`.
    pub fn empty() -> Self {
        let n = None;
        ProcTable {
            accept: None,
            address_to_string: n,
            async_select: n,
            bind: None,
            cancel_blocking_call: n,
            cleanup: None,
            close_socket: None,
            connect: None,
            duplicate_socket: n,
            enum_network_events: None,
            event_select: None,
            get_overlapped_result: None,
            get_peer_name: n,
            get_sock_name: n,
            get_sock_opt: None,
            get_qos_by_name: n,
            ioctl: None,
            join_leaf: n,
            listen: None,
            recv: None,
            recv_disconnect: n,
            recv_from: n,
            select: n,
            send: None,
            send_disconnect: n,
            send_to: n,
            set_sock_opt: None,
            shutdown: n,
            socket: None,
            string_to_address: n,
        }
    }

    /// The entry points the switch calls that the provider left empty, by their names.
    pub fn missing(&self) -> Vec<&'static str> {
        let slots = [
            ("WSPAccept", self.accept.is_some()),
            ("WSPBind", self.bind.is_some()),
            ("WSPCleanup", self.cleanup.is_some()),
            ("WSPCloseSocket", self.close_socket.is_some()),
            ("WSPConnect", self.connect.is_some()),
            ("WSPEnumNetworkEvents", self.enum_network_events.is_some()),
            ("WSPEventSelect", self.event_select.is_some()),
            (
                "WSPGetOverlappedResult",
                self.get_overlapped_result.is_some(),
            ),
            ("WSPGetSockOpt", self.get_sock_opt.is_some()),
            ("WSPIoctl", self.ioctl.is_some()),
            ("WSPListen", self.listen.is_some()),
            ("WSPRecv", self.recv.is_some()),
            ("WSPSend", self.send.is_some()),
            ("WSPSetSockOpt", self.set_sock_opt.is_some()),
            ("WSPSocket", self.socket.is_some()),
        ];
        slots
            .into_iter()
            .filter(|(_, present)| !present)
            .map(|(name, _)| name)
            .collect()
    }
}

/// `WSPUPCALLTABLEEX`: the 16 up-calls the switch hands a provider, in the headers' order.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct UpcallTableEx {
    /// 1 `lpWPUCloseEvent`.
    pub close_event: Option<WpuCloseEvent>,
    /// 2 `lpWPUCloseSocketHandle`.
    pub close_socket_handle: Option<WpuCloseSocketHandle>,
    /// 3 `lpWPUCreateEvent`.
    pub create_event: Option<WpuCreateEvent>,
    /// 4 `lpWPUCreateSocketHandle`.
    pub create_socket_handle: Option<WpuCreateSocketHandle>,
    /// 5 `lpWPUFDIsSet`.
    pub fd_is_set: Option<WpuFdIsSet>,
    /// 6 `lpWPUGetProviderPath`.
    pub get_provider_path: Option<WpuGetProviderPath>,
    /// 7 `lpWPUModifyIFSHandle`.
    pub modify_ifs_handle: Option<WpuModifyIfsHandle>,
    /// 8 `lpWPUPostMessage`.
    pub post_message: Option<WpuPostMessage>,
    /// 9 `lpWPUQueryBlockingCallback`.
    pub query_blocking_callback: Option<WpuQueryBlockingCallback>,
    /// 10 `lpWPUQuerySocketHandleContext`.
    pub query_socket_handle_context: Option<WpuQuerySocketHandleContext>,
    /// 11 `lpWPUQueueApc`.
    pub queue_apc: Option<WpuQueueApc>,
    /// 12 `lpWPUResetEvent`.
    pub reset_event: Option<WpuEvent>,
    /// 13 `lpWPUSetEvent`.
    pub set_event: Option<WpuEvent>,
    /// 14 `lpWPUOpenCurrentThread`.
    pub open_current_thread: Option<WpuThread>,
    /// 15 `lpWPUCloseThread`.
    pub close_thread: Option<WpuThread>,
    /// 16 `lpWPUCompleteOverlappedRequest`.
    pub complete_overlapped_request: Option<WpuCompleteOverlappedRequest>,
}

// The layouts of the Windows x64 headers (facts in `spi_types::layout`, checked against it in
// this crate's tests too).
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<WspDataRaw>() == 516);
    assert!(offset_of!(WspDataRaw, description) == 4);
    assert!(size_of::<ProtocolInfoRaw>() == 628);
    assert!(align_of::<ProtocolInfoRaw>() == 4);
    assert!(size_of::<WsaBuf>() == 16);
    assert!(offset_of!(WsaBuf, buf) == 8);
    assert!(size_of::<WsaBufExRaw>() == 24);
    assert!(offset_of!(WsaBufExRaw, handle) == 16);
    assert!(size_of::<WsaOverlapped>() == 32);
    assert!(offset_of!(WsaOverlapped, offset) == 16);
    assert!(offset_of!(WsaOverlapped, offset_high) == 20);
    assert!(offset_of!(WsaOverlapped, event) == 24);
    assert!(size_of::<WsaThreadId>() == 16);
    assert!(size_of::<WsaNetworkEventsRaw>() == 44);
    assert!(offset_of!(WsaNetworkEventsRaw, error_code) == 4);
    assert!(size_of::<ProcTable>() == 240);
    assert!(offset_of!(ProcTable, bind) == 3 * 8);
    assert!(offset_of!(ProcTable, ioctl) == 16 * 8);
    assert!(offset_of!(ProcTable, socket) == 28 * 8);
    assert!(offset_of!(ProcTable, string_to_address) == 29 * 8);
    assert!(size_of::<UpcallTableEx>() == 128);
    assert!(offset_of!(UpcallTableEx, create_socket_handle) == 3 * 8);
    assert!(offset_of!(UpcallTableEx, query_socket_handle_context) == 9 * 8);
    assert!(offset_of!(UpcallTableEx, complete_overlapped_request) == 15 * 8);
    assert!(size_of::<Option<WspSocket>>() == 8);
};
