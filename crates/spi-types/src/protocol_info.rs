//! `WSAPROTOCOL_INFOW`: a catalog entry's protocol-info record (628 bytes, the same on 32- and
//! 64-bit Windows).
//!
//! | offset | field | offset | field |
//! |---|---|---|---|
//! | 0 | `dwServiceFlags1` | 80 | `iMaxSockAddr` |
//! | 4..16 | `dwServiceFlags2..4` | 84 | `iMinSockAddr` |
//! | 16 | `dwProviderFlags` | 88 | `iSocketType` |
//! | 20 | `ProviderId` (GUID) | 92 | `iProtocol` |
//! | 36 | `dwCatalogEntryId` | 96 | `iProtocolMaxOffset` |
//! | 40 | `ProtocolChain` (32 bytes) | 100 | `iNetworkByteOrder` |
//! | 72 | `iVersion` | 104 | `iSecurityScheme` |
//! | 76 | `iAddressFamily` | 108 | `dwMessageSize` |
//! | | | 112 | `dwProviderReserved` |
//! | | | 116 | `szProtocol`: 256 UTF-16 units |

use crate::consts::{
    AddressFamily, BASE_PROTOCOL, BIGENDIAN, MAX_PROTOCOL_CHAIN, Protocol, SECURITY_PROTOCOL_NONE,
    SocketType, WSAPROTOCOL_LEN,
};
use crate::decode::{DecodeError, EncodeError, i32_at, need, put_utf16, u32_at, utf16_at};
use crate::flags::{ProviderFlags, ServiceFlags};
use crate::guid::{Guid, TCPIP_PROVIDER_GUID};

/// `WSAPROTOCOLCHAIN` (32 bytes): `ChainLen` (0 layered, 1 base, more: a chain listed top layer
/// first) and seven catalog entry ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProtocolChain {
    /// `ChainLen`.
    pub len: i32,
    /// `ChainEntries`.
    pub entries: [u32; MAX_PROTOCOL_CHAIN],
}

impl ProtocolChain {
    /// Size in bytes.
    pub const SIZE: usize = 32;

    /// The chain of a base provider (`ChainLen` = 1, no entries).
    pub const fn base() -> Self {
        ProtocolChain {
            len: BASE_PROTOCOL,
            entries: [0; MAX_PROTOCOL_CHAIN],
        }
    }
}

/// `WSAPROTOCOL_INFOW`.
///
/// Decoding and encoding are exact: unknown flag bits and reserved fields are kept, so a decoded
/// record encodes back to the same 628 bytes (the bytes after `szProtocol`'s terminator are
/// written as zeros, as Winsock writes them).
///
/// ```
/// use spi_types::ProtocolInfo;
/// let tcp = ProtocolInfo::tcpip(1001);
/// let bytes = tcp.encode().unwrap();
/// assert_eq!(bytes.len(), 628);
/// assert_eq!(ProtocolInfo::decode(&bytes).unwrap(), tcp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProtocolInfo {
    /// `dwServiceFlags1` (`XP1_*`).
    pub service_flags1: ServiceFlags,
    /// `dwServiceFlags2` (reserved).
    pub service_flags2: u32,
    /// `dwServiceFlags3` (reserved).
    pub service_flags3: u32,
    /// `dwServiceFlags4` (reserved).
    pub service_flags4: u32,
    /// `dwProviderFlags` (`PFL_*`).
    pub provider_flags: ProviderFlags,
    /// `ProviderId`: the provider's GUID.
    pub provider_id: Guid,
    /// `dwCatalogEntryId`.
    pub catalog_entry_id: u32,
    /// `ProtocolChain`.
    pub protocol_chain: ProtocolChain,
    /// `iVersion`.
    pub version: i32,
    /// `iAddressFamily`.
    pub address_family: AddressFamily,
    /// `iMaxSockAddr`.
    pub max_sockaddr: i32,
    /// `iMinSockAddr`.
    pub min_sockaddr: i32,
    /// `iSocketType`.
    pub socket_type: SocketType,
    /// `iProtocol`.
    pub protocol: Protocol,
    /// `iProtocolMaxOffset`.
    pub protocol_max_offset: i32,
    /// `iNetworkByteOrder`.
    pub network_byte_order: i32,
    /// `iSecurityScheme`.
    pub security_scheme: i32,
    /// `dwMessageSize`.
    pub message_size: u32,
    /// `dwProviderReserved`.
    pub provider_reserved: u32,
    /// `szProtocol` (at most 255 UTF-16 units).
    pub name: String,
}

impl ProtocolInfo {
    /// Size in bytes.
    pub const SIZE: usize = 628;

