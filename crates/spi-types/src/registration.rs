//! The SAN registration list: one `REG_BINARY` value per SAN provider under
//! `HKLM\System\CurrentControlSet\Services\Winsock\Parameters\TCP on SAN`, whose data is the
//! provider's GUID in its 16-byte in-memory form.

use crate::decode::DecodeError;
use crate::guid::Guid;

/// One value of the "TCP on SAN" key: its vendor-chosen name and its raw data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SanRegistration {
    /// The value's name (a trademark, a number or GUID text: any unique name).
    pub name: String,
    /// The value's `REG_BINARY` data.
    pub data: Vec<u8>,
}

impl SanRegistration {
    /// The registration of `guid` under `name`, as an installer writes it.
    pub fn new(name: impl Into<String>, guid: Guid) -> Self {
        SanRegistration {
            name: name.into(),
            data: guid.to_bytes().to_vec(),
        }
    }

    /// The provider GUID the value names; data that is not exactly 16 bytes is rejected.
    ///
    /// ```
    /// use spi_types::{Guid, SanRegistration, WINOFED_PROVIDER_GUID};
    /// let r = SanRegistration::new("OpenFabrics Alliance", WINOFED_PROVIDER_GUID);
    /// assert_eq!(r.data[..4], [0x4d, 0x65, 0x43, 0xc9]);
    /// assert_eq!(r.provider_guid().unwrap(), WINOFED_PROVIDER_GUID);
    /// assert!(SanRegistration { name: "x".into(), data: vec![1, 2, 3] }.provider_guid().is_err());
    /// ```
    pub fn provider_guid(&self) -> Result<Guid, DecodeError> {
        guid_from_reg_binary(&self.data)
    }
}

/// The provider GUID in a "TCP on SAN" value's data (exactly 16 bytes).
pub fn guid_from_reg_binary(data: &[u8]) -> Result<Guid, DecodeError> {
    Guid::from_slice(data).map_err(|_| DecodeError::WrongLength {
        what: "TCP on SAN registration value",
        expected: 16,
        found: data.len(),
    })
}
