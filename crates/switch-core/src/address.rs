//! Address tracking: the `SIO_ADDRESS_LIST_QUERY` query with its retry rule (INIT-3), shared by
//! a provider's initialization and by address changes (ADDR-1).

use std::net::IpAddr;

use spi_types::WsaError;
use spi_types::address_list::{PointerWidth, decode_address_list};

use crate::call::{AddressAnswer, Answer, Finished, NextCall, ProviderMachine};
use crate::provider::ProviderSocket;
use crate::report::RejectCause;

/// The first address-list buffer offered (room for about 120 IPv4 addresses on 64-bit).
pub const INITIAL_ADDRESS_BUFFER: usize = 4096;

/// How many times the address list is asked for before the switch gives up on a provider that
/// keeps answering `WSAEFAULT` (the first query and three retries with the size asked for).
pub const MAX_ADDRESS_QUERY_ATTEMPTS: u32 = 4;

/// The largest address-list buffer the switch offers (16 MiB, about 500,000 IPv4 addresses); a
/// provider asking for more is rejected rather than trusted.
pub const MAX_ADDRESS_BUFFER: usize = 16 << 20;

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
    unsized_answer: bool,
}

impl AddressQuery {
    /// A query for a provider in a process of pointer width `width`.
    pub fn new(width: PointerWidth) -> Self {
        AddressQuery {
            attempts: 0,
            buffer_len: INITIAL_ADDRESS_BUFFER,
            width,
            unsized_answer: false,
        }
    }

    /// The size of the buffer to offer next.
    pub fn buffer_len(&self) -> usize {
        self.buffer_len
    }

    /// Whether a successful answer came with a byte count of 0, so the whole buffer was
    /// decoded.
    pub fn answered_without_size(&self) -> bool {
        self.unsized_answer
    }

    /// Takes one answer.
    pub fn on_answer(&mut self, answer: &AddressAnswer) -> AddressProgress {
        self.attempts += 1;
        match answer {
            AddressAnswer::Filled {
                buffer,
                base,
                returned,
            } => {
                // The byte count bounds the decode: pointers must lie within what the provider
                // says it wrote. A provider that reports 0 bytes on success (some do not set
                // the count) has the whole buffer decoded, and the switch reports it.
                let written = match *returned {
                    0 => {
                        self.unsized_answer = true;
                        buffer.as_slice()
                    }
                    n => match buffer.get(..n) {
                        Some(w) => w,
                        None => {
                            return AddressProgress::Failed(RejectCause::AddressListOverreported {
                                returned: n,
                                buffer_len: buffer.len(),
                            });
                        }
                    },
                };
                match decode_address_list(written, *base, self.width) {
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

/// A re-query of a ready provider's addresses on its query socket (ADDR-1), with the retry rule
/// of [`AddressQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requery {
    socket: ProviderSocket,
    query: AddressQuery,
    outcome: Option<Result<Vec<IpAddr>, RejectCause>>,
}

impl Requery {
    /// A re-query on `socket` for a provider in a process of pointer width `width`.
    pub fn new(socket: ProviderSocket, width: PointerWidth) -> Self {
        Requery {
            socket,
            query: AddressQuery::new(width),
            outcome: None,
        }
    }

    /// The query's own state (retries, the size offered next).
    pub fn query(&self) -> &AddressQuery {
        &self.query
    }

    /// The addresses, or why there are none; `None` while the machine is not finished.
    pub fn finish(self) -> Option<Result<Vec<IpAddr>, RejectCause>> {
        self.outcome
    }
}

impl ProviderMachine for Requery {
    fn next_call(&self) -> Option<NextCall> {
        self.outcome.is_none().then_some(NextCall::QueryAddresses {
            socket: self.socket,
            buffer_len: self.query.buffer_len(),
        })
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        if self.outcome.is_some() {
            return Err(Finished);
        }
        let progress = match answer {
            Answer::Addresses(a) => self.query.on_answer(&a),
            Answer::Panicked(msg) => AddressProgress::Failed(RejectCause::Panicked(msg)),
            _ => AddressProgress::Failed(RejectCause::Wsa(WsaError::WSAEINVAL)),
        };
        match progress {
            AddressProgress::Retry(_) => {}
            AddressProgress::Done(list) => self.outcome = Some(Ok(list)),
            AddressProgress::Failed(cause) => self.outcome = Some(Err(cause)),
        }
        Ok(())
    }

    fn call_budget(&self) -> usize {
        MAX_ADDRESS_QUERY_ATTEMPTS as usize
    }
}
