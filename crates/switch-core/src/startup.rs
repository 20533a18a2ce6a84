//! The initialization sequence of one SAN provider as an explicit state machine (INIT-2 to
//! INIT-4), and the address query it shares with address changes (ADDR-1).
//!
//! The machine performs no call itself. [`InitMachine::next_call`] says which provider call
//! comes next; the driver makes it and feeds the answer to [`InitMachine::advance`], which moves
//! to the next state and returns the call's [`TraceEvent`]. The order is the documented one:
//!
//! ```text
//! WSPStartupEx(2.2, TCP/IP record, up-calls) -> version check
//!   -> WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)
//!   -> WSPIoctl(SIO_ADDRESS_LIST_QUERY)  (WSAEFAULT + size: retry with that size)
//!   -> WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, guid) for the seven extensions
//!   -> Ready
//! ```
//!
//! On every failure the machine closes what it opened (`WSPCloseSocket`) and, if
//! `WSPStartupEx` had succeeded, calls `WSPCleanup` exactly once; then it is finished with a
//! [`Rejection`] saying which step failed and why. The socket of a provider that becomes ready
//! stays open: the switch re-queries addresses through it when they change.

use std::net::IpAddr;

use spi_types::address_list::PointerWidth;
use spi_types::{Guid, SanExtension, WinsockVersion, WsaError, WspData};

pub use crate::address::{
    AddressAnswer, AddressProgress, AddressQuery, INITIAL_ADDRESS_BUFFER, MAX_ADDRESS_BUFFER,
    MAX_ADDRESS_QUERY_ATTEMPTS,
};
use crate::id::ProviderId;
use crate::provider::{ExtensionHandle, ProviderSocket};
use crate::report::{Diagnostic, ExtensionFailure, ExtensionSet, RejectCause, Rejection};
use crate::trace::{Call, CallArgs, CallResult, TraceEvent};

/// The version the switch asks for and requires.
pub const REQUIRED_VERSION: WinsockVersion = WinsockVersion::V2_2;

/// The next call the driver must make for a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextCall {
    /// `WSPStartupEx` with [`REQUIRED_VERSION`] and the TCP/IP record.
    StartupEx,
    /// `WSPSocket` for the address query.
    Socket,
    /// `WSPIoctl(SIO_ADDRESS_LIST_QUERY)` on the socket, with an output buffer of this many
    /// bytes.
    QueryAddresses {
        /// The socket `WSPSocket` answered.
        socket: ProviderSocket,
        /// The buffer's size.
        buffer_len: usize,
    },
    /// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)` on the socket with the extension's GUID.
    GetExtension {
        /// The socket `WSPSocket` answered.
        socket: ProviderSocket,
        /// The extension asked for.
        extension: SanExtension,
    },
    /// `WSPCloseSocket` of the query socket (failure path).
    CloseSocket(ProviderSocket),
    /// `WSPCleanup` (failure path).
    Cleanup,
    /// Nothing: the machine is finished (ready or rejected).
    Done,
}

/// What the provider answered the call [`InitMachine::next_call`] asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `WSPStartupEx`'s answer.
    Started(Result<WspData, WsaError>),
    /// `WSPSocket`'s answer.
    Socket(Result<ProviderSocket, WsaError>),
    /// `SIO_ADDRESS_LIST_QUERY`'s answer.
    Addresses(AddressAnswer),
    /// `SIO_GET_EXTENSION_FUNCTION_POINTER`'s answer.
    Extension(Result<ExtensionHandle, ExtensionFailure>),
    /// `WSPCloseSocket`'s answer.
    Closed(Result<(), WsaError>),
    /// `WSPCleanup`'s answer.
    CleanedUp(Result<(), WsaError>),
    /// The provider panicked inside the call; the text is the panic's message.
    Panicked(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Start,
    Started,
    Querying(AddressQuery),
    Extensions(usize),
    Ready,
    Closing,
    CleaningUp,
    Rejected,
}

/// The initialization of one provider.
#[derive(Debug, Clone)]
pub struct InitMachine {
    provider: ProviderId,
    name: String,
    tcpip_guid: Guid,
    width: PointerWidth,
    phase: Phase,
    started: bool,
    cleaned_up: bool,
    socket: Option<ProviderSocket>,
    data: Option<WspData>,
    addresses: Vec<IpAddr>,
    extensions: ExtensionSet,
    handles: [Option<ExtensionHandle>; 7],
    rejection: Option<Rejection>,
    diagnostics: Vec<Diagnostic>,
}

