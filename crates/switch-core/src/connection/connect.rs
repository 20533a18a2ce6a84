//! One SAN connect attempt as an explicit state machine (CONN-2, CONN-3, CONN-4, CONN-6).
//!
//! ```text
//! WSPSocket(companion) -> WSPBind(the TCP socket's IP and port) -> WSPSetSockOpt(each forwarded
//!   option) -> WSPEventSelect(FD_CONNECT) -> WSPConnect
//!     ok                -> Established
//!     WSAEWOULDBLOCK    -> Waiting ──(event)──> WSPEnumNetworkEvents -> FD_CONNECT's error
//!     error             -> CONN-4
//! CONN-4: WSAECONNRESET, WSAECONNREFUSED, WSAEHOSTUNREACH end the connect with that error;
//!         any other error falls back to TCP. Either way the companion socket is closed first.
//! A failure before WSPConnect (CONN-2) closes the companion socket and falls back to TCP.
//! Cancelling (CONN-6) closes the companion socket.
//! ```
//!
//! Like every machine it makes no call itself: [`ProviderMachine::next_call`] says what comes
//! next, and it waits (asks for nothing) between `WSAEWOULDBLOCK` and the event, which the
//! platform reports through the switch.

use std::net::SocketAddr;

use spi_types::{AddressFamily, NetworkEvents, WsaError};

use crate::call::{Answer, Finished, NextCall, ProviderMachine};
use crate::provider::{EventHandle, ProviderSocket};

/// An application option stored on a socket (CONN-1), replayed on a companion socket when the
/// provider takes it (CONN-2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredOption {
    /// `level` of `setsockopt`.
    pub level: i32,
    /// `optname`.
    pub name: i32,
    /// `optval`.
    pub value: Vec<u8>,
}

/// How many signalled events without an `FD_CONNECT` result an attempt tolerates before it
/// counts the connect as failed (`WSAETIMEDOUT`): a provider that keeps signalling for nothing
/// must not keep the attempt alive for ever.
pub const MAX_SPURIOUS_EVENTS: usize = 8;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The SAN connection is up on this companion socket (CONN-5: no fallback from here).
    Established(ProviderSocket),
    /// A step before `WSPConnect` failed: the companion socket is closed, use TCP (CONN-2).
    CompanionFailed(WsaError),
    /// The SAN connect failed with an error TCP may not meet: the companion socket is closed,
    /// use TCP (CONN-4).
    Fallback(WsaError),
    /// The SAN connect failed with an error TCP would meet too: the application's connect
    /// fails with it (CONN-4).
    Fatal(WsaError),
    /// The application cancelled; the companion socket is closed (CONN-6).
    Cancelled,
}

