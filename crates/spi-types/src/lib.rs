//! # spi-types: the Winsock SPI vocabulary
//!
//! Everything the Windows Sockets switch and a SAN service provider exchange, in safe Rust and
//! with the exact binary layouts of 64- and 32-bit Windows:
//!
//! | module | what |
//! |---|---|
//! | [`error`] | [`WsaError`]: every `WSAE*` code and the Win32-aliased `WSA_*` codes |
//! | [`flags`] | `XP1_*`, `PFL_*`, `FD_*`, `MEM_*`, `MSG_*`, `WSA_FLAG_*` as bitflags |
//! | [`ioctl`] | [`IoctlCode`] with the `_WSAIO*` composition and the `SIO_*` codes |
//! | [`consts`] | socket options, `CF_*`, address families, socket types, protocols |
//! | [`guid`] | [`Guid`] in the Windows byte order, [`SanExtension`] and its GUIDs |
//! | [`version`] | [`WinsockVersion`] (`MAKEWORD`) and [`WspData`] |
//! | [`protocol_info`] | [`ProtocolInfo`] (`WSAPROTOCOL_INFOW`, 628 bytes) |
//! | [`sockaddr`] | `SocketAddr` to and from `SOCKADDR_IN` / `SOCKADDR_IN6` |
//! | [`address_list`] | `SOCKET_ADDRESS_LIST` of `SIO_ADDRESS_LIST_QUERY`, both pointer widths |
//! | [`registration`] | the "TCP on SAN" registration value |
//! | [`events`] | [`WsaNetworkEvents`] |
//! | [`layout`] | sizes and offsets of every SPI structure |
//!
//! ## Decoding is defensive
//!
//! Buffers come from providers the switch does not control. Every decoder checks every length,
//! count and pointer against the buffer it was given and answers a [`DecodeError`] that says
//! what is wrong; none panics or reads out of bounds, whatever the bytes. Bytes a real
//! implementation leaves unwritten (structure padding, `sin_zero`) are ignored, not rejected.
//! Values this crate does not know (an unknown error code, unknown flag bits) are kept as they
//! came, so a record decodes and encodes back to the same bytes.
//!
//! ```
//! use spi_types::{ProtocolInfo, WinsockVersion, WsaError};
//! use spi_types::address_list::{decode_address_list, PointerWidth};
//!
//! // The record the switch passes to WSPStartupEx, and the version it asks for.
//! let tcp = ProtocolInfo::tcpip(1001);
//! assert_eq!(tcp.encode().unwrap().len(), 628);
//! assert_eq!(WinsockVersion::V2_2.to_word(), 0x0202);
//!
//! // A provider's address list with an impossible count is an error, not a panic.
//! let bad = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
//! assert!(decode_address_list(&bad, 0x1000, PointerWidth::Bits64).is_err());
//! assert_eq!("WSAEFAULT".parse::<WsaError>().unwrap().code(), 10014);
//! ```

pub mod address_list;
pub mod consts;
pub mod decode;
pub mod error;
pub mod events;
pub mod flags;
pub mod guid;
pub mod ioctl;
pub mod layout;
pub mod protocol_info;
pub mod registration;
pub mod sockaddr;
pub mod version;

pub use address_list::PointerWidth;
pub use consts::{AddressFamily, ConditionResult, Protocol, SocketType};
pub use decode::{DecodeError, EncodeError};
pub use error::WsaError;
pub use events::WsaNetworkEvents;
pub use flags::{MemoryAccess, MsgFlags, NetworkEvents, ProviderFlags, ServiceFlags, SocketFlags};
pub use guid::{Guid, SanExtension, TCPIP_PROVIDER_GUID, WINOFED_PROVIDER_GUID};
pub use ioctl::IoctlCode;
pub use protocol_info::{ProtocolChain, ProtocolInfo};
pub use registration::SanRegistration;
pub use version::{WinsockVersion, WspData};
