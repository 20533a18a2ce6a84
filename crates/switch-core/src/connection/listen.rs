//! A SAN provider's share of a listening socket (LISTEN-1, HOT-2) and the accepts it signals
//! (ACCEPT-1, ACCEPT-2), as explicit state machines.
//!
//! ```text
//! ListenMachine:  WSPSocket -> WSPBind(NIC address or wildcard, the TCP socket's port)
//!                 -> WSPListen(backlog) -> WSPEventSelect(FD_ACCEPT) -> Listening
//!                 any failure: WSPCloseSocket (when a socket is open) -> Failed
//! AcceptMachine:  (event) WSPEnumNetworkEvents -> FD_ACCEPT? -> WSPAccept(condition) -> Done
//! ```

use std::net::SocketAddr;

use spi_types::{AddressFamily, ConditionResult, NetworkEvents, WsaError};

use crate::call::{Answer, Finished, NextCall, ProviderMachine};
use crate::provider::{Accepted, EventHandle, ProviderSocket};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenPhase {
    Socket,
    Bind(ProviderSocket),
    Listen(ProviderSocket),
    Select(ProviderSocket),
    Listening(ProviderSocket),
    Closing(ProviderSocket, WsaError),
    Failed(WsaError),
}

/// One provider's listening socket being set up.
#[derive(Debug, Clone)]
pub struct ListenMachine {
    address: SocketAddr,
    backlog: i32,
    event: EventHandle,
    phase: ListenPhase,
}

impl ListenMachine {
    /// Listens on `address` (a NIC address or the wildcard, with the TCP socket's port) with
    /// `backlog`, signalling `event` on `FD_ACCEPT`.
    pub fn new(address: SocketAddr, backlog: i32, event: EventHandle) -> Self {
        ListenMachine {
            address,
            backlog,
            event,
            phase: ListenPhase::Socket,
        }
    }

    /// The listening socket, once set up.
    pub fn listening(&self) -> Option<ProviderSocket> {
        match self.phase {
            ListenPhase::Listening(s) => Some(s),
            _ => None,
        }
    }

