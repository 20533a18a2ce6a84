//! `WSANETWORKEVENTS`: what `WSPEnumNetworkEvents` reports (44 bytes).

use crate::WsaError;
use crate::decode::{DecodeError, i32_at, need};
use crate::flags::{FD_MAX_EVENTS, NetworkEvents};

/// `WSANETWORKEVENTS`: the events that occurred and an error code per event, indexed by the
/// event's `FD_*_BIT` value.
///
/// ```
/// use spi_types::{NetworkEvents, WsaError, WsaNetworkEvents};
/// let mut ev = WsaNetworkEvents::default();
/// ev.set(NetworkEvents::CONNECT, Some(WsaError::WSAECONNREFUSED));
/// assert_eq!(ev.error_for(NetworkEvents::CONNECT), Some(WsaError::WSAECONNREFUSED));
/// let bytes = ev.encode();
/// assert_eq!(WsaNetworkEvents::decode(&bytes).unwrap(), ev);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WsaNetworkEvents {
    /// `lNetworkEvents`.
    pub events: NetworkEvents,
    /// `iErrorCode`, indexed by `FD_*_BIT`; 0 is success.
    pub error_codes: [i32; FD_MAX_EVENTS],
}

impl WsaNetworkEvents {
    /// Size in bytes.
    pub const SIZE: usize = 44;

    /// Records that `event` occurred with `error` (`None` for success).
    pub fn set(&mut self, event: NetworkEvents, error: Option<WsaError>) {
        self.events |= event;
        if let Some(i) = event.bit_index() {
            self.error_codes[i] = error.map_or(0, WsaError::code);
        }
    }

    /// The error recorded for a single `event`, `None` when it succeeded or did not occur.
    pub fn error_for(&self, event: NetworkEvents) -> Option<WsaError> {
        let i = event.bit_index()?;
        if !self.events.contains(event) || self.error_codes[i] == 0 {
            None
        } else {
            Some(WsaError::from_code(self.error_codes[i]))
        }
    }

    /// The structure's bytes.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.events.bits().to_le_bytes());
        for (i, c) in self.error_codes.iter().enumerate() {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&c.to_le_bytes());
        }
        b
    }

    /// Reads the structure from the first 44 bytes of `b`.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        need("WSANETWORKEVENTS", b, Self::SIZE)?;
        let mut error_codes = [0i32; FD_MAX_EVENTS];
        for (i, c) in error_codes.iter_mut().enumerate() {
            *c = i32_at(b, 4 + 4 * i);
        }
        Ok(WsaNetworkEvents {
            events: NetworkEvents::from_bits_retain(i32_at(b, 0)),
            error_codes,
        })
    }
}
