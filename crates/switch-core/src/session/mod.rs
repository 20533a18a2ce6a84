//! The switch's own session protocol over a SAN connection (CONN-7, ACCEPT-3, SESS-1..6).
//!
//! This module holds the protocol's wire formats. The negotiation message is defined and
//! checked here; the exchange that carries it (registering the message buffers through the
//! RegisterMemory extension, posting receives, sending the message before the application's
//! connect or accept completes) needs the provider data edge and comes with it.
//!
//! **A failed negotiation** (a malformed or refused message, or a provider failure while
//! exchanging it) happens after the SAN connection was established, so CONN-5 applies: the
//! switch does not fall back to TCP. It closes the SAN socket and the application's connect
//! (or the accepted connection) fails with `WSAECONNRESET`.

pub mod negotiation;

pub use negotiation::{
    MAX_CREDITS, MAX_NEGOTIATION_SIZE, NEGOTIATION_HEADER_SIZE, Negotiation, NegotiationError,
};
