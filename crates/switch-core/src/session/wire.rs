//! The session's control messages: what the two switches at the ends of a SAN connection send
//! each other, once the [negotiation](super::negotiation) is done, inside the message buffers
//! each side registered and posted as receives.
//!
//! - **Credits (SESS-1).** Every message returns credits: `credits` counts the receives the
//!   sender has posted again since its previous message, so its peer may send that many more.
//!   A [`Body::Credit`] message carries nothing else, for a side that has nothing to send but
//!   must hand credits back before its peer runs out.
//! - **Data (SESS-2).** A send up to the RDMA threshold travels inline, in [`Body::Data`]. A
//!   larger send carries its first part inline, with the total size, and moves the rest by RDMA.
//!   When the receiving side has RdmaRead, the sender registers the application's buffer for
//!   reading and offers its descriptor ([`Body::ReadOffer`]); the receiver reads and answers
//!   [`Body::RdmaDone`] (the read is done). Otherwise the sender asks for a target
//!   ([`Body::WriteRequest`]); the receiver registers a buffer for writing and answers
//!   [`Body::WriteTarget`] with its descriptor (or with the Winsock error that stopped it,
//!   WSAENOBUFS for a failed registration); the sender writes and reports [`Body::WriteDone`].
//!   The two completions are different kinds because both directions of a connection may have
//!   a transfer under way at once: one side reading what its peer offered while the peer
//!   writes into it.
//! - **Urgent data (SESS-4).** MSG_OOB bytes travel in [`Body::Urgent`], outside the stream.
//! - **Disconnect (SESS-6).** [`Body::Disconnect`] is the switch's own disconnect message;
//!   shutdown is never forwarded to the provider.
//!
//! ## Wire format (little-endian)
//!
//! ```text
//! offset size field
//!      0    1 kind         1 data, 2 urgent, 3 read_offer, 4 write_request, 5 write_target,
//!                          6 rdma_done, 7 credit, 8 disconnect, 9 write_done;
//!                          anything else: UnknownKind
//!      1    1 reserved     sent 0, ignored when read
//!      2    2 extra_len    bytes of the kind's own fields after the header
//!      4    4 credits      receives the sender re-posted since its last message (credit return)
//!      8    4 payload_len  inline bytes after the kind's fields
//!     12    4 reserved     sent 0, ignored when read
//!     16  extra_len        the kind's fields (below)
//!     16+extra_len  payload_len  the payload
//! ```
//!
//! The kind's fields, whose length `extra_len` must be exactly as listed:
//!
//! ```text
//! kind              extra_len        fields                       payload
//! 1 data            0                -                            stream bytes, 1 or more
//! 2 urgent          0                -                            urgent bytes, 1 or more
//! 3 read_offer      8 + 1..=256      total: u64, descriptor       the first part, < total
//! 4 write_request   8                total: u64                   the first part, < total
//! 5 write_target    4 + 0..=256      status: u32, descriptor      none
//!                                    (status 0: a descriptor of 1..=256 bytes;
//!                                     otherwise a Winsock error code and no descriptor)
//! 6 rdma_done       12               status: u32, transferred: u64   none
//!                                    (status 0: `transferred` bytes moved; otherwise a
//!                                     Winsock error code, `transferred` ignored, sent 0)
//! 7 credit          0                -                            none
//! 8 disconnect      0                -                            none
//! 9 write_done      12               as rdma_done                 none
//! ```
//!
//! A status is a Winsock error code's `i32` bit pattern. A message is exactly
//! `16 + extra_len + payload_len` bytes, and [`Message::decode`] takes exactly the bytes the
//! receive completed with: fewer is [`WireError::Truncated`], more is
//! [`WireError::TrailingBytes`].
//!
//! **The decoder never panics**: every malformed message is a [`WireError`], and a malformed
//! message fails the connection it arrived on (the session does not try to resynchronise with
//! a peer that broke the protocol). [`Message::encode`] refuses a message that would not
//! decode, so a switch never sends one.

use spi_types::WsaError;

/// The size of the fixed header.
pub const HEADER_SIZE: usize = 16;

/// The largest RDMA descriptor a message carries.
pub const MAX_DESCRIPTOR: usize = 256;

const KIND_DATA: u8 = 1;
const KIND_URGENT: u8 = 2;
const KIND_READ_OFFER: u8 = 3;
const KIND_WRITE_REQUEST: u8 = 4;
const KIND_WRITE_TARGET: u8 = 5;
const KIND_RDMA_DONE: u8 = 6;
const KIND_CREDIT: u8 = 7;
const KIND_DISCONNECT: u8 = 8;
const KIND_WRITE_DONE: u8 = 9;

/// Bytes of `total` (read_offer, write_request).
const TOTAL_SIZE: usize = 8;
/// Bytes of `status` (write_target, rdma_done, write_done).
const STATUS_SIZE: usize = 4;
/// Bytes of rdma_done's and write_done's fields.
const RDMA_DONE_SIZE: usize = STATUS_SIZE + 8;

