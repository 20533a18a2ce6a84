//! `SOCKET_ADDRESS_LIST`, the answer to `SIO_ADDRESS_LIST_QUERY`.
//!
//! The buffer holds a header (`iAddressCount`), `iAddressCount` `SOCKET_ADDRESS` entries
//! (`lpSockaddr` pointer and `iSockaddrLength`), and then the sockaddr structures the entries
//! point to. The pointers are absolute addresses inside the same buffer, so decoding needs the
//! buffer's base address, and the layout depends on the pointer width:
//!
//! | | 64-bit | 32-bit |
//! |---|---|---|
//! | `iAddressCount` | @0 (then 4 bytes of padding) | @0 |
//! | first entry | @8 | @4 |
//! | entry size (`lpSockaddr`, `iSockaddrLength`) | 16 (@0, @8, then padding) | 8 (@0, @4) |
//! | `sizeof(SOCKET_ADDRESS_LIST)` | 24 | 12 |
//!
//! The sockaddrs are packed right after the entries, as the WinOFED provider writes them, so for
//! IPv4 the size needed is 8 + 32·n bytes on 64-bit and 4 + 24·n on 32-bit, and never less than
//! `sizeof(SOCKET_ADDRESS_LIST)`. A buffer that is too small is answered with `WSAEFAULT` and the
//! size needed ([`EncodeError::BufferTooSmall`]).
//!
//! Decoding is defensive: every count, length and pointer is checked against the buffer, and
//! bytes the writer left unwritten (padding, `sin_zero`) are ignored.
//!
//! ```
//! use spi_types::address_list::{decode_address_list, encode_address_list, PointerWidth};
//! let addrs = vec!["10.1.2.3:0".parse().unwrap(), "[fd00::7]:0".parse().unwrap()];
//! let buf = encode_address_list(&addrs, 0x1000, PointerWidth::Bits64).unwrap();
//! assert_eq!(buf.len(), 8 + 2 * 16 + 16 + 28);
//! assert_eq!(decode_address_list(&buf, 0x1000, PointerWidth::Bits64).unwrap(), addrs);
//! ```

use std::net::SocketAddr;

use crate::decode::{DecodeError, EncodeError, i32_at, need, u32_at, u64_at};
use crate::sockaddr::{decode_sockaddr_in, sockaddr_len, write_sockaddr};

/// The pointer width of the Windows process whose buffer this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PointerWidth {
    /// 64-bit Windows (x64, arm64): 8-byte pointers.
    #[default]
    Bits64,
    /// 32-bit Windows (x86): 4-byte pointers.
    Bits32,
}

impl PointerWidth {
    /// Bytes in a pointer.
    pub const fn bytes(self) -> usize {
        match self {
            PointerWidth::Bits64 => 8,
            PointerWidth::Bits32 => 4,
        }
    }

    /// Offset of the first `SOCKET_ADDRESS` entry (the header's size with its padding).
    pub const fn header_size(self) -> usize {
        self.bytes()
    }

    /// Size of one `SOCKET_ADDRESS` entry.
    pub const fn entry_size(self) -> usize {
        2 * self.bytes()
    }

    /// `sizeof(SOCKET_ADDRESS_LIST)` (header plus one entry).
    pub const fn list_struct_size(self) -> usize {
        self.header_size() + self.entry_size()
    }
}

/// The bytes `SIO_ADDRESS_LIST_QUERY` needs to return `addrs`.
pub fn required_size(addrs: &[SocketAddr], width: PointerWidth) -> usize {
    let entries = width.header_size() + addrs.len() * width.entry_size();
    entries.max(width.list_struct_size()) + addrs.iter().map(sockaddr_len).sum::<usize>()
}

/// Writes the list into `out` as a provider would for a buffer at address `base`; returns the
/// bytes written. A buffer shorter than [`required_size`] is left untouched and answered with
/// [`EncodeError::BufferTooSmall`] carrying the size needed (the `WSAEFAULT` contract).
pub fn encode_address_list_into(
    addrs: &[SocketAddr],
    base: u64,
    width: PointerWidth,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let needed = required_size(addrs, width);
    if out.len() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let count = i32::try_from(addrs.len())
        .map_err(|_| EncodeError::TooManyAddresses { count: addrs.len() })?;
    let limit = match width {
        PointerWidth::Bits64 => u64::MAX,
        PointerWidth::Bits32 => u64::from(u32::MAX),
    };
    // The buffer's last byte (`needed` is never 0) must be addressable: a buffer may end
    // exactly at the top of the address space.
    if base
        .checked_add(needed as u64 - 1)
        .is_none_or(|last| last > limit)
    {
        return Err(EncodeError::PointerOverflow {
            base,
            bits: 8 * width.bytes() as u32,
        });
    }
    out[..needed].fill(0);
    out[0..4].copy_from_slice(&count.to_le_bytes());
    let mut data =
        (width.header_size() + addrs.len() * width.entry_size()).max(width.list_struct_size());
    for (i, addr) in addrs.iter().enumerate() {
        let entry = width.header_size() + i * width.entry_size();
        let ptr = base + data as u64;
        match width {
            PointerWidth::Bits64 => out[entry..entry + 8].copy_from_slice(&ptr.to_le_bytes()),
            PointerWidth::Bits32 => {
                out[entry..entry + 4].copy_from_slice(&(ptr as u32).to_le_bytes())
            }
        }
        let len = write_sockaddr(addr, &mut out[data..])?;
        let len_off = entry + width.bytes();
        out[len_off..len_off + 4].copy_from_slice(&(len as i32).to_le_bytes());
        data += len;
    }
    Ok(needed)
}

/// The list as a provider would write it into a buffer of exactly the size needed at `base`.
pub fn encode_address_list(
    addrs: &[SocketAddr],
    base: u64,
    width: PointerWidth,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![0u8; required_size(addrs, width)];
    encode_address_list_into(addrs, base, width, &mut out)?;
    Ok(out)
}

/// Reads the list in `buf`, a buffer that lived at address `base` (the entries' pointers point
/// into it). Entries come back in buffer order; ports are as written (providers write 0).
pub fn decode_address_list(
    buf: &[u8],
    base: u64,
    width: PointerWidth,
) -> Result<Vec<SocketAddr>, DecodeError> {
    need("SOCKET_ADDRESS_LIST header", buf, 4)?;
    let count = i32_at(buf, 0);
    if count < 0 {
        return Err(DecodeError::NegativeCount { count });
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let max = buf.len().saturating_sub(width.header_size()) / width.entry_size();
    if count as usize > max {
        return Err(DecodeError::CountTooLarge { count, max });
    }
    let mut out = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let entry = width.header_size() + index * width.entry_size();
        let pointer = match width {
            PointerWidth::Bits64 => u64_at(buf, entry),
            PointerWidth::Bits32 => u64::from(u32_at(buf, entry)),
        };
        let length = i32_at(buf, entry + width.bytes());
        if length < 0 {
            return Err(DecodeError::NegativeLength { index, length });
        }
        let length = length as usize;
        let outside = || DecodeError::PointerOutside {
            index,
            pointer,
            length,
            base,
            buffer_len: buf.len(),
        };
        let start = pointer.checked_sub(base).ok_or_else(outside)?;
        let end = start.checked_add(length as u64).ok_or_else(outside)?;
        if end > buf.len() as u64 {
            return Err(outside());
        }
        let sockaddr = &buf[start as usize..end as usize];
        out.push(decode_sockaddr_in(sockaddr, Some(index))?);
    }
    Ok(out)
}
