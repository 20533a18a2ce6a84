//! GUIDs in the Windows in-memory layout, and the SAN extension functions identified by them.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::decode::DecodeError;

/// A Windows GUID.
///
/// In memory a GUID is `Data1` (u32), `Data2` (u16), `Data3` (u16) in little-endian order,
/// then `Data4` (8 bytes) as they are: `{C0B422F5-F58C-11D1-AD6C-00C04FA34A2D}` is stored as
/// `f5 22 b4 c0 8c f5 d1 11 ad 6c 00 c0 4f a3 4a 2d`. [`Guid::to_bytes`] and
/// [`Guid::from_bytes`] convert to and from that layout; `Display` gives the brace form in
/// upper case, and parsing accepts it with or without braces.
///
/// ```
/// use spi_types::Guid;
/// let g: Guid = "{C0B422F5-F58C-11D1-AD6C-00C04FA34A2D}".parse().unwrap();
/// assert_eq!(g.to_bytes()[..4], [0xf5, 0x22, 0xb4, 0xc0]);
/// assert_eq!(Guid::from_bytes(g.to_bytes()), g);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub Uuid);

impl Guid {
    /// The GUID whose Windows in-memory bytes are `b`.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        Guid(Uuid::from_bytes_le(b))
    }

    /// The GUID in a slice that must be exactly 16 bytes long.
    pub fn from_slice(b: &[u8]) -> Result<Self, DecodeError> {
        let arr: [u8; 16] = b.try_into().map_err(|_| DecodeError::WrongLength {
            what: "GUID",
            expected: 16,
            found: b.len(),
        })?;
        Ok(Guid::from_bytes(arr))
    }

    /// The Windows in-memory bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_bytes_le()
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for Guid {
    fn from(u: Uuid) -> Self {
        Guid(u)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.0.hyphenated().to_string().to_uppercase())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a GUID (expected the form {{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}})")]
pub struct GuidParseError(pub String);

impl FromStr for Guid {
    type Err = GuidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let inner = match (t.strip_prefix('{'), t.ends_with('}')) {
            (Some(rest), true) => &rest[..rest.len() - 1],
            (None, false) => t,
            _ => return Err(GuidParseError(s.to_owned())),
        };
        // Only the hyphenated 36-character form, as Windows writes it.
        if inner.len() != 36 {
            return Err(GuidParseError(s.to_owned()));
        }
        Uuid::parse_str(inner)
            .map(Guid)
            .map_err(|_| GuidParseError(s.to_owned()))
    }
}

/// The provider GUID of the TCP/IP provider's catalog entry, `{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}`.
pub const TCPIP_PROVIDER_GUID: Guid = Guid(Uuid::from_u128(0xE70F1AA0_AB8B_11CF_8CA3_00805F48A192));

/// The WinOFED InfiniBand WSD provider's GUID, `{C943654D-2C84-4DB7-AF3E-FDF1C5322458}`.
pub const WINOFED_PROVIDER_GUID: Guid =
    Guid(Uuid::from_u128(0xC943654D_2C84_4DB7_AF3E_FDF1C5322458));

/// A SAN extension function, obtained from a provider with `WSPIoctl` and
/// `SIO_GET_EXTENSION_FUNCTION_POINTER` plus its GUID.
///
/// Five are mandatory; [`RdmaRead`](SanExtension::RdmaRead) and
/// [`MemoryRegistrationCacheCallback`](SanExtension::MemoryRegistrationCacheCallback) are
/// optional, and a provider that lacks one answers `WSAEOPNOTSUPP`.
///
/// ```
/// use spi_types::SanExtension;
/// let bytes = SanExtension::RdmaRead.guid().to_bytes();
/// assert_eq!(SanExtension::from_guid_bytes(&bytes), Some(SanExtension::RdmaRead));
/// assert!(!SanExtension::RdmaRead.is_mandatory());
/// assert_eq!(SanExtension::RdmaRead.name(), "rdma_read");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SanExtension {
    /// `WSPRegisterMemory` (`WSAID_REGISTERMEMORY`).
    RegisterMemory,
    /// `WSPDeregisterMemory` (`WSAID_DEREGISTERMEMORY`).
    DeregisterMemory,
    /// `WSPRegisterRdmaMemory` (`WSAID_REGISTERRDMAMEMORY`).
    RegisterRdmaMemory,
    /// `WSPDeregisterRdmaMemory` (`WSAID_DEREGISTERRDMAMEMORY`).
    DeregisterRdmaMemory,
    /// `WSPRdmaWrite` (`WSAID_RDMAWRITE`).
    RdmaWrite,
    /// `WSPRdmaRead` (`WSAID_RDMAREAD`), optional.
    RdmaRead,
    /// `WSPMemoryRegistrationCacheCallback` (`WSAID_MEMORYREGISTRATIONCACHECALLBACK`), optional.
    MemoryRegistrationCacheCallback,
}