/// What a control message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// Stream bytes sent inline (SESS-2): at least one.
    Data(&'a [u8]),
    /// Urgent (MSG_OOB) bytes (SESS-4): at least one.
    Urgent(&'a [u8]),
    /// A send whose remainder the receiver reads by RDMA (SESS-2).
    ReadOffer {
        /// Bytes of the whole send, `inline` included: more than `inline` holds.
        total: u64,
        /// The RDMA descriptor of the sender's registered buffer: 1 to [`MAX_DESCRIPTOR`]
        /// bytes.
        descriptor: &'a [u8],
        /// The send's first part (may be empty).
        inline: &'a [u8],
    },
    /// A send whose remainder the sender writes by RDMA, once the receiver names a target
    /// (SESS-2).
    WriteRequest {
        /// Bytes of the whole send, `inline` included: more than `inline` holds.
        total: u64,
        /// The send's first part (may be empty).
        inline: &'a [u8],
    },
    /// The answer to a [`WriteRequest`](Body::WriteRequest) (SESS-2): the descriptor of the
    /// receiver's buffer registered for writing (1 to [`MAX_DESCRIPTOR`] bytes), or the
    /// Winsock error that stopped the receiver (never code 0).
    WriteTarget(Result<&'a [u8], WsaError>),
    /// The receiver's RDMA read of a [`ReadOffer`](Body::ReadOffer) ended (SESS-2): the bytes
    /// moved, or the Winsock error it failed with (never code 0).
    RdmaDone(Result<u64, WsaError>),
    /// The sender's RDMA write into a [`WriteTarget`](Body::WriteTarget) ended (SESS-2): the
    /// bytes written, or the Winsock error it failed with (never code 0).
    WriteDone(Result<u64, WsaError>),
    /// Nothing but the credits returned (SESS-1).
    Credit,
    /// The switch's own disconnect (SESS-6).
    Disconnect,
}

/// One control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Receives the sender posted again since its previous message: the credit it returns
    /// (SESS-1).
    pub credits: u32,
    /// What the message carries.
    pub body: Body<'a>,
}

/// A control message could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header, or than the header says the message takes.
    #[error("control message truncated: {needed} bytes needed, {available} received")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes received.
        available: usize,
    },
    /// More bytes than the header says the message takes.
    #[error("control message of {length} bytes received with {received} bytes")]
    TrailingBytes {
        /// The message's length by its header.
        length: usize,
        /// Bytes received.
        received: usize,
    },
    /// A kind byte this switch does not know.
    #[error("unknown control message kind {0}")]
    UnknownKind(u8),
    /// An `extra_len` the kind does not allow.
    #[error("{kind} control message with {extra_len} bytes of fields")]
    BadExtraLength {
        /// The kind's name ([`Body::kind_name`]).
        kind: &'static str,
        /// The `extra_len` found.
        extra_len: usize,
    },
    /// Fields that break the kind's rules (an empty data payload, an inline part not smaller
    /// than the total, a success without a descriptor, ...).
    #[error("invalid {kind} control message: {reason}")]
    Invalid {
        /// The kind's name ([`Body::kind_name`]).
        kind: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The buffer given to [`Message::encode`] is too small.
    #[error("control message of {needed} bytes does not fit in {available} bytes")]
    BufferTooSmall {
        /// The message's length.
        needed: usize,
        /// The buffer's length.
        available: usize,
    },
}

const EMPTY_PAYLOAD: &str = "empty payload";
const PAYLOAD_NOT_EXPECTED: &str = "payload on a message that carries none";
const INLINE_NOT_BELOW_TOTAL: &str = "inline part not smaller than the total";
const EMPTY_DESCRIPTOR: &str = "empty descriptor";
const LONG_DESCRIPTOR: &str = "descriptor longer than MAX_DESCRIPTOR";
const ERROR_WITH_DESCRIPTOR: &str = "error status with a descriptor";
const ERROR_CODE_ZERO: &str = "error with code 0";
const PAYLOAD_TOO_LONG: &str = "payload longer than a u32 field";
const EXTRA_TOO_LONG: &str = "fields longer than a u16 field";

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes([
        b[at],
        b[at + 1],
        b[at + 2],
        b[at + 3],
        b[at + 4],
        b[at + 5],
        b[at + 6],
        b[at + 7],
    ])
}

fn kind_name_of(kind: u8) -> Option<&'static str> {
    Some(match kind {
        KIND_DATA => "data",
        KIND_URGENT => "urgent",
        KIND_READ_OFFER => "read_offer",
        KIND_WRITE_REQUEST => "write_request",
        KIND_WRITE_TARGET => "write_target",
        KIND_RDMA_DONE => "rdma_done",
        KIND_WRITE_DONE => "write_done",
        KIND_CREDIT => "credit",
        KIND_DISCONNECT => "disconnect",
        _ => return None,
    })
}