    /// Why it failed, once it has (its socket closed).
    pub fn failed(&self) -> Option<WsaError> {
        match self.phase {
            ListenPhase::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The event it signals.
    pub fn event(&self) -> EventHandle {
        self.event
    }
}

impl ProviderMachine for ListenMachine {
    fn next_call(&self) -> Option<NextCall> {
        Some(match self.phase {
            ListenPhase::Socket => NextCall::Socket {
                family: if self.address.is_ipv4() {
                    AddressFamily::INET
                } else {
                    AddressFamily::INET6
                },
            },
            ListenPhase::Bind(socket) => NextCall::Bind {
                socket,
                address: self.address,
            },
            ListenPhase::Listen(socket) => NextCall::Listen {
                socket,
                backlog: self.backlog,
            },
            ListenPhase::Select(socket) => NextCall::EventSelect {
                socket,
                event: self.event,
                events: NetworkEvents::ACCEPT,
            },
            ListenPhase::Closing(s, _) => NextCall::CloseSocket(s),
            ListenPhase::Listening(_) | ListenPhase::Failed(_) => return None,
        })
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        self.next_call().ok_or(Finished)?;
        let failed = |answer: &Answer| match answer {
            Answer::Socket(Err(e)) | Answer::Done(Err(e)) => Some(*e),
            Answer::Panicked(_) => Some(WsaError::WSAENETDOWN),
            Answer::Socket(Ok(_)) | Answer::Done(Ok(())) => None,
            _ => Some(WsaError::WSAEINVAL),
        };
        self.phase = match (self.phase, answer) {
            (ListenPhase::Closing(_, e), _) => ListenPhase::Failed(e),
            (ListenPhase::Socket, Answer::Socket(Ok(s))) => ListenPhase::Bind(s),
            (ListenPhase::Socket, a) => {
                ListenPhase::Failed(failed(&a).unwrap_or(WsaError::WSAEINVAL))
            }
            (ListenPhase::Bind(s) | ListenPhase::Listen(s) | ListenPhase::Select(s), a)
                if failed(&a).is_some() =>
            {
                ListenPhase::Closing(s, failed(&a).unwrap_or(WsaError::WSAEINVAL))
            }
            (ListenPhase::Bind(s), _) => ListenPhase::Listen(s),
            (ListenPhase::Listen(s), _) => ListenPhase::Select(s),
            (ListenPhase::Select(s), _) => ListenPhase::Listening(s),
            (p @ (ListenPhase::Listening(_) | ListenPhase::Failed(_)), _) => p,
        };
        Ok(())
    }

    fn call_budget(&self) -> usize {
        match self.phase {
            ListenPhase::Socket => 5,
            ListenPhase::Bind(_) => 4,
            ListenPhase::Listen(_) => 3,
            ListenPhase::Select(_) => 2,
            ListenPhase::Closing(..) => 1,
            ListenPhase::Listening(_) | ListenPhase::Failed(_) => 0,
        }
    }
}

/// How one signalled accept event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptEnd {
    /// A connection was accepted.
    Accepted(Accepted),
    /// The condition function rejected the peer; the provider refused it (ACCEPT-2).
    Rejected,
    /// The event carried no `FD_ACCEPT`, or the provider had nothing to accept.
    Nothing,
    /// The provider failed.
    Failed(WsaError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptPhase {
    Enumerate,
    Accept,
    Done(AcceptEnd),
}

/// What the switch does when a listening socket's event is signalled (ACCEPT-1).
#[derive(Debug, Clone)]
pub struct AcceptMachine {
    socket: ProviderSocket,
    event: EventHandle,
    decision: ConditionResult,
    phase: AcceptPhase,
}

impl AcceptMachine {
    /// Handles the event of listening `socket`; the condition function answers `decision`.
    pub fn new(socket: ProviderSocket, event: EventHandle, decision: ConditionResult) -> Self {
        AcceptMachine {
            socket,
            event,
            decision,
            phase: AcceptPhase::Enumerate,
        }
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<AcceptEnd> {
        match self.phase {
            AcceptPhase::Done(e) => Some(e),
            _ => None,
        }
    }
}

impl ProviderMachine for AcceptMachine {
    fn next_call(&self) -> Option<NextCall> {
        match self.phase {
            AcceptPhase::Enumerate => Some(NextCall::EnumNetworkEvents {
                socket: self.socket,
                event: self.event,
            }),
            AcceptPhase::Accept => Some(NextCall::Accept {
                socket: self.socket,
                decision: self.decision,
            }),
            AcceptPhase::Done(_) => None,
        }
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        self.phase = match (self.phase, answer) {
            (AcceptPhase::Done(_), _) => return Err(Finished),
            (AcceptPhase::Enumerate, Answer::Events(Ok(ev))) => {
                match (
                    ev.events.contains(NetworkEvents::ACCEPT),
                    ev.error_for(NetworkEvents::ACCEPT),
                ) {
                    (true, None) => AcceptPhase::Accept,
                    (true, Some(e)) => AcceptPhase::Done(AcceptEnd::Failed(e)),
                    (false, _) => AcceptPhase::Done(AcceptEnd::Nothing),
                }
            }
            (AcceptPhase::Accept, Answer::Accepted { result, .. }) => {
                AcceptPhase::Done(match result {
                    Ok(a) => AcceptEnd::Accepted(a),
                    Err(WsaError::WSAECONNREFUSED) => AcceptEnd::Rejected,
                    Err(WsaError::WSAEWOULDBLOCK) => AcceptEnd::Nothing,
                    Err(e) => AcceptEnd::Failed(e),
                })
            }
            (_, Answer::Events(Err(e)) | Answer::Done(Err(e))) => {
                AcceptPhase::Done(AcceptEnd::Failed(e))
            }
            (_, _) => AcceptPhase::Done(AcceptEnd::Failed(WsaError::WSAEINVAL)),
        };
        Ok(())
    }

    fn call_budget(&self) -> usize {
        match self.phase {
            AcceptPhase::Enumerate => 2,
            AcceptPhase::Accept => 1,
            AcceptPhase::Done(_) => 0,
        }
    }
}
