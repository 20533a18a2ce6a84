//! `WSAPROTOCOL_INFOW` decoding (`ProtocolInfo::decode`): never panics. A decoded record must
//! encode (every decoded value is encodable), the encoding must decode to the same record, and
//! it must equal the input's bytes up to and including `szProtocol`'s terminator (the encoder
//! zeroes what follows).

use spi_types::ProtocolInfo;

/// Offset of `szProtocol`.
const NAME_OFFSET: usize = 116;

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let Ok(info) = ProtocolInfo::decode(data) else {
        return;
    };
    let bytes = info
        .encode()
        .unwrap_or_else(|e| panic!("decoded record does not encode: {e}"));
    let again = ProtocolInfo::decode(&bytes)
        .unwrap_or_else(|e| panic!("encoded record does not decode: {e}"));
    assert_eq!(again, info, "protocol info round trip changed the record");
    let exact = NAME_OFFSET + 2 * (info.name.encode_utf16().count() + 1);
    assert_eq!(
        &bytes[..exact],
        &data[..exact],
        "encoding differs from the input"
    );
    assert!(
        bytes[exact..].iter().all(|&b| b == 0),
        "bytes after the name are not zero"
    );
}
