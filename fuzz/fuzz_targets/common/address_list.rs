//! The check shared by `address_list_64` and `address_list_32`.
//!
//! Input: the buffer's base address (the first 8 bytes, little-endian), then the buffer.
//! `decode_address_list` must never panic. When it succeeds, the list re-encoded at the same
//! base must decode to the same addresses; the only encode error allowed is `PointerOverflow`,
//! and only when the re-encoded buffer really would not fit in the address space (the
//! re-encoded list can be longer than the input: entries may share one sockaddr, and an empty
//! list is still `sizeof(SOCKET_ADDRESS_LIST)` long).

use spi_types::EncodeError;
use spi_types::address_list::{
    PointerWidth, decode_address_list, encode_address_list, required_size,
};

pub fn check(data: &[u8], width: PointerWidth) {
    let Some((head, buf)) = data.split_first_chunk::<8>() else {
        return;
    };
    let base = u64::from_le_bytes(*head);
    let Ok(addrs) = decode_address_list(buf, base, width) else {
        return;
    };
    // Every entry lies inside the buffer.
    assert!(addrs.len() <= buf.len().saturating_sub(width.header_size()) / width.entry_size());
    let needed = required_size(&addrs, width);
    let limit = match width {
        PointerWidth::Bits64 => u64::MAX,
        PointerWidth::Bits32 => u64::from(u32::MAX),
    };
    match encode_address_list(&addrs, base, width) {
        Ok(bytes) => {
            assert_eq!(bytes.len(), needed, "encoded length is not required_size");
            let again = decode_address_list(&bytes, base, width)
                .unwrap_or_else(|e| panic!("re-encoded list does not decode: {e}"));
            assert_eq!(
                again, addrs,
                "address list round trip changed the addresses"
            );
        }
        Err(EncodeError::PointerOverflow { .. }) => {
            assert!(
                base.checked_add(needed as u64 - 1)
                    .is_none_or(|last| last > limit),
                "PointerOverflow for a buffer that fits: base {base:#x}, {needed} bytes"
            );
        }
        Err(e) => panic!("decoded list does not re-encode: {e}"),
    }
}
