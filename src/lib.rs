//! # wsd-switch
//!
//! A platform-independent re-creation of the Windows Sockets Direct "Windows Sockets switch".
//! This facade re-exports the workspace crates:
//!
//! - [`spi_types`]: the Winsock SPI vocabulary (error codes, flags, GUIDs, protocol-info records,
//!   socket-address lists) with exact binary layouts;
//! - [`switch_core`]: the pure-logic switch (provider model, initialization, routing);
//! - [`mock_provider`]: a configurable mock SAN provider and catalog for tests and simulation.

pub use mock_provider;
pub use spi_types;
pub use switch_core;
