//! The switch's own session protocol over a SAN connection (CONN-7, ACCEPT-3, SESS-1..6).
//!
//! - [`negotiation`]: each side's first message (CONN-7, ACCEPT-3): receives posted, buffer
//!   size, RDMA threshold and size, whether the sender has RdmaRead.
//! - [`wire`]: the control messages that follow (SESS-1..6), byte by byte.
//! - [`conn`]: one connection's session, a sans-IO machine like the switch's others: it
//!   registers the message buffers through the RegisterMemory extension, posts receives,
//!   negotiates before the application's connect or accept completes, and then carries the
//!   byte stream (inline, RDMA read or RDMA write), urgent data, shutdown and close. It asks for
//!   provider calls and takes their answers and completions; the switch's call executor makes
//!   the calls.
//!
//! **A failed negotiation** (a malformed or refused message, or a provider failure while
//! exchanging it) happens after the SAN connection was established, so CONN-5 applies: the
//! switch does not fall back to TCP. It closes the SAN socket and the application's connect
//! (or the accepted connection) fails with `WSAECONNRESET`.

pub mod conn;
pub mod negotiation;

pub use negotiation::{
    MAX_CREDITS, MAX_NEGOTIATION_SIZE, NEGOTIATION_HEADER_SIZE, Negotiation, NegotiationError,
};
pub mod wire;
