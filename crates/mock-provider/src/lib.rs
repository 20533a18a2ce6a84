//! # mock-provider: a configurable mock SAN provider and catalog
//!
//! [`MockProvider`] implements switch-core's [`SanProvider`](switch_core::provider::SanProvider)
//! and does what its [`MockConfig`] says: the versions it accepts and answers, its startup
//! error, its description, socket failures, its address list (IPv4 and IPv6) with every fault
//! of [`AddressFault`] or a captured answer replayed byte for byte ([`RawAddressList`]), the
//! answer per extension GUID, a panic injected at any named call, a cleanup error. Every call
//! it receives is logged in a [`CallLog`] with its arguments and thread.
//!
//! [`MockCatalog`] is an in-memory catalog (entries with their hidden flag, family, type and
//! protocol, plus registration values, malformed ones included); [`MockLoader`] makes mocks for
//! its entries. [`MockConfig::winofed`] is a ready-made profile that behaves like the
//! open-source WinOFED InfiniBand WSD provider.
//!
//! A [`Fabric`] puts several hosts in one process: each host's mock SAN providers (attached
//! through [`MockLoader::attach`]) and mock TCP/IP provider ([`MockTcp::attached`]) connect to
//! the others' listeners as the topology says, with a simulated clock and a queue of signalled
//! events, and no thread, clock or network of the real world. Connected SAN sockets carry
//! messages and RDMA between registered [`Buffer`](switch_core::memory::Buffer)s, with the
//! access rules of a model RDMA NIC ([`Fabric::mem_violations`] counts what it refused) and a
//! registration cache per provider ([`Fabric::memory`]); connected TCP sockets carry byte
//! streams with shutdown and urgent data.
//!
//! ```
//! use mock_provider::{MockCatalog, MockConfig, MockLoader};
//! use switch_core::{ProviderState, Switch, SwitchConfig};
//!
//! let ib = MockConfig::winofed("ib0")
//!     .without_rdma_read()
//!     .with_addresses(["10.1.2.5".parse().unwrap()]);
//! let mut catalog = MockCatalog::with_tcpip();
//! catalog.install_mock(&ib);
//! let mut loader = MockLoader::new();
//! loader.add(ib);
//!
//! let mut switch = Switch::new(SwitchConfig::default());
//! let report = switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
//! let p = report.provider("ib0").unwrap();
//! assert_eq!(p.state, ProviderState::Ready);
//! assert!(!p.extensions.contains(spi_types::SanExtension::RdmaRead));
//! assert_eq!(report.routes[0].subnet.to_string(), "10.1.0.0/16");
//! ```

pub mod catalog;
pub mod config;
pub mod fabric;
pub mod provider;
mod registry;
pub mod tcp;
pub mod wrap;

pub use catalog::{MockCatalog, MockLoader};
pub use config::{AddressFault, MockConfig, RawAddressList, guid_for_name};
pub use fabric::{
    ConnectionEnd, ConnectionInfo, Fabric, FabricError, HostConnection, HostInfo, ListenerInfo,
    MemoryStats, Role, Transport,
};
pub use provider::{CallDetail, CallLog, LoggedCall, MockProvider, SharedConfig};
pub use tcp::{MockTcp, TcpCall};
pub use wrap::{
    Fault, FaultAction, FaultInjector, FaultPlan, TracedCall, Tracer, When, classify_ioctl,
};