/// A status field for a result: 0, or the error's code as a bit pattern.
fn status_of(error: Option<WsaError>) -> u32 {
    error.map_or(0, |e| e.code() as u32)
}

impl Body<'_> {
    /// The kind's name: "data", "urgent", "read_offer", "write_request", "write_target",
    /// "rdma_done", "write_done", "credit" or "disconnect".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Body::Data(_) => "data",
            Body::Urgent(_) => "urgent",
            Body::ReadOffer { .. } => "read_offer",
            Body::WriteRequest { .. } => "write_request",
            Body::WriteTarget(_) => "write_target",
            Body::RdmaDone(_) => "rdma_done",
            Body::WriteDone(_) => "write_done",
            Body::Credit => "credit",
            Body::Disconnect => "disconnect",
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Body::Data(_) => KIND_DATA,
            Body::Urgent(_) => KIND_URGENT,
            Body::ReadOffer { .. } => KIND_READ_OFFER,
            Body::WriteRequest { .. } => KIND_WRITE_REQUEST,
            Body::WriteTarget(_) => KIND_WRITE_TARGET,
            Body::RdmaDone(_) => KIND_RDMA_DONE,
            Body::WriteDone(_) => KIND_WRITE_DONE,
            Body::Credit => KIND_CREDIT,
            Body::Disconnect => KIND_DISCONNECT,
        }
    }

    /// The bytes of the kind's fields (`extra_len`).
    fn extra_len(&self) -> usize {
        match self {
            Body::Data(_) | Body::Urgent(_) | Body::Credit | Body::Disconnect => 0,
            Body::ReadOffer { descriptor, .. } => TOTAL_SIZE.saturating_add(descriptor.len()),
            Body::WriteRequest { .. } => TOTAL_SIZE,
            Body::WriteTarget(Ok(descriptor)) => STATUS_SIZE.saturating_add(descriptor.len()),
            Body::WriteTarget(Err(_)) => STATUS_SIZE,
            Body::RdmaDone(_) | Body::WriteDone(_) => RDMA_DONE_SIZE,
        }
    }

    /// The payload (empty for the kinds that carry none).
    fn payload(&self) -> &[u8] {
        match self {
            Body::Data(p) | Body::Urgent(p) => p,
            Body::ReadOffer { inline, .. } | Body::WriteRequest { inline, .. } => inline,
            Body::WriteTarget(_)
            | Body::RdmaDone(_)
            | Body::WriteDone(_)
            | Body::Credit
            | Body::Disconnect => &[],
        }
    }

    /// The rules [`Message::decode`] checks, for a body about to be encoded.
    fn check(&self) -> Result<(), &'static str> {
        let below_total = |inline: &[u8], total: u64| {
            if u64::try_from(inline.len()).is_ok_and(|n| n < total) {
                Ok(())
            } else {
                Err(INLINE_NOT_BELOW_TOTAL)
            }
        };
        let descriptor_ok = |d: &[u8]| {
            if d.is_empty() {
                Err(EMPTY_DESCRIPTOR)
            } else if d.len() > MAX_DESCRIPTOR {
                Err(LONG_DESCRIPTOR)
            } else {
                Ok(())
            }
        };
        match *self {
            Body::Data(p) | Body::Urgent(p) if p.is_empty() => Err(EMPTY_PAYLOAD),
            Body::Data(_) | Body::Urgent(_) | Body::Credit | Body::Disconnect => Ok(()),
            Body::ReadOffer {
                total,
                descriptor,
                inline,
            } => {
                descriptor_ok(descriptor)?;
                below_total(inline, total)
            }
            Body::WriteRequest { total, inline } => below_total(inline, total),
            Body::WriteTarget(Ok(descriptor)) => descriptor_ok(descriptor),
            Body::WriteTarget(Err(e)) | Body::RdmaDone(Err(e)) | Body::WriteDone(Err(e))
                if e.code() == 0 =>
            {
                Err(ERROR_CODE_ZERO)
            }
            Body::WriteTarget(Err(_)) | Body::RdmaDone(_) | Body::WriteDone(_) => Ok(()),
        }
    }
}

impl<'a> Message<'a> {
    /// Bytes the encoding takes.
    pub fn encoded_len(&self) -> usize {
        HEADER_SIZE
            .saturating_add(self.body.extra_len())
            .saturating_add(self.body.payload().len())
    }

