//! `SOCKADDR_IN` and `SOCKADDR_IN6` in the Windows layout.
//!
//! | struct | size | layout |
//! |---|---|---|
//! | `SOCKADDR_IN` | 16 | family (i16, host order) @0, port (network order) @2, address @4, `sin_zero` @8 |
//! | `SOCKADDR_IN6` | 28 | family @0 (23), port @2, flow info (u32) @4, address @8, scope id (u32) @24 |
//!
//! `sin_zero` is ignored when decoding (real buffers leave it unwritten) and written as zeros.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::consts::AddressFamily;
use crate::decode::{DecodeError, EncodeError, need, u16_at, u32_at};

/// Size of `SOCKADDR_IN`.
pub const SOCKADDR_IN_SIZE: usize = 16;
/// Size of `SOCKADDR_IN6`.
pub const SOCKADDR_IN6_SIZE: usize = 28;
/// Size of a generic `SOCKADDR`.
pub const SOCKADDR_SIZE: usize = 16;
/// Size of `SOCKADDR_STORAGE`.
pub const SOCKADDR_STORAGE_SIZE: usize = 128;

/// The size of the Windows sockaddr for `addr` (16 or 28).
pub fn sockaddr_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => SOCKADDR_IN_SIZE,
        SocketAddr::V6(_) => SOCKADDR_IN6_SIZE,
    }
}

/// Writes the Windows sockaddr for `addr` into the start of `out`; returns the bytes written,
/// or [`EncodeError::BufferTooSmall`] when `out` is shorter than [`sockaddr_len`].
pub fn write_sockaddr(addr: &SocketAddr, out: &mut [u8]) -> Result<usize, EncodeError> {
    let needed = sockaddr_len(addr);
    if out.len() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    Ok(match addr {
        SocketAddr::V4(a) => {
            let o = &mut out[..SOCKADDR_IN_SIZE];
            o[0..2].copy_from_slice(&(AddressFamily::INET.0 as i16).to_le_bytes());
            o[2..4].copy_from_slice(&a.port().to_be_bytes());
            o[4..8].copy_from_slice(&a.ip().octets());
            o[8..16].fill(0);
            SOCKADDR_IN_SIZE
        }
        SocketAddr::V6(a) => {
            let o = &mut out[..SOCKADDR_IN6_SIZE];
            o[0..2].copy_from_slice(&(AddressFamily::INET6.0 as i16).to_le_bytes());
            o[2..4].copy_from_slice(&a.port().to_be_bytes());
            o[4..8].copy_from_slice(&a.flowinfo().to_le_bytes());
            o[8..24].copy_from_slice(&a.ip().octets());
            o[24..28].copy_from_slice(&a.scope_id().to_le_bytes());
            SOCKADDR_IN6_SIZE
        }
    })
}

/// The Windows sockaddr for `addr` (16 or 28 bytes).
///
/// ```
/// use spi_types::sockaddr::{decode_sockaddr, encode_sockaddr};
/// let a = "192.168.77.9:445".parse().unwrap();
/// let b = encode_sockaddr(&a);
/// assert_eq!(&b[..8], &[2, 0, 0x01, 0xbd, 192, 168, 77, 9]);
/// assert_eq!(decode_sockaddr(&b).unwrap(), a);
/// ```
pub fn encode_sockaddr(addr: &SocketAddr) -> Vec<u8> {
    let mut v = vec![0u8; sockaddr_len(addr)];
    // The buffer has exactly the size the family needs.
    let _ = write_sockaddr(addr, &mut v);
    v
}

/// Reads a Windows sockaddr from `b`, whose length is the sockaddr's length as given by its
/// owner (`namelen`, `iSockaddrLength`). Bytes past the family's size are ignored.
pub fn decode_sockaddr(b: &[u8]) -> Result<SocketAddr, DecodeError> {
    decode_sockaddr_in(b, None)
}

/// Decodes a sockaddr; `entry` is its index in an address list, named in errors.
pub(crate) fn decode_sockaddr_in(
    b: &[u8],
    entry: Option<usize>,
) -> Result<SocketAddr, DecodeError> {
    let context = || entry.map_or_else(String::new, |i| format!("address entry {i}: "));
    need("sockaddr family", b, 2)?;
    let family = u16_at(b, 0) as i16;
    let needed = match i32::from(family) {
        f if f == AddressFamily::INET.0 => SOCKADDR_IN_SIZE,
        f if f == AddressFamily::INET6.0 => SOCKADDR_IN6_SIZE,
        _ => {
            return Err(DecodeError::UnknownFamily {
                context: context(),
                family,
            });
        }
    };
    if b.len() < needed {
        return Err(DecodeError::LengthTooShort {
            context: context(),
            family,
            length: b.len(),
            needed,
        });
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    Ok(if needed == SOCKADDR_IN_SIZE {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(b[4], b[5], b[6], b[7]),
            port,
        ))
    } else {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&b[8..24]);
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            u32_at(b, 4),
            u32_at(b, 24),
        ))
    })
}