impl SanExtension {
    /// All seven, in the order the switch asks for them.
    pub const ALL: [SanExtension; 7] = [
        SanExtension::RegisterMemory,
        SanExtension::DeregisterMemory,
        SanExtension::RegisterRdmaMemory,
        SanExtension::DeregisterRdmaMemory,
        SanExtension::RdmaWrite,
        SanExtension::RdmaRead,
        SanExtension::MemoryRegistrationCacheCallback,
    ];

    /// Its position in [`ALL`](Self::ALL): a dense index for tables keyed by extension.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The extension's GUID.
    pub const fn guid(self) -> Guid {
        Guid(Uuid::from_u128(match self {
            SanExtension::RegisterMemory => 0xC0B422F5_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::DeregisterMemory => 0xC0B422F6_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::RegisterRdmaMemory => 0xC0B422F7_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::DeregisterRdmaMemory => 0xC0B422F8_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::RdmaWrite => 0xC0B422F9_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::RdmaRead => 0xC0B422FA_F58C_11D1_AD6C_00C04FA34A2D,
            SanExtension::MemoryRegistrationCacheCallback => 0xE5DA4AF8_D824_48CD_A799_6337A98ED2AF,
        }))
    }

    /// Whether a SAN provider must implement it.
    pub const fn is_mandatory(self) -> bool {
        !matches!(
            self,
            SanExtension::RdmaRead | SanExtension::MemoryRegistrationCacheCallback
        )
    }

    /// The name used in reports and scenario files (`"register_memory"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            SanExtension::RegisterMemory => "register_memory",
            SanExtension::DeregisterMemory => "deregister_memory",
            SanExtension::RegisterRdmaMemory => "register_rdma_memory",
            SanExtension::DeregisterRdmaMemory => "deregister_rdma_memory",
            SanExtension::RdmaWrite => "rdma_write",
            SanExtension::RdmaRead => "rdma_read",
            SanExtension::MemoryRegistrationCacheCallback => "memory_registration_cache_callback",
        }
    }

    /// The header symbol of its GUID (`"WSAID_REGISTERMEMORY"`, ...).
    pub const fn symbol(self) -> &'static str {
        match self {
            SanExtension::RegisterMemory => "WSAID_REGISTERMEMORY",
            SanExtension::DeregisterMemory => "WSAID_DEREGISTERMEMORY",
            SanExtension::RegisterRdmaMemory => "WSAID_REGISTERRDMAMEMORY",
            SanExtension::DeregisterRdmaMemory => "WSAID_DEREGISTERRDMAMEMORY",
            SanExtension::RdmaWrite => "WSAID_RDMAWRITE",
            SanExtension::RdmaRead => "WSAID_RDMAREAD",
            SanExtension::MemoryRegistrationCacheCallback => {
                "WSAID_MEMORYREGISTRATIONCACHECALLBACK"
            }
        }
    }

    /// The extension whose GUID is `g`.
    pub fn from_guid(g: Guid) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.guid() == g)
    }

    /// The extension whose GUID's in-memory bytes are `b` (an ioctl's input buffer: exactly 16
    /// bytes; any other length is no extension).
    pub fn from_guid_bytes(b: &[u8]) -> Option<Self> {
        Guid::from_slice(b).ok().and_then(Self::from_guid)
    }

    /// The extension with this report name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for SanExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
