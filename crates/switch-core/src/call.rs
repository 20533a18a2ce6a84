//! The vocabulary between the switch's state machines and the one place that calls providers:
//! which call a machine asks for next ([`NextCall`]), what the provider answered ([`Answer`]),
//! and the interface every machine shares ([`ProviderMachine`]).
//!
//! This module sits below every machine (initialization, address re-query, teardown) and below
//! the call executor, so none of them depends on another to speak about calls.

use std::net::SocketAddr;

use spi_types::{
    AddressFamily, ConditionResult, MemoryAccess, NetworkEvents, SanExtension, WsaError,
    WsaNetworkEvents, WspData,
};

use crate::memory::{MemoryHandle, MemoryRange, WsaBufEx};
use crate::provider::{
    Accepted, DataOutcome, EventHandle, ExtensionHandle, IoctlFailure, Overlapped, ProviderSocket,
};
use crate::report::ExtensionFailure;
use crate::trace::{Call, CallArgs, CallResult};

/// The provider call a machine asks for next. The executor makes it and hands the machine the
/// [`Answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextCall {
    /// `WSPStartupEx` with version 2.2, the TCP/IP provider's record and the switch's
    /// up-call table.
    StartupEx,
    /// `WSPSocket(family, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)`: the query socket
    /// (`AF_INET`), or a companion or listening socket.
    Socket {
        /// The address family.
        family: AddressFamily,
    },
    /// `WSPBind` of the socket to a fully qualified address or the wildcard.
    Bind {
        /// The socket.
        socket: ProviderSocket,
        /// The address.
        address: SocketAddr,
    },
    /// `WSPSetSockOpt`: one stored application option replayed on a companion socket.
    SetSockOpt {
        /// The socket.
        socket: ProviderSocket,
        /// The option's level.
        level: i32,
        /// The option's name.
        name: i32,
        /// Its value.
        value: Vec<u8>,
    },
    /// `WSPEventSelect` of `events` on the socket, signalled through `event`.
    EventSelect {
        /// The socket.
        socket: ProviderSocket,
        /// The event the provider signals.
        event: EventHandle,
        /// What it signals.
        events: NetworkEvents,
    },
    /// `WSPConnect` of the socket to `address` (non-blocking: it was event-selected).
    Connect {
        /// The socket.
        socket: ProviderSocket,
        /// The destination.
        address: SocketAddr,
    },
    /// `WSPListen` on the bound socket.
    Listen {
        /// The socket.
        socket: ProviderSocket,
        /// The backlog.
        backlog: i32,
    },
    /// `WSPAccept` on the listening socket, with the switch's condition function answering
    /// `decision` for the peer (ACCEPT-1).
    Accept {
        /// The listening socket.
        socket: ProviderSocket,
        /// What the condition function answers.
        decision: ConditionResult,
    },
    /// `WSPEnumNetworkEvents` on the socket, resetting `event`.
    EnumNetworkEvents {
        /// The socket.
        socket: ProviderSocket,
        /// The event to reset.
        event: EventHandle,
    },
    /// `WSPIoctl(SIO_ADDRESS_LIST_QUERY)` on the socket, with an output buffer of this many
    /// bytes.
    QueryAddresses {
        /// The socket asked on.
        socket: ProviderSocket,
        /// The buffer's size.
        buffer_len: usize,
    },
    /// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)` on the socket with the extension's GUID.
    GetExtension {
        /// The socket asked on.
        socket: ProviderSocket,
        /// The extension asked for.
        extension: SanExtension,
    },
    /// `WSPCloseSocket`.
    CloseSocket(ProviderSocket),
    /// `WSPCleanup`.
    Cleanup,
    /// `WSPGetSockOpt(SOL_SOCKET, name)` of a 4-byte integer option (`SO_MAX_MSG_SIZE`,
    /// `SO_MAX_RDMA_SIZE`, `SO_RDMA_THRESHOLD_SIZE`).
    GetSockOpt {
        /// The socket.
        socket: ProviderSocket,
        /// The option.
        name: i32,
    },
    /// `WSPSend` of registered buffers, overlapped (SESS-5).
    Send {
        /// The socket.
        socket: ProviderSocket,
        /// The buffers.
        buffers: Vec<WsaBufEx>,
        /// The request.
        overlapped: Overlapped,
    },
    /// `WSPRecv` into registered buffers, overlapped.
    Recv {
        /// The socket.
        socket: ProviderSocket,
        /// The buffers.
        buffers: Vec<WsaBufEx>,
        /// The request.
        overlapped: Overlapped,
    },
    /// `WSPGetOverlappedResult` without waiting, for a request started with `poll_only`.
    GetOverlappedResult {
        /// The socket.
        socket: ProviderSocket,
        /// The request.
        overlapped: Overlapped,
    },
    /// The RegisterMemory extension.
    RegisterMemory {
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The socket.
        socket: ProviderSocket,
        /// The memory.
        range: MemoryRange,
        /// The access asked for.
        access: MemoryAccess,
    },
    /// The DeregisterMemory extension.
    DeregisterMemory {
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The socket.
        socket: ProviderSocket,
        /// The registration.
        handle: MemoryHandle,
    },
    /// The RegisterRdmaMemory extension, with a descriptor block of `descriptor_len` bytes.
    RegisterRdmaMemory {
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The socket.
        socket: ProviderSocket,
        /// The memory.
        range: MemoryRange,
        /// The access the peer gets.
        access: MemoryAccess,
        /// The size of the descriptor block offered.
        descriptor_len: usize,
    },
    /// The DeregisterRdmaMemory extension.
    DeregisterRdmaMemory {
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The socket.
        socket: ProviderSocket,
        /// The descriptor the registration answered.
        descriptor: Vec<u8>,
    },
    /// The RdmaWrite (`read: false`) or RdmaRead (`read: true`) extension.
    Rdma {
        /// Read rather than write.
        read: bool,
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The socket.
        socket: ProviderSocket,
        /// The local buffers.
        local: Vec<WsaBufEx>,
        /// The peer's descriptor.
        target: Vec<u8>,
        /// Where in the peer's memory the transfer starts.
        target_offset: u32,
        /// The request.
        overlapped: Overlapped,
    },
    /// The MemoryRegistrationCacheCallback extension for `size` bytes at `address` (MEM-2).
    CacheCallback {
        /// The extension's entry point.
        entry: ExtensionHandle,
        /// The first address released.
        address: u64,
        /// The bytes released.
        size: usize,
    },
}