    /// Writes the message at the start of `out`; answers its length ([`encoded_len`]).
    ///
    /// Errors: a message that would not decode is [`WireError::Invalid`] (an empty data or
    /// urgent payload, a descriptor empty or longer than [`MAX_DESCRIPTOR`], an inline part not
    /// smaller than the total, a `WriteTarget`, `RdmaDone` or `WriteDone` error with code 0, a
    /// payload or fields longer than their `u32`/`u16` length fields), whatever the size of
    /// `out`; an `out` shorter than the message is [`WireError::BufferTooSmall`]. Nothing is
    /// written when an error is answered, and the bytes of `out` after the message are left as
    /// they were. The reserved fields are written as 0.
    ///
    /// [`encoded_len`]: Self::encoded_len
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let kind = self.body.kind_name();
        let invalid = |reason| WireError::Invalid { kind, reason };
        self.body.check().map_err(invalid)?;
        let extra_len =
            u16::try_from(self.body.extra_len()).map_err(|_| invalid(EXTRA_TOO_LONG))?;
        let payload = self.body.payload();
        let payload_len = u32::try_from(payload.len()).map_err(|_| invalid(PAYLOAD_TOO_LONG))?;
        let needed = self.encoded_len();
        let available = out.len();
        let Some(b) = out.get_mut(..needed) else {
            return Err(WireError::BufferTooSmall { needed, available });
        };

