//! # wsd-switch
//!
//! A platform-independent re-creation of the Windows Sockets Direct "Windows Sockets switch".
//! This facade re-exports the workspace crates:
//!
//! - [`spi_types`]: the Winsock SPI vocabulary (error codes, flags, GUIDs, protocol-info records,
//!   socket-address lists) with exact binary layouts;
//! - [`switch_core`]: the pure-logic switch (provider model, initialization, routing);
//! - [`mock_provider`]: a configurable mock SAN provider and catalog for tests and simulation.
//!
//! ```
//! use wsd_switch::mock_provider::{MockCatalog, MockConfig, MockLoader};
//! use wsd_switch::switch_core::{RouteTarget, SocketKind, Switch, SwitchConfig};
//!
//! let ib = MockConfig::generic("ib0").with_addresses(["10.1.2.5".parse().unwrap()]);
//! let mut catalog = MockCatalog::with_tcpip();
//! catalog.install_mock(&ib);
//! let mut loader = MockLoader::new();
//! loader.add(ib);
//!
//! let mut switch = Switch::new(SwitchConfig::default());
//! let report = switch.initialize(&catalog, &mut loader, vec!["10.1.2.0/24".parse().unwrap()]);
//! let ib0 = report.provider("ib0").unwrap().id;
//! let d = switch.decide_connect("10.1.2.9:445".parse().unwrap(), SocketKind::Stream);
//! assert_eq!(d.target, RouteTarget::San(ib0));
//! let d = switch.decide_connect("10.1.2.9:53".parse().unwrap(), SocketKind::Datagram);
//! assert_eq!(d.target, RouteTarget::Tcp);
//! ```

pub use mock_provider;
pub use spi_types;
pub use switch_core;
