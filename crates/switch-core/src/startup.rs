//! The initialization sequence of one SAN provider as an explicit state machine (INIT-2 to
//! INIT-4).
//!
//! The machine performs no call itself. [`next_call`](ProviderMachine::next_call) says which
//! provider call comes next; the switch's call executor makes it and feeds the answer to
//! [`advance`](ProviderMachine::advance). The order is the documented one:
//!
//! ```text
//! WSPStartupEx(2.2, TCP/IP record, up-calls) -> version check
//!   -> WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSA_FLAG_OVERLAPPED)
//!   -> WSPIoctl(SIO_ADDRESS_LIST_QUERY)  (WSAEFAULT + size: retry with that size)
//!   -> WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, guid) for the seven extensions
//!   -> Ready
//! ```
//!
//! On every failure the machine goes on with a [`Teardown`]: it closes what it opened
//! (`WSPCloseSocket`) and, if `WSPStartupEx` had succeeded, calls `WSPCleanup` exactly once;
//! then it is finished with a [`Rejection`] saying which step failed and why. The socket of a
//! provider that becomes ready stays open: the switch re-queries addresses through it when
//! they change.
//!
//! ```
//! use switch_core::call::{Answer, NextCall, ProviderMachine};
//! use switch_core::startup::InitMachine;
//! use spi_types::{PointerWidth, WsaError};
//!
//! let mut m = InitMachine::new("ibal", PointerWidth::Bits64);
//! assert_eq!(m.next_call(), Some(NextCall::StartupEx));
//! m.advance(Answer::Started(Err(WsaError::WSASYSNOTREADY))).unwrap();
//! // A provider that never started is not cleaned up: nothing more to call.
//! assert_eq!(m.next_call(), None);
//! let outcome = m.finish();
//! let failure = outcome.result.unwrap_err();
//! assert_eq!(failure.rejection.code(), "WSASYSNOTREADY");
//! assert!(!failure.cleaned_up);
//! ```

use std::net::IpAddr;

use spi_types::address_list::PointerWidth;
use spi_types::{AddressFamily, SanExtension, WsaError, WspData};

pub use crate::address::{
    AddressProgress, AddressQuery, INITIAL_ADDRESS_BUFFER, MAX_ADDRESS_BUFFER,
    MAX_ADDRESS_QUERY_ATTEMPTS,
};
pub use crate::call::{AddressAnswer, Answer, NextCall};
use crate::call::{Finished, ProviderMachine};
use crate::executor::Overrun;
pub use crate::executor::REQUIRED_VERSION;
use crate::provider::{ExtensionHandle, ExtensionHandles, ProviderSocket};
use crate::report::{Diagnostic, ExtensionFailure, ExtensionSet, RejectCause, Rejection};
use crate::teardown::Teardown;
use crate::trace::Call;

/// The most calls one initialization can make: startup, socket, every address query, seven
/// extensions, close and cleanup.
pub const INIT_CALL_BUDGET: usize =
    2 + MAX_ADDRESS_QUERY_ATTEMPTS as usize + SanExtension::ALL.len() + 2;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// `WSPStartupEx` is next.
    Start,
    /// Started with a usable version; the query socket is next.
    Started,
    /// Asking for the address list on the socket.
    Querying {
        socket: ProviderSocket,
        query: AddressQuery,
    },
    /// Asking for extension `next` (an index into [`SanExtension::ALL`]).
    Extensions { socket: ProviderSocket, next: usize },
    /// Every step succeeded; the socket stays open.
    Ready { socket: ProviderSocket },
    /// A step failed: closing the socket and cleaning up.
    TearingDown(Teardown),
    /// Finished, rejected.
    Rejected { cleaned_up: bool },
}

/// The initialization of one provider.
#[derive(Debug, Clone)]
pub struct InitMachine {
    name: String,
    width: PointerWidth,
    phase: Phase,
    data: Option<WspData>,
    addresses: Vec<IpAddr>,
    handles: ExtensionHandles,
    rejection: Option<Rejection>,
    diagnostics: Vec<Diagnostic>,
}

/// A provider whose initialization succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initialized {
    /// The query socket, kept open for address re-queries.
    pub socket: ProviderSocket,
    /// `WSPDATA` as the provider answered it.
    pub data: WspData,
    /// The extension entry points it returned.
    pub handles: ExtensionHandles,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

