//! `wsd-sim`: runs scenario files through the Windows Sockets switch on simulated hosts and
//! reports what it did.
//!
//! ```text
//!  scenario.toml ──► scenario::parse ──► Scenario ──► runner (switch-core + mock-provider)
//!                        │                                   │
//!                        └─► ScenarioErrors (check, exit 2)  └─► report::Report ─► text/json/mermaid
//! ```
//!
//! - [`scenario`]: the typed scenario model and its parser/validator (every error with key
//!   and line).
//! - [`report`]: the JSON report's types (the fixed field names of `docs/scenario.md`).
//! - [`run`]: the runner: one switch-core `Switch` per host over mock-provider's catalog,
//!   loader and TCP/IP provider, all hosts on one mock fabric, the steps in order, and the
//!   report. A provider with `library` is loaded from its shared object through `spi-abi`
//!   instead of being a mock. Connection steps (connect, listen, close, advance) and data
//!   steps (send, shutdown, with the other end's application reading and checking every
//!   byte) run across the hosts.
//! - [`render`]: the report as JSON, text or a Mermaid sequence diagram.
//! - [`cli`]: the command line (`run`, `explain`, `check`, `conform`) and its exit codes.
//! - [`conform`]: the output of `conform`, which runs `spi_abi::conform` on a provider
//!   shared object.
//!
//! ```
//! let scenario = wsd_sim::scenario::parse(wsd_sim::DEFAULT_SCENARIO).expect("valid");
//! assert_eq!(scenario.hosts.len(), 2);
//! ```

pub mod cli;
pub mod conform;
mod data;
mod net;
pub mod render;
pub mod report;
pub mod run;
pub mod scenario;

/// The built-in default scenario: the text of `examples/default.toml`.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../examples/default.toml");
