//! The "TCP on SAN" registration value (`guid_from_reg_binary`, `SanRegistration::provider_guid`):
//! never panics; accepts exactly the 16-byte values, and the GUID it reads is written back as the
//! same 16 bytes.

use spi_types::SanRegistration;
use spi_types::registration::guid_from_reg_binary;

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let direct = guid_from_reg_binary(data);
    let value = SanRegistration {
        name: "fuzz".to_owned(),
        data: data.to_vec(),
    };
    assert_eq!(value.provider_guid().ok(), direct.as_ref().ok().copied());
    match direct {
        Ok(guid) => {
            assert_eq!(data.len(), 16);
            assert_eq!(guid.to_bytes().as_slice(), data, "GUID bytes changed");
            assert_eq!(SanRegistration::new("fuzz", guid), value);
        }
        Err(_) => assert_ne!(data.len(), 16, "a 16-byte value was rejected"),
    }
}