impl NextCall {
    /// The entry point this is a call of, as the trace names it.
    pub fn call(&self) -> Call {
        match self {
            NextCall::StartupEx => Call::StartupEx,
            NextCall::Socket { .. } => Call::Socket,
            NextCall::Bind { .. } => Call::Bind,
            NextCall::SetSockOpt { .. } => Call::SetSockOpt,
            NextCall::EventSelect { .. } => Call::EventSelect,
            NextCall::Connect { .. } => Call::Connect,
            NextCall::EnumNetworkEvents { .. } => Call::EnumNetworkEvents,
            NextCall::Listen { .. } => Call::Listen,
            NextCall::Accept { .. } => Call::Accept,
            NextCall::QueryAddresses { .. } => Call::AddressListQuery,
            NextCall::GetExtension { extension, .. } => Call::GetExtension(*extension),
            NextCall::CloseSocket(_) => Call::CloseSocket,
            NextCall::Cleanup => Call::Cleanup,
            NextCall::GetSockOpt { .. } => Call::GetSockOpt,
            NextCall::Send { .. } => Call::Send,
            NextCall::Recv { .. } => Call::Recv,
            NextCall::GetOverlappedResult { .. } => Call::GetOverlappedResult,
            NextCall::RegisterMemory { .. } => Call::RegisterMemory,
            NextCall::DeregisterMemory { .. } => Call::DeregisterMemory,
            NextCall::RegisterRdmaMemory { .. } => Call::RegisterRdmaMemory,
            NextCall::DeregisterRdmaMemory { .. } => Call::DeregisterRdmaMemory,
            NextCall::Rdma { read: true, .. } => Call::RdmaRead,
            NextCall::Rdma { read: false, .. } => Call::RdmaWrite,
            NextCall::CacheCallback { .. } => Call::MemoryRegistrationCacheCallback,
        }
    }
}

/// The answer to one address-list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressAnswer {
    /// Success: the output buffer as the provider left it, the address it had, and the byte
    /// count the provider returned (`lpcbBytesReturned`).
    Filled {
        /// The buffer.
        buffer: Vec<u8>,
        /// Its address (pointers in the list point into it).
        base: u64,
        /// The bytes the provider said it wrote.
        returned: usize,
    },
    /// Failure, with `lpcbBytesReturned` (the size needed, for `WSAEFAULT`).
    Failed(IoctlFailure),
}