/// A provider whose initialization failed, with what it had said before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitFailure {
    /// Why, and at which step.
    pub rejection: Rejection,
    /// `WSPDATA`, if `WSPStartupEx` had succeeded.
    pub data: Option<WspData>,
    /// The extensions it had returned before it stopped.
    pub extensions: ExtensionSet,
    /// The addresses it had answered before it stopped.
    pub addresses: Vec<IpAddr>,
    /// Whether `WSPCleanup` was called (every started provider is cleaned up once).
    pub cleaned_up: bool,
}

/// What one provider's initialization produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// Ready, or rejected.
    pub result: Result<Initialized, InitFailure>,
    /// What was noticed along the way.
    pub diagnostics: Vec<Diagnostic>,
}

impl InitMachine {
    /// A machine for the provider named `name`, in a process of pointer width `width`.
    pub fn new(name: &str, width: PointerWidth) -> Self {
        InitMachine {
            name: name.to_owned(),
            width,
            phase: Phase::Start,
            data: None,
            addresses: Vec::new(),
            handles: ExtensionHandles::default(),
            rejection: None,
            diagnostics: Vec::new(),
        }
    }

    /// Why the provider was rejected, once a step failed.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    fn started(&self) -> bool {
        self.data.is_some()
    }

    fn on_started(&mut self, r: Result<WspData, WsaError>) {
        match r {
            Ok(data) => {
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
            }
            Err(e) => self.fail(Call::StartupEx, RejectCause::Wsa(e)),
        }
    }

    fn on_addresses(&mut self, socket: ProviderSocket, mut query: AddressQuery, a: &AddressAnswer) {
        match query.on_answer(a) {
            AddressProgress::Retry(_) => self.phase = Phase::Querying { socket, query },
            AddressProgress::Done(list) => {
                if query.answered_without_size() {
                    self.diagnostics.push(Diagnostic::AddressListSizeMissing {
                        provider: self.name.clone(),
                    });
                }
                self.addresses = list;
                self.phase = Phase::Extensions { socket, next: 0 };
            }
            AddressProgress::Failed(cause) => self.fail(Call::AddressListQuery, cause),
        }
    }

    fn on_extension(
        &mut self,
        socket: ProviderSocket,
        index: usize,
        r: Result<ExtensionHandle, ExtensionFailure>,
    ) {
        let Some(&ext) = SanExtension::ALL.get(index) else {
            return self.fail(Call::Socket, RejectCause::Wsa(WsaError::WSAEINVAL));
        };
        match r {
            Ok(h) => self.handles.insert(ext, h),
            Err(reason) if ext.is_mandatory() => {
                return self.fail(
                    Call::GetExtension(ext),
                    RejectCause::MissingExtension {
                        extension: ext,
                        reason,
                    },
                );
            }
            Err(reason) => self.diagnostics.push(Diagnostic::OptionalExtensionMissing {
                provider: self.name.clone(),
                extension: ext,
                reason,
            }),
        }
        self.phase = match index + 1 {
            next if next < SanExtension::ALL.len() => Phase::Extensions { socket, next },
            _ => Phase::Ready { socket },
        };
    }

    /// The socket open in the current phase, if any.
    fn open_socket(&self) -> Option<ProviderSocket> {
        match &self.phase {
            Phase::Querying { socket, .. }
            | Phase::Extensions { socket, .. }
            | Phase::Ready { socket } => Some(*socket),
            Phase::TearingDown(t) => t.open_socket(),
            Phase::Start | Phase::Started | Phase::Rejected { .. } => None,
        }
    }

    /// Whether a teardown that starts now owes `WSPCleanup`: whenever `WSPStartupEx`
    /// succeeded. Asked only before a teardown starts (by `fail` outside `TearingDown`, and by
    /// `abandon` outside `TearingDown` and `Rejected`), so no cleanup is ever owed twice.
    fn cleanup_owed(&self) -> bool {
        self.started()
    }

    fn fail(&mut self, step: Call, cause: RejectCause) {
        if self.rejection.is_none() {
            self.rejection = Some(Rejection {
                provider: self.name.clone(),
                step,
                cause,
            });
        }
        let teardown = Teardown::new(&self.name, self.open_socket(), self.cleanup_owed());
        self.enter_teardown(teardown);
    }

    /// Goes on with `teardown`, or is finished when it has nothing to do.
    fn enter_teardown(&mut self, teardown: Teardown) {
        self.phase = if teardown.next_call().is_some() {
            Phase::TearingDown(teardown)
        } else {
            Phase::Rejected { cleaned_up: false }
        };
    }

    /// Gives up on a machine that overran its budget (see [`ProviderMachine::call_budget`]):
    /// the provider is rejected with [`RejectCause::SequenceOverrun`] and the machine goes on
    /// with a fresh teardown of what is still open. Called a second time (the teardown overran
    /// too), the machine stops where it is.
    pub fn abandon(&mut self, overrun: Overrun) {
        if self.rejection.is_none() {
            self.rejection = Some(Rejection {
                provider: self.name.clone(),
                step: overrun.pending,
                cause: RejectCause::SequenceOverrun {
                    calls: overrun.calls,
                },
            });
        }
        match &self.phase {
            Phase::TearingDown(_) | Phase::Rejected { .. } => {
                self.phase = Phase::Rejected { cleaned_up: false };
            }
            _ => {
                let teardown = Teardown::new(&self.name, self.open_socket(), self.cleanup_owed());
                self.enter_teardown(teardown);
            }
        }
    }

    /// Consumes the machine into its outcome. A machine that is not finished (one given up on
    /// mid-way) counts as rejected.
    pub fn finish(self) -> InitOutcome {
        let result = match (self.phase, self.data, self.rejection) {
            (Phase::Ready { socket }, Some(data), None) => Ok(Initialized {
                socket,
                data,
                handles: self.handles,
                addresses: self.addresses,
            }),
            (phase, data, rejection) => Err(InitFailure {
                rejection: rejection.unwrap_or_else(|| Rejection {
                    provider: self.name.clone(),
                    step: Call::StartupEx,
                    cause: RejectCause::SequenceOverrun { calls: 0 },
                }),
                data,
                extensions: self.handles.available(),
                addresses: self.addresses,
                cleaned_up: matches!(phase, Phase::Rejected { cleaned_up: true }),
            }),
        };
        InitOutcome {
            result,
            diagnostics: self.diagnostics,
        }
    }
}