    /// The TCP/IP provider's record as Winsock reports it, the record the switch passes to every
    /// SAN provider's `WSPStartupEx`: provider `{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}`, service
    /// flags 0x20066 (guaranteed delivery and order, graceful close, expedited data, IFS
    /// handles), `PFL_MATCHES_PROTOCOL_ZERO`, a base chain, version 2, AF_INET, 16-byte
    /// sockaddrs, SOCK_STREAM, IPPROTO_TCP, stream message size, name "TCP/IP".
    pub fn tcpip(catalog_entry_id: u32) -> Self {
        ProtocolInfo {
            service_flags1: ServiceFlags::GUARANTEED_DELIVERY
                | ServiceFlags::GUARANTEED_ORDER
                | ServiceFlags::GRACEFUL_CLOSE
                | ServiceFlags::EXPEDITED_DATA
                | ServiceFlags::IFS_HANDLES,
            service_flags2: 0,
            service_flags3: 0,
            service_flags4: 0,
            provider_flags: ProviderFlags::MATCHES_PROTOCOL_ZERO,
            provider_id: TCPIP_PROVIDER_GUID,
            catalog_entry_id,
            protocol_chain: ProtocolChain::base(),
            version: 2,
            address_family: AddressFamily::INET,
            max_sockaddr: 16,
            min_sockaddr: 16,
            socket_type: SocketType::STREAM,
            protocol: Protocol::TCP,
            protocol_max_offset: 0,
            network_byte_order: BIGENDIAN,
            security_scheme: SECURITY_PROTOCOL_NONE,
            message_size: 0,
            provider_reserved: 0,
            name: "TCP/IP".to_owned(),
        }
    }

    /// A SAN provider's record as an installer writes it (the WinOFED values: message-oriented,
    /// guaranteed delivery and order, graceful close; `PFL_HIDDEN`; AF_INET stream over TCP).
    pub fn san_provider(provider_id: Guid, name: &str) -> Self {
        ProtocolInfo {
            service_flags1: ServiceFlags::GUARANTEED_DELIVERY
                | ServiceFlags::GUARANTEED_ORDER
                | ServiceFlags::MESSAGE_ORIENTED
                | ServiceFlags::GRACEFUL_CLOSE,
            provider_flags: ProviderFlags::HIDDEN,
            provider_id,
            catalog_entry_id: 0,
            message_size: u32::MAX,
            name: name.to_owned(),
            ..ProtocolInfo::tcpip(0)
        }
    }

    /// The record's 628 bytes.
    pub fn encode(&self) -> Result<[u8; Self::SIZE], EncodeError> {
        if !(0..=MAX_PROTOCOL_CHAIN as i32).contains(&self.protocol_chain.len) {
            return Err(EncodeError::BadChainLength(self.protocol_chain.len));
        }
        let mut b = [0u8; Self::SIZE];
        let mut put = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        put(0, self.service_flags1.bits());
        put(4, self.service_flags2);
        put(8, self.service_flags3);
        put(12, self.service_flags4);
        put(16, self.provider_flags.bits());
        put(36, self.catalog_entry_id);
        put(40, self.protocol_chain.len as u32);
        for (i, e) in self.protocol_chain.entries.iter().enumerate() {
            put(44 + 4 * i, *e);
        }
        put(72, self.version as u32);
        put(76, self.address_family.0 as u32);
        put(80, self.max_sockaddr as u32);
        put(84, self.min_sockaddr as u32);
        put(88, self.socket_type.0 as u32);
        put(92, self.protocol.0 as u32);
        put(96, self.protocol_max_offset as u32);
        put(100, self.network_byte_order as u32);
        put(104, self.security_scheme as u32);
        put(108, self.message_size);
        put(112, self.provider_reserved);
        b[20..36].copy_from_slice(&self.provider_id.to_bytes());
        put_utf16(
            &mut b[116..],
            &self.name,
            WSAPROTOCOL_LEN + 1,
            "WSAPROTOCOL_INFOW.szProtocol",
        )?;
        Ok(b)
    }

    /// Reads a record from the first 628 bytes of `b`.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        need("WSAPROTOCOL_INFOW", b, Self::SIZE)?;
        let chain_len = i32_at(b, 40);
        if !(0..=MAX_PROTOCOL_CHAIN as i32).contains(&chain_len) {
            return Err(DecodeError::BadChainLength(chain_len));
        }
        let mut entries = [0u32; MAX_PROTOCOL_CHAIN];
        for (i, e) in entries.iter_mut().enumerate() {
            *e = u32_at(b, 44 + 4 * i);
        }
        Ok(ProtocolInfo {
            service_flags1: ServiceFlags::from_bits_retain(u32_at(b, 0)),
            service_flags2: u32_at(b, 4),
            service_flags3: u32_at(b, 8),
            service_flags4: u32_at(b, 12),
            provider_flags: ProviderFlags::from_bits_retain(u32_at(b, 16)),
            provider_id: Guid::from_slice(&b[20..36])?,
            catalog_entry_id: u32_at(b, 36),
            protocol_chain: ProtocolChain {
                len: chain_len,
                entries,
            },
            version: i32_at(b, 72),
            address_family: AddressFamily(i32_at(b, 76)),
            max_sockaddr: i32_at(b, 80),
            min_sockaddr: i32_at(b, 84),
            socket_type: SocketType(i32_at(b, 88)),
            protocol: Protocol(i32_at(b, 92)),
            protocol_max_offset: i32_at(b, 96),
            network_byte_order: i32_at(b, 100),
            security_scheme: i32_at(b, 104),
            message_size: u32_at(b, 108),
            provider_reserved: u32_at(b, 112),
            name: utf16_at(b, 116, WSAPROTOCOL_LEN + 1, "WSAPROTOCOL_INFOW.szProtocol")?,
        })
    }
}
