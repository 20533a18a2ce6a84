//! `SOCKADDR_IN` / `SOCKADDR_IN6` decoding (`decode_sockaddr`): never panics. A decoded
//! address encodes to the input's bytes (all but `sin_zero` for IPv4) and decodes back to
//! itself; writing it into a buffer one byte too small is an error, not a panic.

use spi_types::sockaddr::{decode_sockaddr, encode_sockaddr, sockaddr_len, write_sockaddr};
use std::net::SocketAddr;

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let Ok(addr) = decode_sockaddr(data) else {
        return;
    };
    let bytes = encode_sockaddr(&addr);
    assert_eq!(bytes.len(), sockaddr_len(&addr));
    let significant = match addr {
        SocketAddr::V4(_) => 8, // family, port, address; then sin_zero
        SocketAddr::V6(_) => 28,
    };
    assert_eq!(
        &bytes[..significant],
        &data[..significant],
        "encoding differs from the input"
    );
    assert_eq!(
        decode_sockaddr(&bytes).ok(),
        Some(addr),
        "sockaddr round trip changed it"
    );
    let mut short = vec![0u8; bytes.len() - 1];
    assert!(write_sockaddr(&addr, &mut short).is_err());
}
