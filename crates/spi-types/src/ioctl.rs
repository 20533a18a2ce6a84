//! Ioctl codes (`_WSAIO*` composition and the `SIO_*` codes the switch uses).

use std::fmt;

/// `IOCPARM_MASK`
pub const IOCPARM_MASK: u32 = 0x7f;
/// `IOC_VOID`: the code takes no parameters.
pub const IOC_VOID: u32 = 0x2000_0000;
/// `IOC_OUT`: the output buffer is valid.
pub const IOC_OUT: u32 = 0x4000_0000;
/// `IOC_IN`: the input buffer is valid.
pub const IOC_IN: u32 = 0x8000_0000;
/// `IOC_INOUT` = `IOC_IN | IOC_OUT`.
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;
/// `IOC_UNIX`: a BSD-style code.
pub const IOC_UNIX: u32 = 0x0000_0000;
/// `IOC_WS2`: a generic Winsock 2 code.
pub const IOC_WS2: u32 = 0x0800_0000;
/// `IOC_PROTOCOL`: an address-family specific code.
pub const IOC_PROTOCOL: u32 = 0x1000_0000;
/// `IOC_VENDOR`: a vendor-defined code.
pub const IOC_VENDOR: u32 = 0x1800_0000;

/// A `WSPIoctl` control code.
///
/// Bit 31 = input valid, bit 30 = output valid, bit 29 = no parameters, bits 28..27 = the type
/// (Unix, Winsock 2, protocol, vendor), bits 26..16 = vendor or address family, bits 15..0 = the
/// code.
///
/// ```
/// use spi_types::ioctl::{IoctlCode, IOC_WS2};
/// assert_eq!(IoctlCode::wsaiorw(IOC_WS2, 6), IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER);
/// assert_eq!(IoctlCode::SIO_ADDRESS_LIST_QUERY.value(), 0x4800_0016);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoctlCode(pub u32);

impl IoctlCode {
    /// `_WSAIO(x, y)`: no parameters.
    pub const fn wsaio(x: u32, y: u32) -> Self {
        IoctlCode(IOC_VOID | x | y)
    }
    /// `_WSAIOR(x, y)`: output only.
    pub const fn wsaior(x: u32, y: u32) -> Self {
        IoctlCode(IOC_OUT | x | y)
    }
    /// `_WSAIOW(x, y)`: input only.
    pub const fn wsaiow(x: u32, y: u32) -> Self {
        IoctlCode(IOC_IN | x | y)
    }
    /// `_WSAIORW(x, y)`: input and output.
    pub const fn wsaiorw(x: u32, y: u32) -> Self {
        IoctlCode(IOC_INOUT | x | y)
    }

    /// `SIO_GET_EXTENSION_FUNCTION_POINTER` = `_WSAIORW(IOC_WS2, 6)`.
    pub const SIO_GET_EXTENSION_FUNCTION_POINTER: IoctlCode = IoctlCode::wsaiorw(IOC_WS2, 6);
    /// `SIO_GET_QOS` = `_WSAIORW(IOC_WS2, 7)`.
    pub const SIO_GET_QOS: IoctlCode = IoctlCode::wsaiorw(IOC_WS2, 7);
    /// `SIO_GET_GROUP_QOS` = `_WSAIORW(IOC_WS2, 8)`.
    pub const SIO_GET_GROUP_QOS: IoctlCode = IoctlCode::wsaiorw(IOC_WS2, 8);
    /// `SIO_SET_QOS` = `_WSAIOW(IOC_WS2, 11)`.
    pub const SIO_SET_QOS: IoctlCode = IoctlCode::wsaiow(IOC_WS2, 11);
    /// `SIO_SET_GROUP_QOS` = `_WSAIOW(IOC_WS2, 12)`.
    pub const SIO_SET_GROUP_QOS: IoctlCode = IoctlCode::wsaiow(IOC_WS2, 12);
    /// `SIO_ADDRESS_LIST_QUERY` = `_WSAIOR(IOC_WS2, 22)`.
    pub const SIO_ADDRESS_LIST_QUERY: IoctlCode = IoctlCode::wsaior(IOC_WS2, 22);
    /// `SIO_ADDRESS_LIST_CHANGE` = `_WSAIO(IOC_WS2, 23)`.
    pub const SIO_ADDRESS_LIST_CHANGE: IoctlCode = IoctlCode::wsaio(IOC_WS2, 23);

    /// The numeric value.
    pub const fn value(self) -> u32 {
        self.0
    }
    /// Whether the input buffer is valid (bit 31).
    pub const fn has_input(self) -> bool {
        self.0 & IOC_IN != 0
    }
    /// Whether the output buffer is valid (bit 30).
    pub const fn has_output(self) -> bool {
        self.0 & IOC_OUT != 0
    }
    /// Whether the code takes no parameters (bit 29).
    pub const fn is_void(self) -> bool {
        self.0 & IOC_VOID != 0
    }
    /// The type field (bits 28..27): 0 Unix, 1 Winsock 2, 2 protocol, 3 vendor.
    pub const fn kind(self) -> u32 {
        (self.0 >> 27) & 0x3
    }
    /// The 11-bit vendor or address-family field (bits 26..16).
    pub const fn vendor(self) -> u32 {
        (self.0 >> 16) & 0x7ff
    }
    /// The code field (bits 15..0).
    pub const fn code(self) -> u32 {
        self.0 & 0xffff
    }

    /// The `SIO_*` name of a code this crate knows.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::SIO_GET_EXTENSION_FUNCTION_POINTER => "SIO_GET_EXTENSION_FUNCTION_POINTER",
            Self::SIO_GET_QOS => "SIO_GET_QOS",
            Self::SIO_GET_GROUP_QOS => "SIO_GET_GROUP_QOS",
            Self::SIO_SET_QOS => "SIO_SET_QOS",
            Self::SIO_SET_GROUP_QOS => "SIO_SET_GROUP_QOS",
            Self::SIO_ADDRESS_LIST_QUERY => "SIO_ADDRESS_LIST_QUERY",
            Self::SIO_ADDRESS_LIST_CHANGE => "SIO_ADDRESS_LIST_CHANGE",
            _ => return None,
        })
    }
}

impl fmt::Debug for IoctlCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "IoctlCode({:#010x})", self.0),
        }
    }
}

impl fmt::Display for IoctlCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
