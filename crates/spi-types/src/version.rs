//! Winsock versions and `WSPDATA`.

use std::fmt;
use std::str::FromStr;

use crate::consts::WSPDESCRIPTION_LEN;
use crate::decode::{DecodeError, EncodeError, need, put_utf16, u16_at, utf16_at};

/// A Winsock version: major and minor.
///
/// The SPI passes it as a `WORD` built by `MAKEWORD(major, minor)`: the low byte is the major
/// version, the high byte the minor, so 2.2 is `0x0202` and 2.0 is `0x0002`.
///
/// ```
/// use spi_types::WinsockVersion;
/// assert_eq!(WinsockVersion::V2_2.to_word(), 0x0202);
/// assert_eq!(WinsockVersion::from_word(0x0002), WinsockVersion::new(2, 0));
/// assert_eq!("2.2".parse::<WinsockVersion>().unwrap(), WinsockVersion::V2_2);
/// assert!(WinsockVersion::new(2, 0) < WinsockVersion::V2_2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WinsockVersion {
    /// The major version (the word's low byte).
    pub major: u8,
    /// The minor version (the word's high byte).
    pub minor: u8,
}

impl WinsockVersion {
    /// Version 2.2, the one the switch requires.
    pub const V2_2: WinsockVersion = WinsockVersion::new(2, 2);

    /// The version `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        WinsockVersion { major, minor }
    }

    /// `MAKEWORD(major, minor)`.
    pub const fn to_word(self) -> u16 {
        self.major as u16 | ((self.minor as u16) << 8)
    }

    /// The version in a `WORD`.
    pub const fn from_word(w: u16) -> Self {
        WinsockVersion::new((w & 0xff) as u8, (w >> 8) as u8)
    }
}

impl fmt::Display for WinsockVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The text is not a version `major.minor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Winsock version (expected major.minor, each 0 to 255, such as 2.2)")]
pub struct VersionParseError(pub String);

impl FromStr for WinsockVersion {
    type Err = VersionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionParseError(s.to_owned());
        let (a, b) = s.split_once('.').ok_or_else(err)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(err());
        }
        Ok(WinsockVersion::new(
            a.parse().map_err(|_| err())?,
            b.parse().map_err(|_| err())?,
        ))
    }
}

/// `WSPDATA`: what a provider answers `WSPStartupEx` with (516 bytes).
///
/// | offset | field |
/// |---|---|
/// | 0 | `wVersion` (the version the switch is to use) |
/// | 2 | `wHighVersion` (the highest the provider supports) |
/// | 4 | `szDescription`: 256 UTF-16 units, NUL-terminated |
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WspData {
    /// `wVersion`.
    pub version: WinsockVersion,
    /// `wHighVersion`.
    pub high_version: WinsockVersion,
    /// `szDescription` (at most 255 UTF-16 units).
    pub description: String,
}

impl WspData {
    /// Size of the structure in bytes.
    pub const SIZE: usize = 516;

    /// The structure's bytes.
    pub fn encode(&self) -> Result<[u8; Self::SIZE], EncodeError> {
        let mut out = [0u8; Self::SIZE];
        out[0..2].copy_from_slice(&self.version.to_word().to_le_bytes());
        out[2..4].copy_from_slice(&self.high_version.to_word().to_le_bytes());
        put_utf16(
            &mut out[4..],
            &self.description,
            WSPDESCRIPTION_LEN + 1,
            "WSPDATA.szDescription",
        )?;
        Ok(out)
    }

    /// Reads the structure from the first 516 bytes of `b`.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        need("WSPDATA", b, Self::SIZE)?;
        Ok(WspData {
            version: WinsockVersion::from_word(u16_at(b, 0)),
            high_version: WinsockVersion::from_word(u16_at(b, 2)),
            description: utf16_at(b, 4, WSPDESCRIPTION_LEN + 1, "WSPDATA.szDescription")?,
        })
    }
}