/// What the provider answered the call a machine asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `WSPStartupEx`'s answer.
    Started(Result<WspData, WsaError>),
    /// `WSPStartupEx` succeeded but left entry points the switch calls empty.
    MissingEntryPoints {
        /// The `WSPDATA` it filled in.
        data: WspData,
        /// The empty entry points, by name.
        missing: Vec<String>,
    },
    /// `WSPSocket`'s answer.
    Socket(Result<ProviderSocket, WsaError>),
    /// `SIO_ADDRESS_LIST_QUERY`'s answer.
    Addresses(AddressAnswer),
    /// `SIO_GET_EXTENSION_FUNCTION_POINTER`'s answer.
    Extension(Result<ExtensionHandle, ExtensionFailure>),
    /// The answer of a call that returns nothing else: `WSPBind`, `WSPSetSockOpt`,
    /// `WSPEventSelect`, `WSPConnect` (`WSAEWOULDBLOCK`: it completes later, signalled).
    Done(Result<(), WsaError>),
    /// `WSPEnumNetworkEvents`'s answer.
    Events(Result<WsaNetworkEvents, WsaError>),
    /// `WSPAccept`'s answer: the accepted socket and its peer, and whether the provider called
    /// the condition function before answering (ACCEPT-1).
    Accepted {
        /// The socket and peer, or the error (`WSAECONNREFUSED` after a rejection).
        result: Result<Accepted, WsaError>,
        /// The condition function was called during the call.
        asked: bool,
    },
    /// `WSPCloseSocket`'s answer.
    Closed(Result<(), WsaError>),
    /// `WSPCleanup`'s answer.
    CleanedUp(Result<(), WsaError>),
    /// `WSPGetSockOpt`'s answer: the option's value (an option of another length than 4 bytes
    /// is `WSAEFAULT`).
    SockOpt(Result<u32, WsaError>),
    /// How a data call (`WSPSend`, `WSPRecv`, RDMA) started.
    Data(Result<DataOutcome, WsaError>),
    /// `WSPGetOverlappedResult`'s answer: the bytes, `WSA_IO_INCOMPLETE`, or the request's
    /// error.
    Overlapped(Result<usize, WsaError>),
    /// The RegisterMemory extension's answer.
    Registered(Result<MemoryHandle, WsaError>),
    /// The RegisterRdmaMemory extension's answer: the descriptor, or the failure with the
    /// size needed.
    RdmaRegistered(Result<Vec<u8>, IoctlFailure>),
    /// The provider panicked inside the call; the text is the panic's message.
    Panicked(String),
}

impl Answer {
    /// How the call ended, as the trace records it. A missing extension entry point is a
    /// successful call (the failure is the switch's finding, not the provider's answer).
    pub fn result(&self) -> CallResult {
        let error = match self {
            Answer::Panicked(_) => return CallResult::Panic,
            Answer::Started(r) => r.as_ref().err(),
            Answer::MissingEntryPoints { .. } => None,
            Answer::Socket(r) => r.as_ref().err(),
            Answer::Addresses(AddressAnswer::Filled { .. }) => None,
            Answer::Addresses(AddressAnswer::Failed(f)) => Some(&f.error),
            Answer::Extension(Err(ExtensionFailure::Error(e))) => Some(e),
            Answer::Extension(_) => None,
            Answer::Closed(r) | Answer::CleanedUp(r) | Answer::Done(r) => r.as_ref().err(),
            Answer::Events(r) => r.as_ref().err(),
            Answer::Accepted { result, .. } => result.as_ref().err(),
            Answer::SockOpt(r) => r.as_ref().err(),
            Answer::Data(r) => r.as_ref().err(),
            Answer::Overlapped(r) => r.as_ref().err(),
            Answer::Registered(r) => r.as_ref().err(),
            Answer::RdmaRegistered(r) => r.as_ref().err().map(|f| &f.error),
        };
        error.map_or(CallResult::Ok, |e| CallResult::Error(*e))
    }
}

/// The arguments the trace records for `call` answered by `answer`: the version and record
/// passed to `WSPStartupEx`, the address of a bind or connect, the buffer offered to an address
/// query and the size asked for on `WSAEFAULT`; nothing for the others.
pub(crate) fn traced_args(
    call: &NextCall,
    answer: &Answer,
    startup: impl FnOnce() -> CallArgs,
) -> CallArgs {
    match (call, answer) {
        (NextCall::StartupEx, _) => startup(),
        (NextCall::Bind { address, .. } | NextCall::Connect { address, .. }, _) => {
            CallArgs::Address(*address)
        }
        (NextCall::Listen { backlog, .. }, _) => CallArgs::Backlog(*backlog),
        (
            NextCall::Accept { .. },
            Answer::Accepted {
                result: Ok(accepted),
                ..
            },
        ) => CallArgs::Address(accepted.peer),
        (NextCall::QueryAddresses { buffer_len, .. }, a) => CallArgs::AddressQuery {
            buffer_len: *buffer_len,
            needed: match a {
                Answer::Addresses(AddressAnswer::Failed(f)) if f.error == WsaError::WSAEFAULT => {
                    Some(f.bytes_returned)
                }
                _ => None,
            },
        },
        _ => CallArgs::None,
    }
}

/// The machine is finished and takes no more answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sequence is finished and takes no more answers")]
pub struct Finished;

/// A sans-IO exchange with one provider: it says which call comes next and takes the answer.
/// The switch's call executor drives every machine the same way, at most
/// [`call_budget`](Self::call_budget) calls, so a machine that never finishes is an error, not
/// a hang.
pub trait ProviderMachine {
    /// The call to make next, or `None` when the machine is finished.
    fn next_call(&self) -> Option<NextCall>;

    /// Takes the answer to [`next_call`](Self::next_call) and moves on. A finished machine
    /// takes no answer and does not change.
    fn advance(&mut self, answer: Answer) -> Result<(), Finished>;

    /// The largest number of calls the machine can still legitimately ask for, from where it
    /// stands to its end (a machine that waits for an event between calls counts down).
    fn call_budget(&self) -> usize;
}
