//! Errors of the binary decoders and encoders, and the little-endian readers they share.

/// A buffer could not be decoded. Every variant names what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ends before a structure does.
    #[error("{what} is truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A buffer has the wrong size for a fixed-size value.
    #[error("{what} must be {expected} bytes, found {found}")]
    WrongLength {
        /// The value being read.
        what: &'static str,
        /// Its size.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// An address list's `iAddressCount` is negative.
    #[error("address count {count} is negative")]
    NegativeCount {
        /// The count read.
        count: i32,
    },
    /// An address list's `iAddressCount` needs more entries than the buffer holds.
    #[error("address count {count} cannot fit: the buffer holds at most {max} entries")]
    CountTooLarge {
        /// The count read.
        count: i32,
        /// The most entries the buffer can hold.
        max: usize,
    },
    /// An entry's `iSockaddrLength` is negative.
    #[error("address entry {index}: sockaddr length {length} is negative")]
    NegativeLength {
        /// The entry's index.
        index: usize,
        /// The length read.
        length: i32,
    },
    /// An entry's `lpSockaddr` (with its length) does not lie inside the buffer.
    #[error(
        "address entry {index}: sockaddr at {pointer:#x} ({length} bytes) lies outside the buffer \
         at {base:#x} ({buffer_len} bytes)"
    )]
    PointerOutside {
        /// The entry's index.
        index: usize,
        /// The pointer read.
        pointer: u64,
        /// The length read.
        length: usize,
        /// The buffer's base address.
        base: u64,
        /// The buffer's length.
        buffer_len: usize,
    },
    /// A sockaddr's length is too short for its family.
    #[error("{context}sockaddr of family {family} needs {needed} bytes, has {length}")]
    LengthTooShort {
        /// `"address entry N: "` inside a list, empty otherwise.
        context: String,
        /// The family read.
        family: i16,
        /// The length given.
        length: usize,
        /// The length the family needs.
        needed: usize,
    },
    /// A sockaddr's family is neither AF_INET (2) nor AF_INET6 (23).
    #[error("{context}unknown address family {family} (expected 2 for AF_INET or 23 for AF_INET6)")]
    UnknownFamily {
        /// `"address entry N: "` inside a list, empty otherwise.
        context: String,
        /// The family read.
        family: i16,
    },
    /// A protocol chain's `ChainLen` is outside 0..=7.
    #[error("protocol chain length {0} is outside 0..=7")]
    BadChainLength(i32),
    /// A fixed-size UTF-16 string has no NUL terminator.
    #[error("{field} has no NUL terminator within its {capacity} characters")]
    UnterminatedString {
        /// The field.
        field: &'static str,
        /// Its capacity in UTF-16 units.
        capacity: usize,
    },
    /// A fixed-size UTF-16 string is not valid UTF-16.
    #[error("{field} is not valid UTF-16")]
    InvalidUtf16 {
        /// The field.
        field: &'static str,
    },
}

/// A value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string is longer than its fixed-size field allows.
    #[error("{field} has {length} UTF-16 characters, at most {max} fit")]
    StringTooLong {
        /// The field.
        field: &'static str,
        /// Its length in UTF-16 units.
        length: usize,
        /// The most that fit before the terminator.
        max: usize,
    },
    /// A string holds a NUL character, which would end it early.
    #[error("{field} holds a NUL character")]
    EmbeddedNul {
        /// The field.
        field: &'static str,
    },
    /// A protocol chain's length is outside 0..=7.
    #[error("protocol chain length {0} is outside 0..=7")]
    BadChainLength(i32),
    /// The caller's buffer is too small; `needed` bytes are required. This is the Winsock
    /// "too small" contract: the call fails with `WSAEFAULT` and reports the size needed.
    #[error("buffer of {available} bytes is too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
    /// The address list has more entries than `iAddressCount` can state.
    #[error("{count} addresses do not fit an address list")]
    TooManyAddresses {
        /// The number of addresses.
        count: usize,
    },
    /// A pointer into the buffer does not fit the target's pointer width.
    #[error("base address {base:#x} plus the list does not fit a {bits}-bit pointer")]
    PointerOverflow {
        /// The base address.
        base: u64,
        /// The pointer width in bits.
        bits: u32,
    },
}

impl EncodeError {
    /// The Winsock error a provider answers for this failure (`WSAEFAULT` for a too-small buffer,
    /// `WSAEINVAL` otherwise).
    pub fn wsa_error(&self) -> crate::WsaError {
        match self {
            EncodeError::BufferTooSmall { .. } => crate::WsaError::WSAEFAULT,
            _ => crate::WsaError::WSAEINVAL,
        }
    }
}

pub(crate) fn need(what: &'static str, buf: &[u8], needed: usize) -> Result<(), DecodeError> {
    if buf.len() < needed {
        Err(DecodeError::Truncated {
            what,
            needed,
            available: buf.len(),
        })
    } else {
        Ok(())
    }
}

// The readers below are only called after `need` checked the length; they still never index
// out of bounds: a short slice reads as zero bytes.
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

pub(crate) fn i32_at(b: &[u8], off: usize) -> i32 {
    u32_at(b, off) as i32
}

pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Decodes a NUL-terminated UTF-16LE string of `capacity` units at `off`.
pub(crate) fn utf16_at(
    b: &[u8],
    off: usize,
    capacity: usize,
    field: &'static str,
) -> Result<String, DecodeError> {
    let units: Vec<u16> = (0..capacity).map(|i| u16_at(b, off + 2 * i)).collect();
    let end = units
        .iter()
        .position(|&u| u == 0)
        .ok_or(DecodeError::UnterminatedString { field, capacity })?;
    String::from_utf16(&units[..end]).map_err(|_| DecodeError::InvalidUtf16 { field })
}

/// Encodes `s` as NUL-terminated UTF-16LE into `out` (which is `capacity` units long, zeroed).
pub(crate) fn put_utf16(
    out: &mut [u8],
    s: &str,
    capacity: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    let units: Vec<u16> = s.encode_utf16().collect();
    if units.contains(&0) {
        return Err(EncodeError::EmbeddedNul { field });
    }
    if units.len() >= capacity {
        return Err(EncodeError::StringTooLong {
            field,
            length: units.len(),
            max: capacity - 1,
        });
    }
    for (i, u) in units.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    Ok(())
}