impl ProviderMachine for InitMachine {
    fn next_call(&self) -> Option<NextCall> {
        match &self.phase {
            Phase::Start => Some(NextCall::StartupEx),
            Phase::Started => Some(NextCall::Socket {
                family: AddressFamily::INET,
            }),
            Phase::Querying { socket, query } => Some(NextCall::QueryAddresses {
                socket: *socket,
                buffer_len: query.buffer_len(),
            }),
            Phase::Extensions { socket, next } => {
                SanExtension::ALL
                    .get(*next)
                    .map(|&extension| NextCall::GetExtension {
                        socket: *socket,
                        extension,
                    })
            }
            Phase::TearingDown(t) => t.next_call(),
            Phase::Ready { .. } | Phase::Rejected { .. } => None,
        }
    }

    /// Takes the answer to the call asked for. An answer of the wrong kind for the call is
    /// treated as a provider failure (`WSAEINVAL`), so the sequence still ends with the
    /// provider cleaned up; a panic rejects the provider (`provider_panicked`).
    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        let call = self.next_call().ok_or(Finished)?.call();
        if let Phase::TearingDown(t) = &mut self.phase {
            t.advance(answer)?;
            self.diagnostics.extend(t.take_diagnostics());
            if t.next_call().is_none() {
                let cleaned_up = t.cleaned_up();
                self.phase = Phase::Rejected { cleaned_up };
            }
            return Ok(());
        }
        match (self.phase.clone(), answer) {
            (_, Answer::Panicked(msg)) => self.fail(call, RejectCause::Panicked(msg)),
            (Phase::Start, Answer::Started(r)) => self.on_started(r),
            // It started (so it is cleaned up), but cannot be used.
            (Phase::Start, Answer::MissingEntryPoints { data, missing }) => {
                self.data = Some(data);
                self.fail(
                    Call::StartupEx,
                    RejectCause::MissingEntryPoint {
                        entry_points: missing,
                    },
                )
            }
            (Phase::Started, Answer::Socket(Ok(socket))) => {
                self.phase = Phase::Querying {
                    socket,
                    query: AddressQuery::new(self.width),
                };
            }
            (Phase::Started, Answer::Socket(Err(e))) => self.fail(call, RejectCause::Wsa(e)),
            (Phase::Querying { socket, query }, Answer::Addresses(a)) => {
                self.on_addresses(socket, query, &a);
            }
            (Phase::Extensions { socket, next }, Answer::Extension(r)) => {
                self.on_extension(socket, next, r);
            }
            _ => self.fail(call, RejectCause::Wsa(WsaError::WSAEINVAL)),
        }
        Ok(())
    }

    fn call_budget(&self) -> usize {
        INIT_CALL_BUDGET
    }
}
