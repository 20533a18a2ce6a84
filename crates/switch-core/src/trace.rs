//! The trace: every provider call the switch makes, in order, with its result. Each event is
//! also emitted as a `tracing` event (target `switch_core::trace`).

use std::fmt;
use std::str::FromStr;

use spi_types::{Guid, SanExtension, WinsockVersion, WsaError};

use crate::id::ProviderId;

/// A provider entry point the switch calls. `Display` gives the names the simulator's report
/// fixes (`"WSPStartupEx"`, `"WSPIoctl(SIO_ADDRESS_LIST_QUERY)"`,
/// `"WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_read)"`, ...), and they parse back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    /// `WSPStartupEx`
    StartupEx,
    /// `WSPCleanup`
    Cleanup,
    /// `WSPSocket`
    Socket,
    /// `WSPBind`
    Bind,
    /// `WSPListen`
    Listen,
    /// `WSPConnect`
    Connect,
    /// `WSPAccept`
    Accept,
    /// `WSPEventSelect`
    EventSelect,
    /// `WSPEnumNetworkEvents`
    EnumNetworkEvents,
    /// `WSPSetSockOpt`
    SetSockOpt,
    /// `WSPCloseSocket`
    CloseSocket,
    /// `WSPIoctl(SIO_ADDRESS_LIST_QUERY)`
    AddressListQuery,
    /// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, <extension>)`
    GetExtension(SanExtension),
    /// `WSPGetSockOpt`
    GetSockOpt,
    /// `WSPSend`
    Send,
    /// `WSPRecv`
    Recv,
    /// `WSPGetOverlappedResult`
    GetOverlappedResult,
    /// `WSPRegisterMemory`
    RegisterMemory,
    /// `WSPDeregisterMemory`
    DeregisterMemory,
    /// `WSPRegisterRdmaMemory`
    RegisterRdmaMemory,
    /// `WSPDeregisterRdmaMemory`
    DeregisterRdmaMemory,
    /// `WSPRdmaWrite`
    RdmaWrite,
    /// `WSPRdmaRead`
    RdmaRead,
    /// `WSPMemoryRegistrationCacheCallback`
    MemoryRegistrationCacheCallback,
}

impl Call {
    /// Every call, extensions included.
    pub fn all() -> Vec<Call> {
        let mut v = vec![
            Call::StartupEx,
            Call::Cleanup,
            Call::Socket,
            Call::Bind,
            Call::Listen,
            Call::Connect,
            Call::Accept,
            Call::EventSelect,
            Call::EnumNetworkEvents,
            Call::SetSockOpt,
            Call::CloseSocket,
            Call::AddressListQuery,
        ];
        v.extend(SanExtension::ALL.map(Call::GetExtension));
        v.extend([
            Call::GetSockOpt,
            Call::Send,
            Call::Recv,
            Call::GetOverlappedResult,
            Call::RegisterMemory,
            Call::DeregisterMemory,
            Call::RegisterRdmaMemory,
            Call::DeregisterRdmaMemory,
            Call::RdmaWrite,
            Call::RdmaRead,
            Call::MemoryRegistrationCacheCallback,
        ]);
        v
    }

    /// Whether the call belongs to the data path: a call the switch may make for every message
    /// or transfer on an established connection (sends, receives, RDMA and every memory
    /// registration call), which the trace records only when asked
    /// (`SwitchConfig::trace_data`). Initialization and control calls are always recorded.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Call::Send
                | Call::Recv
                | Call::GetOverlappedResult
                | Call::RegisterMemory
                | Call::DeregisterMemory
                | Call::RegisterRdmaMemory
                | Call::DeregisterRdmaMemory
                | Call::RdmaWrite
                | Call::RdmaRead
                | Call::MemoryRegistrationCacheCallback
        )
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Call::StartupEx => "WSPStartupEx",
            Call::Cleanup => "WSPCleanup",
            Call::Socket => "WSPSocket",
            Call::Bind => "WSPBind",
            Call::Listen => "WSPListen",
            Call::Connect => "WSPConnect",
            Call::Accept => "WSPAccept",
            Call::EventSelect => "WSPEventSelect",
            Call::EnumNetworkEvents => "WSPEnumNetworkEvents",
            Call::SetSockOpt => "WSPSetSockOpt",
            Call::CloseSocket => "WSPCloseSocket",
            Call::AddressListQuery => "WSPIoctl(SIO_ADDRESS_LIST_QUERY)",
            Call::GetSockOpt => "WSPGetSockOpt",
            Call::Send => "WSPSend",
            Call::Recv => "WSPRecv",
            Call::GetOverlappedResult => "WSPGetOverlappedResult",
            Call::RegisterMemory => "WSPRegisterMemory",
            Call::DeregisterMemory => "WSPDeregisterMemory",
            Call::RegisterRdmaMemory => "WSPRegisterRdmaMemory",
            Call::DeregisterRdmaMemory => "WSPDeregisterRdmaMemory",
            Call::RdmaWrite => "WSPRdmaWrite",
            Call::RdmaRead => "WSPRdmaRead",
            Call::MemoryRegistrationCacheCallback => "WSPMemoryRegistrationCacheCallback",
            Call::GetExtension(e) => {
                return write!(
                    f,
                    "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, {})",
                    e.name()
                );
            }
        };
        f.write_str(s)
    }
}

/// The text is not a call name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a provider call name (expected a name such as WSPStartupEx)")]
pub struct UnknownCall(pub String);

impl FromStr for Call {
    type Err = UnknownCall;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Call::all()
            .into_iter()
            .find(|c| c.to_string() == s)
            .ok_or_else(|| UnknownCall(s.to_owned()))
    }
}

/// How a provider call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallResult {
    /// It succeeded.
    Ok,
    /// It failed with this error.
    Error(WsaError),
    /// The provider panicked inside it.
    Panic,
}

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallResult::Ok => f.write_str("ok"),
            CallResult::Error(e) => match e.name() {
                Some(n) => f.write_str(n),
                None => write!(f, "{}", e.code()),
            },
            CallResult::Panic => f.write_str("panic"),
        }
    }
}

/// The arguments worth recording for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallArgs {
    /// None recorded.
    None,
    /// `WSPStartupEx`: the version asked for and the provider GUID of the protocol-info record
    /// passed.
    Startup {
        /// The version asked for.
        version: WinsockVersion,
        /// The `ProviderId` of the record passed (the TCP/IP provider's).
        protocol_info: Guid,
    },
    /// `SIO_ADDRESS_LIST_QUERY`: the output buffer's size, and the size the provider said it
    /// needs (on `WSAEFAULT`).
    AddressQuery {
        /// The buffer offered.
        buffer_len: usize,
        /// The size asked for, if any.
        needed: Option<usize>,
    },
    /// A socket-level call with an address (bind, connect).
    Address(std::net::SocketAddr),
    /// `WSPListen`'s backlog.
    Backlog(i32),
}

/// One provider call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// The provider called.
    pub provider: ProviderId,
    /// Its catalog name.
    pub provider_name: std::sync::Arc<str>,
    /// The entry point.
    pub call: Call,
    /// How it ended.
    pub result: CallResult,
    /// Its recorded arguments.
    pub args: CallArgs,
}

impl TraceEvent {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            target: "switch_core::trace",
            provider = %self.provider_name,
            call = %self.call,
            result = %self.result,
            "provider call"
        );
    }
}