impl InitMachine {
    /// A machine for provider `provider` named `name`; `tcpip_guid` is the provider GUID of the
    /// record passed to `WSPStartupEx` (recorded in the trace).
    pub fn new(provider: ProviderId, name: &str, tcpip_guid: Guid, width: PointerWidth) -> Self {
        InitMachine {
            provider,
            name: name.to_owned(),
            tcpip_guid,
            width,
            phase: Phase::Start,
            started: false,
            cleaned_up: false,
            socket: None,
            data: None,
            addresses: Vec::new(),
            extensions: ExtensionSet::default(),
            handles: [None; 7],
            rejection: None,
            diagnostics: Vec::new(),
        }
    }

    /// The call to make next.
    pub fn next_call(&self) -> NextCall {
        match &self.phase {
            Phase::Start => NextCall::StartupEx,
            Phase::Started => NextCall::Socket,
            Phase::Querying(q) => match self.socket {
                Some(socket) => NextCall::QueryAddresses {
                    socket,
                    buffer_len: q.buffer_len(),
                },
                None => NextCall::Done,
            },
            Phase::Extensions(i) => match (self.socket, SanExtension::ALL.get(*i)) {
                (Some(socket), Some(&extension)) => NextCall::GetExtension { socket, extension },
                _ => NextCall::Done,
            },
            Phase::Closing => match self.socket {
                Some(s) => NextCall::CloseSocket(s),
                None => NextCall::Done,
            },
            Phase::CleaningUp => NextCall::Cleanup,
            Phase::Ready | Phase::Rejected => NextCall::Done,
        }
    }

    fn call_of(&self, next: NextCall) -> Call {
        match next {
            NextCall::StartupEx | NextCall::Done => Call::StartupEx,
            NextCall::Socket => Call::Socket,
            NextCall::QueryAddresses { .. } => Call::AddressListQuery,
            NextCall::GetExtension { extension, .. } => Call::GetExtension(extension),
            NextCall::CloseSocket(_) => Call::CloseSocket,
            NextCall::Cleanup => Call::Cleanup,
        }
    }

    /// Takes the answer to [`next_call`](Self::next_call), moves on, and returns the call's
    /// trace event. An answer of the wrong kind for the call is treated as a provider failure
    /// (`WSAEINVAL`) so that the sequence still ends with the provider cleaned up. A finished
    /// machine takes no answer: it returns `None` and does not change.
    pub fn advance(&mut self, answer: Answer) -> Option<TraceEvent> {
        let next = self.next_call();
        if next == NextCall::Done {
            return None;
        }
        let call = self.call_of(next);
        let mut args = match next {
            NextCall::StartupEx => CallArgs::Startup {
                version: REQUIRED_VERSION,
                protocol_info: self.tcpip_guid,
            },
            _ => CallArgs::None,
        };
        let result = match (next, answer) {
            (_, Answer::Panicked(msg)) => {
                self.on_panic(call, msg);
                CallResult::Panic
            }
            (NextCall::StartupEx, Answer::Started(r)) => self.on_started(r),
            (NextCall::Socket, Answer::Socket(r)) => match r {
                Ok(s) => {
                    self.socket = Some(s);
                    self.phase = Phase::Querying(AddressQuery::new(self.width));
                    CallResult::Ok
                }
                Err(e) => {
                    self.fail(call, RejectCause::Wsa(e));
                    CallResult::Error(e)
                }
            },
            (NextCall::QueryAddresses { buffer_len, .. }, Answer::Addresses(a)) => {
                let (result, query_args) = a.traced(buffer_len);
                args = query_args;
                self.on_addresses(call, &a);
                result
            }
            (NextCall::GetExtension { extension, .. }, Answer::Extension(r)) => {
                self.on_extension(extension, r)
            }
            (NextCall::CloseSocket(_), Answer::Closed(r)) => {
                self.socket = None;
                self.phase = if self.started {
                    Phase::CleaningUp
                } else {
                    Phase::Rejected
                };
                r.err().map_or(CallResult::Ok, CallResult::Error)
            }
            (NextCall::Cleanup, Answer::CleanedUp(r)) => {
                self.cleaned_up = true;
                self.phase = Phase::Rejected;
                match r {
                    Ok(()) => CallResult::Ok,
                    Err(error) => {
                        self.diagnostics.push(Diagnostic::CleanupFailed {
                            provider: self.name.clone(),
                            error,
                        });
                        CallResult::Error(error)
                    }
                }
            }
            (_, _) => {
                self.fail(call, RejectCause::Wsa(WsaError::WSAEINVAL));
                CallResult::Error(WsaError::WSAEINVAL)
            }
        };
        let ev = TraceEvent {
            provider: self.provider,
            provider_name: self.name.clone(),
            call,
            result,
            args,
        };
        ev.emit();
        Some(ev)
    }