        b[0] = self.body.kind();
        b[1] = 0;
        b[2..4].copy_from_slice(&extra_len.to_le_bytes());
        b[4..8].copy_from_slice(&self.credits.to_le_bytes());
        b[8..12].copy_from_slice(&payload_len.to_le_bytes());
        b[12..16].fill(0);
        let (extra, rest) = b[HEADER_SIZE..].split_at_mut(usize::from(extra_len));
        match self.body {
            Body::Data(_) | Body::Urgent(_) | Body::Credit | Body::Disconnect => {}
            Body::ReadOffer {
                total, descriptor, ..
            } => {
                extra[..TOTAL_SIZE].copy_from_slice(&total.to_le_bytes());
                extra[TOTAL_SIZE..].copy_from_slice(descriptor);
            }
            Body::WriteRequest { total, .. } => extra.copy_from_slice(&total.to_le_bytes()),
            Body::WriteTarget(target) => {
                let (descriptor, error) = match target {
                    Ok(d) => (d, None),
                    Err(e) => (&[][..], Some(e)),
                };
                extra[..STATUS_SIZE].copy_from_slice(&status_of(error).to_le_bytes());
                extra[STATUS_SIZE..].copy_from_slice(descriptor);
            }
            Body::RdmaDone(done) | Body::WriteDone(done) => {
                let (transferred, error) = match done {
                    Ok(n) => (n, None),
                    Err(e) => (0, Some(e)),
                };
                extra[..STATUS_SIZE].copy_from_slice(&status_of(error).to_le_bytes());
                extra[STATUS_SIZE..].copy_from_slice(&transferred.to_le_bytes());
            }
        }
        rest.copy_from_slice(payload);
        Ok(needed)
    }

    /// Reads one message from exactly `bytes`. Never panics.
    ///
    /// The checks, in order: the header is there ([`Truncated`](WireError::Truncated)); the
    /// kind is known ([`UnknownKind`](WireError::UnknownKind)); `extra_len` is one the kind
    /// allows ([`BadExtraLength`](WireError::BadExtraLength)); `bytes` is exactly the length
    /// the header gives ([`Truncated`](WireError::Truncated),
    /// [`TrailingBytes`](WireError::TrailingBytes)); then the kind's own rules
    /// ([`Invalid`](WireError::Invalid)). The reserved fields are not looked at.
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, WireError> {
        let received = bytes.len();
        if received < HEADER_SIZE {
            return Err(WireError::Truncated {
                needed: HEADER_SIZE,
                available: received,
            });
        }
        let kind = bytes[0];
        let Some(name) = kind_name_of(kind) else {
            return Err(WireError::UnknownKind(kind));
        };
        let extra_len = usize::from(u16_at(bytes, 2));
        let credits = u32_at(bytes, 4);
        let payload_len = u32_at(bytes, 8);

        let extra_ok = match kind {
            KIND_READ_OFFER => (TOTAL_SIZE + 1..=TOTAL_SIZE + MAX_DESCRIPTOR).contains(&extra_len),
            KIND_WRITE_REQUEST => extra_len == TOTAL_SIZE,
            KIND_WRITE_TARGET => (STATUS_SIZE..=STATUS_SIZE + MAX_DESCRIPTOR).contains(&extra_len),
            KIND_RDMA_DONE | KIND_WRITE_DONE => extra_len == RDMA_DONE_SIZE,
            _ => extra_len == 0,
        };
        if !extra_ok {
            return Err(WireError::BadExtraLength {
                kind: name,
                extra_len,
            });
        }

        // On a 16-bit or 32-bit target the sum may not fit a usize: no buffer holds it either.
        let length = usize::try_from(payload_len)
            .ok()
            .and_then(|p| (HEADER_SIZE + extra_len).checked_add(p));
        let Some(length) = length else {
            return Err(WireError::Truncated {
                needed: usize::MAX,
                available: received,
            });
        };
        if received < length {
            return Err(WireError::Truncated {
                needed: length,
                available: received,
            });
        }
        if received > length {
            return Err(WireError::TrailingBytes { length, received });
        }

        let extra = &bytes[HEADER_SIZE..HEADER_SIZE + extra_len];
        let payload = &bytes[HEADER_SIZE + extra_len..];
        let invalid = |reason| WireError::Invalid { kind: name, reason };
        let no_payload = |body| {
            if payload.is_empty() {
                Ok(body)
            } else {
                Err(invalid(PAYLOAD_NOT_EXPECTED))
            }
        };
        let below_total = |total: u64| {
            if u64::from(payload_len) < total {
                Ok(total)
            } else {
                Err(invalid(INLINE_NOT_BELOW_TOTAL))
            }
        };
        let body = match kind {
            KIND_DATA | KIND_URGENT if payload.is_empty() => return Err(invalid(EMPTY_PAYLOAD)),
            KIND_DATA => Body::Data(payload),
            KIND_URGENT => Body::Urgent(payload),
            KIND_READ_OFFER => Body::ReadOffer {
                total: below_total(u64_at(extra, 0))?,
                descriptor: &extra[TOTAL_SIZE..],
                inline: payload,
            },
            KIND_WRITE_REQUEST => Body::WriteRequest {
                total: below_total(u64_at(extra, 0))?,
                inline: payload,
            },
            KIND_WRITE_TARGET => {
                let status = u32_at(extra, 0);
                let descriptor = &extra[STATUS_SIZE..];
                let target = match (status, descriptor.is_empty()) {
                    (0, true) => return Err(invalid(EMPTY_DESCRIPTOR)),
                    (0, false) => Ok(descriptor),
                    (_, true) => Err(WsaError::from_code(status as i32)),
                    (_, false) => return Err(invalid(ERROR_WITH_DESCRIPTOR)),
                };
                no_payload(Body::WriteTarget(target))?
            }
            KIND_RDMA_DONE | KIND_WRITE_DONE => {
                let status = u32_at(extra, 0);
                let done = match status {
                    0 => Ok(u64_at(extra, STATUS_SIZE)),
                    _ => Err(WsaError::from_code(status as i32)),
                };
                no_payload(if kind == KIND_RDMA_DONE {
                    Body::RdmaDone(done)
                } else {
                    Body::WriteDone(done)
                })?
            }
            KIND_CREDIT => no_payload(Body::Credit)?,
            KIND_DISCONNECT => no_payload(Body::Disconnect)?,
            _ => return Err(WireError::UnknownKind(kind)),
        };
        Ok(Message { credits, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `m`, checks the length and the header's common fields, decodes it back and
    /// answers the bytes.
    fn round_trip(m: Message<'_>) -> Vec<u8> {
        let mut buf = vec![0xa5; m.encoded_len() + 7];
        let n = m.encode(&mut buf).expect("a valid message encodes");
        assert_eq!(n, m.encoded_len());
        assert!(
            buf[n..].iter().all(|&b| b == 0xa5),
            "wrote past the message"
        );
        buf.truncate(n);
        assert_eq!(buf[1], 0, "reserved byte");
        assert_eq!(&buf[4..8], &m.credits.to_le_bytes(), "credits");
        assert_eq!(&buf[12..16], &[0; 4], "reserved field");
        assert_eq!(Message::decode(&buf), Ok(m), "round trip");
        buf
    }

    /// A header of `kind` with `extra` and `payload` after it (reserved fields 0).
    fn raw(kind: u8, credits: u32, extra: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut b = vec![kind, 0];
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(&credits.to_le_bytes());
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(extra);
        b.extend_from_slice(payload);
        b
    }

    fn invalid(kind: &'static str, reason: &'static str) -> WireError {
        WireError::Invalid { kind, reason }
    }

    #[test]
    fn sess_2_data_round_trips_byte_by_byte() {
        let m = Message {
            credits: 3,
            body: Body::Data(b"hello"),
        };
        let b = round_trip(m);
        assert_eq!(b, raw(1, 3, &[], b"hello"));
        assert_eq!(b.len(), HEADER_SIZE + 5);
        assert_eq!(&b[2..4], &[0, 0], "extra_len");
        assert_eq!(&b[8..12], &[5, 0, 0, 0], "payload_len");
        assert_eq!(m.body.kind_name(), "data");
    }

    #[test]
    fn sess_4_urgent_round_trips() {
        let m = Message {
            credits: 0,
            body: Body::Urgent(b"!"),
        };
        assert_eq!(round_trip(m), raw(2, 0, &[], b"!"));
        assert_eq!(m.body.kind_name(), "urgent");
    }

    #[test]
    fn sess_2_read_offer_round_trips() {
        let descriptor = [7u8; 24];
        let m = Message {
            credits: 1,
            body: Body::ReadOffer {
                total: 1 << 20,
                descriptor: &descriptor,
                inline: b"first part",
            },
        };
        let mut extra = (1u64 << 20).to_le_bytes().to_vec();
        extra.extend_from_slice(&descriptor);
        let b = round_trip(m);
        assert_eq!(b, raw(3, 1, &extra, b"first part"));
        assert_eq!(&b[2..4], &32u16.to_le_bytes(), "extra_len = 8 + 24");
        assert_eq!(m.body.kind_name(), "read_offer");
        // An empty first part, the longest descriptor, and total = 1.
        let long = [1u8; MAX_DESCRIPTOR];
        round_trip(Message {
            credits: u32::MAX,
            body: Body::ReadOffer {
                total: 1,
                descriptor: &long,
                inline: &[],
            },
        });
    }

    #[test]
    fn sess_2_write_request_round_trips() {
        let m = Message {
            credits: 9,
            body: Body::WriteRequest {
                total: u64::MAX,
                inline: b"abc",
            },
        };
        assert_eq!(round_trip(m), raw(4, 9, &u64::MAX.to_le_bytes(), b"abc"));
        assert_eq!(m.body.kind_name(), "write_request");
    }

    #[test]
    fn sess_2_write_target_round_trips_with_a_descriptor_or_an_error() {
        let m = Message {
            credits: 2,
            body: Body::WriteTarget(Ok(b"desc")),
        };
        assert_eq!(round_trip(m), raw(5, 2, b"\0\0\0\0desc", &[]));
        assert_eq!(m.body.kind_name(), "write_target");
        let m = Message {
            credits: 2,
            body: Body::WriteTarget(Err(WsaError::WSAENOBUFS)),
        };
        assert_eq!(round_trip(m), raw(5, 2, &10055u32.to_le_bytes(), &[]));
        // A negative code travels as its bit pattern.
        round_trip(Message {
            credits: 2,
            body: Body::WriteTarget(Err(WsaError::from_code(-1))),
        });
        let b = raw(5, 0, &u32::MAX.to_le_bytes(), &[]);
        assert_eq!(
            Message::decode(&b).map(|m| m.body),
            Ok(Body::WriteTarget(Err(WsaError::from_code(-1))))
        );
    }

    #[test]
    fn sess_2_rdma_done_round_trips_with_a_count_or_an_error() {
        let m = Message {
            credits: 0,
            body: Body::RdmaDone(Ok(123_456)),
        };
        let mut extra = 0u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&123_456u64.to_le_bytes());
        assert_eq!(round_trip(m), raw(6, 0, &extra, &[]));
        assert_eq!(m.body.kind_name(), "rdma_done");
        let m = Message {
            credits: 0,
            body: Body::RdmaDone(Err(WsaError::WSAECONNRESET)),
        };
        let mut extra = 10054u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&[0; 8]);
        assert_eq!(
            round_trip(m),
            raw(6, 0, &extra, &[]),
            "transferred sent as 0"
        );
        // On an error, `transferred` is ignored.
        let mut extra = 10054u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&77u64.to_le_bytes());
        assert_eq!(Message::decode(&raw(6, 0, &extra, &[])), Ok(m));
        // Zero bytes moved is a success like any other.
        round_trip(Message {
            credits: 0,
            body: Body::RdmaDone(Ok(0)),
        });
    }

    #[test]
    fn sess_2_write_done_round_trips_with_a_count_or_an_error() {
        let m = Message {
            credits: 4,
            body: Body::WriteDone(Ok(1 << 40)),
        };
        let mut extra = 0u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(round_trip(m), raw(9, 4, &extra, &[]));
        assert_eq!(m.body.kind_name(), "write_done");
        let m = Message {
            credits: 4,
            body: Body::WriteDone(Err(WsaError::WSAENOBUFS)),
        };
        let mut extra = 10055u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&[0; 8]);
        assert_eq!(
            round_trip(m),
            raw(9, 4, &extra, &[]),
            "transferred sent as 0"
        );
        let mut extra = 10055u32.to_le_bytes().to_vec();
        extra.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Message::decode(&raw(9, 4, &extra, &[])), Ok(m));
        // The same fields as rdma_done, a different kind: the two never decode as each other.
        let read = Message {
            credits: 4,
            body: Body::RdmaDone(Ok(1 << 40)),
        };
        let mut b = round_trip(read);
        b[0] = 9;
        assert_eq!(
            Message::decode(&b).map(|m| m.body),
            Ok(Body::WriteDone(Ok(1 << 40)))
        );
    }

    #[test]
    fn sess_1_credit_round_trips() {
        let m = Message {
            credits: 4096,
            body: Body::Credit,
        };
        assert_eq!(round_trip(m), raw(7, 4096, &[], &[]));
        assert_eq!(m.encoded_len(), HEADER_SIZE);
        assert_eq!(m.body.kind_name(), "credit");
    }

    #[test]
    fn sess_6_disconnect_round_trips() {
        let m = Message {
            credits: 5,
            body: Body::Disconnect,
        };
        assert_eq!(round_trip(m), raw(8, 5, &[], &[]));
        assert_eq!(m.body.kind_name(), "disconnect");
    }

    #[test]
    fn sess_1_reserved_fields_are_ignored_when_read() {
        let mut b = raw(1, 1, &[], b"x");
        b[1] = 0xff;
        b[12..16].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            Message::decode(&b),
            Ok(Message {
                credits: 1,
                body: Body::Data(b"x")
            })
        );
    }

    #[test]
    fn sess_1_a_short_message_is_truncated() {
        assert_eq!(
            Message::decode(&[]),
            Err(WireError::Truncated {
                needed: HEADER_SIZE,
                available: 0
            })
        );
        let b = raw(1, 0, &[], b"hello");
        assert_eq!(
            Message::decode(&b[..15]),
            Err(WireError::Truncated {
                needed: 16,
                available: 15
            })
        );
        assert_eq!(
            Message::decode(&b[..20]),
            Err(WireError::Truncated {
                needed: 21,
                available: 20
            })
        );
        let b = raw(6, 0, &[0; 12], &[]);
        assert_eq!(
            Message::decode(&b[..16]),
            Err(WireError::Truncated {
                needed: 28,
                available: 16
            })
        );
        // The largest lengths the header can give do not overflow.
        let mut b = raw(3, 0, &[0; 264], &[]);
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Message::decode(&b),
            Err(WireError::Truncated {
                needed: 16 + 264 + u32::MAX as usize,
                available: 280
            })
        );
    }

    #[test]
    fn sess_1_bytes_after_the_message_are_an_error() {
        let mut b = raw(7, 0, &[], &[]);
        b.push(0);
        assert_eq!(
            Message::decode(&b),
            Err(WireError::TrailingBytes {
                length: 16,
                received: 17
            })
        );
    }

    #[test]
    fn sess_1_an_unknown_kind_is_an_error() {
        for kind in [0, 10, 0x80, 0xff] {
            let mut b = raw(1, 0, &[], b"x");
            b[0] = kind;
            assert_eq!(Message::decode(&b), Err(WireError::UnknownKind(kind)));
        }
        // Even when the message is shorter than its header says.
        assert_eq!(
            Message::decode(&[0xff; 16]),
            Err(WireError::UnknownKind(0xff))
        );
    }

    #[test]
    fn sess_2_an_extra_len_the_kind_does_not_allow_is_an_error() {
        let bad = |kind: &'static str, extra_len| {
            Err::<Message<'_>, _>(WireError::BadExtraLength { kind, extra_len })
        };
        assert_eq!(Message::decode(&raw(1, 0, &[0], b"x")), bad("data", 1));
        assert_eq!(Message::decode(&raw(2, 0, &[0; 4], b"x")), bad("urgent", 4));
        // read_offer: total plus a descriptor of 1..=MAX_DESCRIPTOR bytes.
        assert_eq!(
            Message::decode(&raw(3, 0, &5u64.to_le_bytes(), &[])),
            bad("read_offer", 8)
        );
        assert_eq!(
            Message::decode(&raw(3, 0, &[1; 8 + MAX_DESCRIPTOR + 1], &[])),
            bad("read_offer", 265)
        );
        assert_eq!(
            Message::decode(&raw(4, 0, &[1; 9], &[])),
            bad("write_request", 9)
        );
        assert_eq!(
            Message::decode(&raw(5, 0, &[0; 3], &[])),
            bad("write_target", 3)
        );
        assert_eq!(
            Message::decode(&raw(5, 0, &[1; 4 + MAX_DESCRIPTOR + 1], &[])),
            bad("write_target", 261)
        );
        assert_eq!(
            Message::decode(&raw(6, 0, &[0; 8], &[])),
            bad("rdma_done", 8)
        );
        assert_eq!(
            Message::decode(&raw(9, 0, &[0; 13], &[])),
            bad("write_done", 13)
        );
        assert_eq!(Message::decode(&raw(7, 0, &[0; 2], &[])), bad("credit", 2));
        assert_eq!(
            Message::decode(&raw(8, 0, &[0; 16], &[])),
            bad("disconnect", 16)
        );
        // Checked before the length: the header alone is enough.
        let b = raw(4, 0, &[1; 9], &[]);
        assert_eq!(Message::decode(&b[..16]), bad("write_request", 9));
    }

    #[test]
    fn sess_2_fields_that_break_the_kinds_rules_are_invalid() {
        let cases: &[(Vec<u8>, WireError)] = &[
            (raw(1, 0, &[], &[]), invalid("data", EMPTY_PAYLOAD)),
            (raw(2, 0, &[], &[]), invalid("urgent", EMPTY_PAYLOAD)),
            (
                raw(3, 0, &[3, 0, 0, 0, 0, 0, 0, 0, 9], b"abc"),
                invalid("read_offer", INLINE_NOT_BELOW_TOTAL),
            ),
            (
                raw(3, 0, &[0, 0, 0, 0, 0, 0, 0, 0, 9], &[]),
                invalid("read_offer", INLINE_NOT_BELOW_TOTAL),
            ),
            (
                raw(4, 0, &2u64.to_le_bytes(), b"abc"),
                invalid("write_request", INLINE_NOT_BELOW_TOTAL),
            ),
            (
                raw(5, 0, &[0; 4], &[]),
                invalid("write_target", EMPTY_DESCRIPTOR),
            ),
            (
                raw(5, 0, &[0x47, 0x27, 0, 0, 1], &[]),
                invalid("write_target", ERROR_WITH_DESCRIPTOR),
            ),
            (
                raw(5, 0, &[0, 0, 0, 0, 1], b"p"),
                invalid("write_target", PAYLOAD_NOT_EXPECTED),
            ),
            (
                raw(6, 0, &[0; 12], b"p"),
                invalid("rdma_done", PAYLOAD_NOT_EXPECTED),
            ),
            (
                raw(9, 0, &[0; 12], b"p"),
                invalid("write_done", PAYLOAD_NOT_EXPECTED),
            ),
            (
                raw(7, 0, &[], b"p"),
                invalid("credit", PAYLOAD_NOT_EXPECTED),
            ),
            (
                raw(8, 0, &[], b"p"),
                invalid("disconnect", PAYLOAD_NOT_EXPECTED),
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(Message::decode(bytes).as_ref(), Err(error), "{bytes:?}");
        }
    }

    #[test]
    fn sess_2_encode_refuses_a_message_that_would_not_decode() {
        let long = [0u8; MAX_DESCRIPTOR + 1];
        let cases = [
            (Body::Data(&[]), invalid("data", EMPTY_PAYLOAD)),
            (Body::Urgent(&[]), invalid("urgent", EMPTY_PAYLOAD)),
            (
                Body::ReadOffer {
                    total: 10,
                    descriptor: &[],
                    inline: &[],
                },
                invalid("read_offer", EMPTY_DESCRIPTOR),
            ),
            (
                Body::ReadOffer {
                    total: 10,
                    descriptor: &long,
                    inline: &[],
                },
                invalid("read_offer", LONG_DESCRIPTOR),
            ),
            (
                Body::ReadOffer {
                    total: 3,
                    descriptor: b"d",
                    inline: b"abc",
                },
                invalid("read_offer", INLINE_NOT_BELOW_TOTAL),
            ),
            (
                Body::WriteRequest {
                    total: 0,
                    inline: &[],
                },
                invalid("write_request", INLINE_NOT_BELOW_TOTAL),
            ),
            (
                Body::WriteTarget(Ok(&[])),
                invalid("write_target", EMPTY_DESCRIPTOR),
            ),
            (
                Body::WriteTarget(Ok(&long)),
                invalid("write_target", LONG_DESCRIPTOR),
            ),
            (
                Body::WriteTarget(Err(WsaError::from_code(0))),
                invalid("write_target", ERROR_CODE_ZERO),
            ),
            (
                Body::RdmaDone(Err(WsaError::from_code(0))),
                invalid("rdma_done", ERROR_CODE_ZERO),
            ),
            (
                Body::WriteDone(Err(WsaError::from_code(0))),
                invalid("write_done", ERROR_CODE_ZERO),
            ),
        ];
        for (body, error) in cases {
            let mut buf = [0x5a; 600];
            let m = Message { credits: 1, body };
            assert_eq!(m.encode(&mut buf), Err(error.clone()), "{body:?}");
            assert!(buf.iter().all(|&b| b == 0x5a), "wrote on error");
            // Refused before the buffer is looked at.
            assert_eq!(m.encode(&mut []), Err(error), "{body:?}");
        }
    }

    #[test]
    fn sess_1_encode_into_a_buffer_too_small_is_an_error() {
        let m = Message {
            credits: 1,
            body: Body::Data(b"hello"),
        };
        let mut buf = [0x5a; 20];
        assert_eq!(
            m.encode(&mut buf),
            Err(WireError::BufferTooSmall {
                needed: 21,
                available: 20
            })
        );
        assert!(buf.iter().all(|&b| b == 0x5a), "wrote on error");
        let mut buf = [0x5a; 21];
        assert_eq!(m.encode(&mut buf), Ok(21));
    }

    #[test]
    fn sess_1_every_error_displays() {
        let errors = [
            WireError::Truncated {
                needed: 16,
                available: 3,
            },
            WireError::TrailingBytes {
                length: 16,
                received: 17,
            },
            WireError::UnknownKind(10),
            WireError::BadExtraLength {
                kind: "data",
                extra_len: 1,
            },
            invalid("data", EMPTY_PAYLOAD),
            WireError::BufferTooSmall {
                needed: 21,
                available: 20,
            },
        ];
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "control message truncated: 16 bytes needed, 3 received",
                "control message of 16 bytes received with 17 bytes",
                "unknown control message kind 10",
                "data control message with 1 bytes of fields",
                "invalid data control message: empty payload",
                "control message of 21 bytes does not fit in 20 bytes",
            ]
        );
    }
}
