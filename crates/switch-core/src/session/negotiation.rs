//! The session negotiation message (CONN-7, ACCEPT-3): the first message each side of a SAN
//! connection sends, once it has posted its receives. It is at most
//! [`MAX_NEGOTIATION_SIZE`] bytes and carries the number of receives posted, which is the
//! peer's initial credit (SESS-1), and the sizes the session needs later.
//!
//! ## Wire format (version 1, little-endian)
//!
//! ```text
//! offset size field
//!      0    4 magic          b"WSDN"
//!      4    2 version        1
//!      6    2 length         bytes of the message, header included: 28..=256
//!      8    2 flags          bit 0: reply (the accepting side's answer)
//!                            bit 1: the sender can RDMA-read (it has RdmaRead)
//!                            other bits: reserved, sent as 0, ignored when read
//!     10    2 reserved       sent as 0, ignored when read
//!     12    4 credits        receives posted for this connection: 1..=MAX_CREDITS
//!     16    4 buffer_size    bytes of each posted receive buffer: >= 64
//!     20    4 rdma_threshold sends above this size move by RDMA
//!     24    4 max_rdma_size  the largest single RDMA operation: >= rdma_threshold
//!     28  ... extension      (length - 28) bytes a later version may add; ignored
//! ```
//!
//! A reader takes what version 1 defines and skips the rest, so a later version can add fields
//! after offset 28 without breaking version-1 peers. A message with another major version is
//! refused. The decoder never panics: every failure is a [`NegotiationError`].

/// The largest negotiation message (ACCEPT-3).
pub const MAX_NEGOTIATION_SIZE: usize = 256;

/// The size of the version-1 header.
pub const NEGOTIATION_HEADER_SIZE: usize = 28;

/// The most receives one side may announce.
pub const MAX_CREDITS: u32 = 4096;

/// The smallest receive buffer a side may announce.
pub const MIN_BUFFER_SIZE: u32 = 64;

const MAGIC: [u8; 4] = *b"WSDN";
const VERSION: u16 = 1;
const FLAG_REPLY: u16 = 1 << 0;
const FLAG_RDMA_READ: u16 = 1 << 1;

/// One side's negotiation message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Negotiation {
    /// The accepting side's answer (ACCEPT-3) rather than the connecting side's opening.
    pub reply: bool,
    /// The sender has RdmaRead, so the receiver may ask it to read (SESS-2).
    pub rdma_read: bool,
    /// Receives the sender posted: the peer's initial credit.
    pub credits: u32,
    /// Bytes of each posted receive buffer.
    pub buffer_size: u32,
    /// Sends above this size move by RDMA.
    pub rdma_threshold: u32,
    /// The largest single RDMA operation.
    pub max_rdma_size: u32,
}

/// A negotiation message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// Fewer bytes than the header, or than the length field says.
    #[error("negotiation message truncated: {needed} bytes needed, {available} received")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes received.
        available: usize,
    },
    /// More than [`MAX_NEGOTIATION_SIZE`] bytes, by the length field or as received.
    #[error("negotiation message of {length} bytes, more than {MAX_NEGOTIATION_SIZE}")]
    TooLong {
        /// The length.
        length: usize,
    },
    /// The first four bytes are not the magic.
    #[error("not a negotiation message (magic {found:02x?})")]
    BadMagic {
        /// What was there.
        found: [u8; 4],
    },
    /// A version this switch does not speak.
    #[error("negotiation version {0} is not supported (this switch speaks 1)")]
    UnsupportedVersion(u16),
    /// A field outside its range.
    #[error("negotiation field {field} = {value} is outside {range}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u32,
        /// The range allowed.
        range: &'static str,
    },
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Negotiation {
    /// The message's bytes (exactly [`NEGOTIATION_HEADER_SIZE`]).
    pub fn encode(&self) -> [u8; NEGOTIATION_HEADER_SIZE] {
        let mut b = [0u8; NEGOTIATION_HEADER_SIZE];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&(NEGOTIATION_HEADER_SIZE as u16).to_le_bytes());
        let flags = if self.reply { FLAG_REPLY } else { 0 }
            | if self.rdma_read { FLAG_RDMA_READ } else { 0 };
        b[8..10].copy_from_slice(&flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.credits.to_le_bytes());
        b[16..20].copy_from_slice(&self.buffer_size.to_le_bytes());
        b[20..24].copy_from_slice(&self.rdma_threshold.to_le_bytes());
        b[24..28].copy_from_slice(&self.max_rdma_size.to_le_bytes());
        b
    }

    /// Reads a received message, checking every field.
    pub fn decode(b: &[u8]) -> Result<Self, NegotiationError> {
        if b.len() > MAX_NEGOTIATION_SIZE {
            return Err(NegotiationError::TooLong { length: b.len() });
        }
        if b.len() < NEGOTIATION_HEADER_SIZE {
            return Err(NegotiationError::Truncated {
                needed: NEGOTIATION_HEADER_SIZE,
                available: b.len(),
            });
        }
        let magic = [b[0], b[1], b[2], b[3]];
        if magic != MAGIC {
            return Err(NegotiationError::BadMagic { found: magic });
        }
        let version = u16_at(b, 4);
        if version != VERSION {
            return Err(NegotiationError::UnsupportedVersion(version));
        }
        let length = usize::from(u16_at(b, 6));
        if length > MAX_NEGOTIATION_SIZE {
            return Err(NegotiationError::TooLong { length });
        }
        if length < NEGOTIATION_HEADER_SIZE {
            return Err(NegotiationError::OutOfRange {
                field: "length",
                value: length as u32,
                range: "28..=256",
            });
        }
        if b.len() < length {
            return Err(NegotiationError::Truncated {
                needed: length,
                available: b.len(),
            });
        }
        let flags = u16_at(b, 8);
        let m = Negotiation {
            reply: flags & FLAG_REPLY != 0,
            rdma_read: flags & FLAG_RDMA_READ != 0,
            credits: u32_at(b, 12),
            buffer_size: u32_at(b, 16),
            rdma_threshold: u32_at(b, 20),
            max_rdma_size: u32_at(b, 24),
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks the fields' ranges (also done by [`decode`](Self::decode)).
    pub fn validate(&self) -> Result<(), NegotiationError> {
        let check = |field, value: u32, ok: bool, range| {
            if ok {
                Ok(())
            } else {
                Err(NegotiationError::OutOfRange {
                    field,
                    value,
                    range,
                })
            }
        };
        check(
            "credits",
            self.credits,
            (1..=MAX_CREDITS).contains(&self.credits),
            "1..=4096",
        )?;
        check(
            "buffer_size",
            self.buffer_size,
            self.buffer_size >= MIN_BUFFER_SIZE,
            "64 or more",
        )?;
        check(
            "max_rdma_size",
            self.max_rdma_size,
            self.max_rdma_size >= self.rdma_threshold,
            "rdma_threshold or more",
        )
    }
}