    fn on_started(&mut self, r: Result<WspData, WsaError>) -> CallResult {
        match r {
            Ok(data) => {
                self.started = true;
                let answered = data.version;
                self.data = Some(data);
                if answered == REQUIRED_VERSION {
                    self.phase = Phase::Started;
                } else {
                    self.fail(
                        Call::StartupEx,
                        RejectCause::VersionMismatch {
                            answered,
                            required: REQUIRED_VERSION,
                        },
                    );
                }
                CallResult::Ok
            }
            Err(e) => {
                self.fail(Call::StartupEx, RejectCause::Wsa(e));
                CallResult::Error(e)
            }
        }
    }

    fn on_addresses(&mut self, call: Call, a: &AddressAnswer) {
        let Phase::Querying(q) = &mut self.phase else {
            return;
        };
        match q.on_answer(a) {
            AddressProgress::Retry(_) => {}
            AddressProgress::Done(list) => {
                self.addresses = list;
                self.phase = Phase::Extensions(0);
            }
            AddressProgress::Failed(cause) => self.fail(call, cause),
        }
    }

    fn on_extension(
        &mut self,
        ext: SanExtension,
        r: Result<ExtensionHandle, ExtensionFailure>,
    ) -> CallResult {
        let result = match &r {
            Ok(_) | Err(ExtensionFailure::NoEntryPoint) => CallResult::Ok,
            Err(ExtensionFailure::Error(e)) => CallResult::Error(*e),
        };
        match r {
            Ok(h) => {
                self.extensions.insert(ext);
                self.handles[index_of(ext)] = Some(h);
            }
            Err(reason) if ext.is_mandatory() => {
                self.fail(
                    Call::GetExtension(ext),
                    RejectCause::MissingExtension {
                        extension: ext,
                        reason,
                    },
                );
                return result;
            }
            Err(reason) => self.diagnostics.push(Diagnostic::OptionalExtensionMissing {
                provider: self.name.clone(),
                extension: ext,
                reason,
            }),
        }
        let i = index_of(ext) + 1;
        self.phase = if i < SanExtension::ALL.len() {
            Phase::Extensions(i)
        } else {
            Phase::Ready
        };
        result
    }

    fn on_panic(&mut self, call: Call, msg: String) {
        match self.phase {
            // A panic while cleaning up after a failure: go on with what is left, never call
            // cleanup twice.
            Phase::Closing => {
                self.socket = None;
                self.phase = if self.started {
                    Phase::CleaningUp
                } else {
                    Phase::Rejected
                };
            }
            Phase::CleaningUp => {
                self.cleaned_up = true;
                self.phase = Phase::Rejected;
            }
            _ => self.fail(call, RejectCause::Panicked(msg)),
        }
    }

    fn fail(&mut self, step: Call, cause: RejectCause) {
        if self.rejection.is_none() {
            self.rejection = Some(Rejection {
                provider: self.name.clone(),
                step,
                cause,
            });
        }
        self.phase = if self.socket.is_some() {
            Phase::Closing
        } else if self.started && !self.cleaned_up {
            Phase::CleaningUp
        } else {
            Phase::Rejected
        };
    }

    /// Whether the sequence is over.
    pub fn is_done(&self) -> bool {
        self.next_call() == NextCall::Done
    }

    /// Whether every step succeeded.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Whether `WSPStartupEx` succeeded.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether `WSPCleanup` was called.
    pub fn cleaned_up(&self) -> bool {
        self.cleaned_up
    }

    /// Why the provider was rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    /// Consumes the machine into its outcome.
    pub fn finish(self) -> InitOutcome {
        InitOutcome {
            ready: self.phase == Phase::Ready,
            started: self.started,
            cleaned_up: self.cleaned_up,
            socket: self.socket,
            data: self.data,
            addresses: self.addresses,
            extensions: self.extensions,
            handles: self.handles,
            rejection: self.rejection,
            diagnostics: self.diagnostics,
        }
    }
}

/// What one provider's initialization produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// Every step succeeded.
    pub ready: bool,
    /// `WSPStartupEx` succeeded.
    pub started: bool,
    /// `WSPCleanup` was called.
    pub cleaned_up: bool,
    /// The query socket, kept open when ready.
    pub socket: Option<ProviderSocket>,
    /// `WSPDATA`, once started.
    pub data: Option<WspData>,
    /// The provider's addresses.
    pub addresses: Vec<IpAddr>,
    /// The extensions it provides.
    pub extensions: ExtensionSet,
    /// Their handles, in [`SanExtension::ALL`] order.
    pub handles: [Option<ExtensionHandle>; 7],
    /// Why it was rejected.
    pub rejection: Option<Rejection>,
    /// What was noticed along the way.
    pub diagnostics: Vec<Diagnostic>,
}

pub(crate) fn index_of(e: SanExtension) -> usize {
    SanExtension::ALL.iter().position(|x| *x == e).unwrap_or(0)
}
