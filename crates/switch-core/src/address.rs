//! Address tracking: the `SIO_ADDRESS_LIST_QUERY` query with its retry rule (INIT-3), shared by
//! a provider's initialization and by address changes (ADDR-1).

use std::net::IpAddr;

use spi_types::WsaError;
use spi_types::address_list::{PointerWidth, decode_address_list};

use crate::driver::query_addresses;
use crate::provider::{IoctlFailure, ProviderSocket, SanProvider};
use crate::report::RejectCause;
use crate::startup::Answer;
use crate::trace::{CallArgs, CallResult};

/// The first address-list buffer offered (room for about 120 IPv4 addresses on 64-bit).
pub const INITIAL_ADDRESS_BUFFER: usize = 4096;

/// How many times the address list is asked for before the switch gives up on a provider that
/// keeps answering `WSAEFAULT` (the first query and three retries with the size asked for).
pub const MAX_ADDRESS_QUERY_ATTEMPTS: u32 = 4;

/// The largest address-list buffer the switch offers (16 MiB, about 500,000 IPv4 addresses); a
/// provider asking for more is rejected rather than trusted.
pub const MAX_ADDRESS_BUFFER: usize = 16 << 20;

/// The answer to one address-list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressAnswer {
    /// Success: the output buffer as the provider left it, and the address it had.
    Filled {
        /// The buffer.
        buffer: Vec<u8>,
        /// Its address (pointers in the list point into it).
        base: u64,
    },
    /// Failure, with `lpcbBytesReturned` (the size needed, for `WSAEFAULT`).
    Failed(IoctlFailure),
}

/// Where an address query stands after one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressProgress {
    /// Ask again with a buffer of this size.
    Retry(usize),
    /// The provider's addresses.
    Done(Vec<IpAddr>),
    /// The query failed.
    Failed(RejectCause),
}

/// An address-list query with its retry rule: a `WSAEFAULT` answer with a size is retried with
/// that size (or the size already offered, if larger), up to [`MAX_ADDRESS_QUERY_ATTEMPTS`]
/// queries and [`MAX_ADDRESS_BUFFER`] bytes. A `WSAEFAULT` with no size is an error, since
/// there is nothing to retry with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressQuery {
    attempts: u32,
    buffer_len: usize,
    width: PointerWidth,
}

impl AddressAnswer {
    /// The trace's view of this answer to a query with a buffer of `buffer_len` bytes: its
    /// result, and its arguments (the buffer offered, and the size asked for on `WSAEFAULT`).
    pub fn traced(&self, buffer_len: usize) -> (CallResult, CallArgs) {
        match self {
            AddressAnswer::Filled { .. } => (
                CallResult::Ok,
                CallArgs::AddressQuery {
                    buffer_len,
                    needed: None,
                },
            ),
            AddressAnswer::Failed(f) => (
                CallResult::Error(f.error),
                CallArgs::AddressQuery {
                    buffer_len,
                    needed: (f.error == WsaError::WSAEFAULT).then_some(f.bytes_returned),
                },
            ),
        }
    }
}

impl AddressQuery {
    /// A query for a provider in a process of pointer width `width`.
    pub fn new(width: PointerWidth) -> Self {
        AddressQuery {
            attempts: 0,
            buffer_len: INITIAL_ADDRESS_BUFFER,
            width,
        }
    }

    /// The size of the buffer to offer next.
    pub fn buffer_len(&self) -> usize {
        self.buffer_len
    }

    /// Takes one answer.
    pub fn on_answer(&mut self, answer: &AddressAnswer) -> AddressProgress {
        self.attempts += 1;
        match answer {
            AddressAnswer::Filled { buffer, base } => {
                match decode_address_list(buffer, *base, self.width) {
                    Ok(list) => AddressProgress::Done(list.into_iter().map(|a| a.ip()).collect()),
                    Err(e) => AddressProgress::Failed(RejectCause::AddressListInvalid(e)),
                }
            }
            AddressAnswer::Failed(f) if f.error == WsaError::WSAEFAULT => {
                let needed = f.bytes_returned;
                if needed == 0 {
                    // No size: nothing to retry with.
                    AddressProgress::Failed(RejectCause::Wsa(WsaError::WSAEFAULT))
                } else if needed > MAX_ADDRESS_BUFFER {
                    AddressProgress::Failed(RejectCause::AddressListTooLarge {
                        needed,
                        limit: MAX_ADDRESS_BUFFER,
                    })
                } else if self.attempts >= MAX_ADDRESS_QUERY_ATTEMPTS {
                    AddressProgress::Failed(RejectCause::AddressListRetriesExhausted {
                        attempts: self.attempts,
                        needed,
                    })
                } else {
                    // A size no larger than the buffer offered (the list changed meanwhile, or
                    // the provider is confused) is retried with the larger of the two, within
                    // the same bound.
                    self.buffer_len = needed.max(self.buffer_len);
                    AddressProgress::Retry(self.buffer_len)
                }
            }
            AddressAnswer::Failed(f) => AddressProgress::Failed(RejectCause::Wsa(f.error)),
        }
    }
}

/// A whole re-query of a ready provider's addresses: each query made, for the trace, and the
/// outcome.
pub(crate) struct Requery {
    /// Each query's result and arguments, in order.
    pub events: Vec<(CallResult, CallArgs)>,
    /// The addresses, or why there are none.
    pub outcome: Result<Vec<IpAddr>, RejectCause>,
}

/// Asks `provider` for its addresses on `socket`, retrying as [`AddressQuery`] says.
pub(crate) fn requery(
    provider: &mut dyn SanProvider,
    socket: ProviderSocket,
    width: PointerWidth,
) -> Requery {
    let mut query = AddressQuery::new(width);
    let mut events = Vec::new();
    let outcome = loop {
        let buffer_len = query.buffer_len();
        match query_addresses(provider, socket, buffer_len) {
            Answer::Addresses(a) => {
                events.push(a.traced(buffer_len));
                match query.on_answer(&a) {
                    AddressProgress::Retry(_) => continue,
                    AddressProgress::Done(list) => break Ok(list),
                    AddressProgress::Failed(cause) => break Err(cause),
                }
            }
            Answer::Panicked(msg) => {
                events.push((
                    CallResult::Panic,
                    CallArgs::AddressQuery {
                        buffer_len,
                        needed: None,
                    },
                ));
                break Err(RejectCause::Panicked(msg));
            }
            // `query_addresses` answers nothing else.
            _ => break Err(RejectCause::Wsa(WsaError::WSAEINVAL)),
        }
    };
    Requery { events, outcome }
}