/// Whether a SAN connect error ends the application's connect (CONN-4) rather than falling
/// back to TCP.
pub fn is_fatal(e: WsaError) -> bool {
    matches!(
        e,
        WsaError::WSAECONNRESET | WsaError::WSAECONNREFUSED | WsaError::WSAEHOSTUNREACH
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Socket,
    Bind(ProviderSocket),
    Options(ProviderSocket, usize),
    Select(ProviderSocket),
    Connect(ProviderSocket),
    Waiting(ProviderSocket),
    Enumerating(ProviderSocket),
    Closing(ProviderSocket, AttemptEnd),
    Done(AttemptEnd),
}

/// One connect attempt through a SAN provider.
#[derive(Debug, Clone)]
pub struct ConnectMachine {
    family: AddressFamily,
    local: SocketAddr,
    dest: SocketAddr,
    options: Vec<StoredOption>,
    event: EventHandle,
    phase: Phase,
    spurious: usize,
}

impl ConnectMachine {
    /// An attempt to connect a companion socket bound to `local` (the TCP socket's own
    /// address) to `dest`, replaying `options`, signalled through `event`.
    pub fn new(
        local: SocketAddr,
        dest: SocketAddr,
        options: Vec<StoredOption>,
        event: EventHandle,
    ) -> Self {
        ConnectMachine {
            family: if dest.is_ipv4() {
                AddressFamily::INET
            } else {
                AddressFamily::INET6
            },
            local,
            dest,
            options,
            event,
            phase: Phase::Socket,
            spurious: 0,
        }
    }

    /// The event the attempt's companion socket signals.
    pub fn event(&self) -> EventHandle {
        self.event
    }

    /// Whether the attempt waits for its event.
    pub fn is_waiting(&self) -> bool {
        matches!(self.phase, Phase::Waiting(_))
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<AttemptEnd> {
        match self.phase {
            Phase::Done(end) => Some(end),
            _ => None,
        }
    }

    /// The end the attempt has reached or is heading for (closing its companion socket on the
    /// way there); `None` while it may still go either way.
    pub fn heading(&self) -> Option<AttemptEnd> {
        match self.phase {
            Phase::Done(end) | Phase::Closing(_, end) => Some(end),
            _ => None,
        }
    }

    /// The companion socket, while one is open.
    pub fn companion(&self) -> Option<ProviderSocket> {
        match self.phase {
            Phase::Socket | Phase::Done(_) => None,
            Phase::Bind(s)
            | Phase::Options(s, _)
            | Phase::Select(s)
            | Phase::Connect(s)
            | Phase::Waiting(s)
            | Phase::Enumerating(s)
            | Phase::Closing(s, _) => Some(s),
        }
    }

    /// The event was signalled: ask the provider what happened. Ignored unless waiting.
    pub fn on_event(&mut self) {
        if let Phase::Waiting(s) = self.phase {
            self.phase = Phase::Enumerating(s);
        }
    }

    /// The application cancelled its connect (CONN-6): close the companion socket, if any.
    /// An established or finished attempt is not changed.
    pub fn cancel(&mut self) {
        self.phase = match self.phase {
            Phase::Socket => Phase::Done(AttemptEnd::Cancelled),
            Phase::Done(_) | Phase::Closing(..) => return,
            _ => match self.companion() {
                Some(s) => Phase::Closing(s, AttemptEnd::Cancelled),
                None => Phase::Done(AttemptEnd::Cancelled),
            },
        };
    }

    fn after_failure(&mut self, socket: ProviderSocket, end: AttemptEnd) {
        self.phase = Phase::Closing(socket, end);
    }

    fn connect_failed(&mut self, socket: ProviderSocket, e: WsaError) {
        let end = if is_fatal(e) {
            AttemptEnd::Fatal(e)
        } else {
            AttemptEnd::Fallback(e)
        };
        self.after_failure(socket, end);
    }

    fn next_option(&mut self, s: ProviderSocket, i: usize) {
        self.phase = if i < self.options.len() {
            Phase::Options(s, i)
        } else {
            Phase::Select(s)
        };
    }
}

impl ProviderMachine for ConnectMachine {
    fn next_call(&self) -> Option<NextCall> {
        Some(match &self.phase {
            Phase::Socket => NextCall::Socket {
                family: self.family,
            },
            &Phase::Bind(socket) => NextCall::Bind {
                socket,
                address: self.local,
            },
            &Phase::Options(socket, i) => {
                let o = self.options.get(i)?;
                NextCall::SetSockOpt {
                    socket,
                    level: o.level,
                    name: o.name,
                    value: o.value.clone(),
                }
            }
            &Phase::Select(socket) => NextCall::EventSelect {
                socket,
                event: self.event,
                events: NetworkEvents::CONNECT,
            },
            &Phase::Connect(socket) => NextCall::Connect {
                socket,
                address: self.dest,
            },
            &Phase::Enumerating(socket) => NextCall::EnumNetworkEvents {
                socket,
                event: self.event,
            },
            &Phase::Closing(s, _) => NextCall::CloseSocket(s),
            Phase::Waiting(_) | Phase::Done(_) => return None,
        })
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        self.next_call().ok_or(Finished)?;
        let phase = self.phase.clone();
        // A panic is a provider failure like any other: before WSPConnect the companion socket
        // failed; from WSPConnect on, the connect failed (and falls back).
        let answer = match answer {
            Answer::Panicked(_) => match phase {
                Phase::Socket | Phase::Bind(_) | Phase::Options(..) | Phase::Select(_) => {
                    Answer::Done(Err(WsaError::WSAEPROVIDERFAILEDINIT))
                }
                _ => Answer::Done(Err(WsaError::WSAENETDOWN)),
            },
            a => a,
        };
        match (phase, answer) {
            (Phase::Socket, Answer::Socket(Ok(s))) => self.phase = Phase::Bind(s),
            (Phase::Socket, Answer::Socket(Err(e)) | Answer::Done(Err(e))) => {
                self.phase = Phase::Done(AttemptEnd::CompanionFailed(e));
            }
            (Phase::Bind(s), Answer::Done(Ok(()))) => self.next_option(s, 0),
            (Phase::Options(s, i), Answer::Done(Ok(()))) => self.next_option(s, i + 1),
            (Phase::Select(s), Answer::Done(Ok(()))) => self.phase = Phase::Connect(s),
            (Phase::Bind(s) | Phase::Options(s, _) | Phase::Select(s), Answer::Done(Err(e))) => {
                self.after_failure(s, AttemptEnd::CompanionFailed(e))
            }
            (Phase::Connect(s), Answer::Done(Ok(()))) => {
                self.phase = Phase::Done(AttemptEnd::Established(s));
            }
            (Phase::Connect(s), Answer::Done(Err(WsaError::WSAEWOULDBLOCK))) => {
                self.phase = Phase::Waiting(s);
            }
            (Phase::Connect(s), Answer::Done(Err(e))) => self.connect_failed(s, e),
            (Phase::Enumerating(s), Answer::Events(Ok(ev))) => {
                if ev.events.contains(NetworkEvents::CONNECT) {
                    match ev.error_for(NetworkEvents::CONNECT) {
                        None => self.phase = Phase::Done(AttemptEnd::Established(s)),
                        Some(e) => self.connect_failed(s, e),
                    }
                } else {
                    self.spurious += 1;
                    if self.spurious >= MAX_SPURIOUS_EVENTS {
                        self.connect_failed(s, WsaError::WSAETIMEDOUT);
                    } else {
                        self.phase = Phase::Waiting(s);
                    }
                }
            }
            // The enumeration itself failed: that is no answer to the connect, so CONN-4's
            // table does not apply; the attempt falls back.
            (Phase::Enumerating(s), Answer::Events(Err(e)) | Answer::Done(Err(e))) => {
                self.after_failure(s, AttemptEnd::Fallback(e));
            }
            (Phase::Closing(_, end), _) => self.phase = Phase::Done(end),
            // An answer of the wrong kind: the provider failed the step.
            (phase, _) => match phase {
                Phase::Connect(s) | Phase::Enumerating(s) => {
                    self.connect_failed(s, WsaError::WSAEINVAL);
                }
                other => match other {
                    Phase::Bind(s) | Phase::Options(s, _) | Phase::Select(s) => {
                        self.after_failure(s, AttemptEnd::CompanionFailed(WsaError::WSAEINVAL));
                    }
                    _ => self.phase = Phase::Done(AttemptEnd::CompanionFailed(WsaError::WSAEINVAL)),
                },
            },
        }
        Ok(())
    }

    fn call_budget(&self) -> usize {
        // From the current phase to the end, through the longest path: every remaining setup
        // call, the connect, every tolerated enumeration, and the close.
        let options = self.options.len();
        let waits = MAX_SPURIOUS_EVENTS - self.spurious;
        match self.phase {
            Phase::Socket => 4 + options + waits + 1,
            Phase::Bind(_) => 3 + options + waits + 1,
            Phase::Options(_, i) => options - i + 2 + waits + 1,
            Phase::Select(_) => 2 + waits + 1,
            Phase::Connect(_) => 1 + waits + 1,
            Phase::Waiting(_) | Phase::Enumerating(_) => waits + 1,
            Phase::Closing(..) => 1,
            Phase::Done(_) => 0,
        }
    }
}
