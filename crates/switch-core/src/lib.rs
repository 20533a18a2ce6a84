//! # switch-core: the Windows Sockets switch as pure logic
//!
//! The Windows Sockets Direct switch sits under an ordinary TCP sockets API and decides, per
//! socket, whether the TCP/IP provider or a SAN service provider does the work. This crate is
//! that decision logic with no operating system underneath: no OS calls, no threads of its own,
//! no clock. What the platform does comes in through traits and arguments; what the switch
//! decides comes out as return values, reports and a trace.
//!
//! ```text
//!             platform shim (Windows provider loader, Linux preload, wsd-sim, tests)
//!   Catalog ──┐   ProviderLoader ──┐   interfaces ──┐    address / catalog changes
//!             ▼                    ▼                ▼               │
//!   ┌──────────────────────────── Switch (facade) ──────────────────▼──────────┐
//!   │ catalog::read_catalog ─► providers (lifecycle: Ignored / Rejected /        │
//!   │  (INIT-1)                Ready / Retiring / Retired)                       │
//!   │                            │ drives, through the one call executor:        │
//!   │                            ├─ startup::InitMachine (INIT-2..4)             │
//!   │                            ├─ address::Requery     (ADDR-1)                │
//!   │                            └─ teardown::Teardown   (INIT-2a, HOT-3, CLOSE-2)│
//!   │ routing::build / SharedRoutes (INIT-3a, ROUTE, ADDR)    journal: trace,    │
//!   │                                                         diagnostics        │
//!   └──────────────┬───────────────────────────────────────────────┬───────────┘
//!                  ▼                                               ▼
//!        dyn SanProvider (WSP* entry points)              SwitchReport, TraceEvent,
//!        ◄── Upcalls (UpcallTable)                        RouteDecision / ListenDecision
//! ```
//!
//! Every exchange with a provider is a sans-IO state machine ([`call::ProviderMachine`]): it
//! says which call comes next ([`call::NextCall`]) and takes the answer ([`call::Answer`]). One
//! private call executor makes every provider call, behind one panic boundary, records each in
//! the trace, and drives a machine at most [`call_budget`](call::ProviderMachine::call_budget)
//! calls, so a machine that never finishes is stopped with an [`Overrun`] instead of hanging
//! the switch: an initialization that overruns rejects its provider (`sequence_overrun`); a
//! connect attempt that overruns closes its companion socket and falls back to TCP.
//!
//! ## Modules
//!
//! - [`provider`]: the traits at the edge: [`SanProvider`](provider::SanProvider) (the `WSP*`
//!   entry points the switch calls), [`Upcalls`](provider::Upcalls) (the up-call table),
//!   [`ProviderLoader`](provider::ProviderLoader).
//! - [`call`]: the vocabulary between machines and the executor.
//! - [`catalog`]: the [`Catalog`](catalog::Catalog) trait and the rules for reading it (INIT-1).
//! - [`startup`]: one provider's initialization as an explicit state machine (INIT-2..INIT-4),
//!   ending in [`Initialized`](startup::Initialized) or [`InitFailure`](startup::InitFailure).
//! - [`address`]: the address-list query and its retry rule, shared by initialization and
//!   address changes (INIT-3, ADDR-1).
//! - [`teardown`]: closing a provider's socket and cleaning it up exactly once.
//! - [`connection`]: application sockets, connects with their fallback (CONN-1..6), listens
//!   and accepts (LISTEN-1, ACCEPT-1, 2, 4), the events and timers the platform feeds in,
//!   the negative cache and the SAN deadline.
//! - [`session`]: the session protocol: the negotiation (CONN-7, ACCEPT-3), the control
//!   messages, and each SAN connection's session machine (SESS-1..6, MEM-2, MEM-3, CLOSE-1).
//! - [`memory`]: the memory the switch lends providers for data calls ([`memory::Buffer`],
//!   `WSABUFEX`), so an overlapped call that answers pending keeps its buffer alive.
//! - [`routing`]: the subnet-to-provider table, its atomic publication and the connect and
//!   listen decisions (INIT-3a, ROUTE-1..4, ADDR-1, ADDR-2).
//! - [`trace`], [`report`]: what the switch says it did.
//! - [`upcall`]: the switch's up-call table.
//! - [`switch`]: the [`Switch`] facade that owns the parts and hands inputs on.
//!
//! ## Decisions where the documentation is silent
//!
//! - **Version** (INIT-2a): the switch asks for 2.2 and accepts only a `WSPDATA.wVersion` of
//!   exactly 2.2; anything else is `version_mismatch`, and the provider is cleaned up.
//! - **Address-list retries** (INIT-3): the first buffer is [`address::INITIAL_ADDRESS_BUFFER`]
//!   bytes; `WSAEFAULT` with a size is retried with that size (or the size already offered, if
//!   larger), at most [`address::MAX_ADDRESS_QUERY_ATTEMPTS`] queries and
//!   [`address::MAX_ADDRESS_BUFFER`] bytes; `WSAEFAULT` with no size is an error. The answer is
//!   decoded against the buffer's own address, with the pointer width of
//!   [`SwitchConfig::pointer_width`] (32-bit layouts need a buffer below 4 GiB, that is a 32-bit
//!   process, as on Windows).
//! - **The byte count** a provider returns with its address list (`lpcbBytesReturned`) bounds
//!   the decode: every entry must lie within the bytes it says it wrote. A count larger than the
//!   buffer rejects the provider (`address_list_overreported`). A count of 0 on success (a
//!   provider that does not set it) has the whole buffer decoded, and is reported
//!   (`address_list_size_missing`).
//! - **An empty address list** is accepted: the provider is ready and serves no subnet until an
//!   address change gives it addresses.
//! - **Optional extensions** (INIT-4): any failure of RdmaRead or
//!   MemoryRegistrationCacheCallback (not only `WSAEOPNOTSUPP`) means "not available"; it is
//!   reported and the provider stays. A success that returns a null entry point counts as a
//!   failure.
//! - **The query socket** stays open while the provider is ready, for address re-queries; it is
//!   closed before `WSPCleanup`.
//! - **Panics**: a provider that panics during initialization or an address re-query is
//!   rejected (`provider_panicked`); the switch still closes its socket and calls
//!   `WSPCleanup` once if `WSPStartupEx` had succeeded, each behind the same panic boundary.
//!   A panic in a connection call (connect, listen, accept, close) fails that call only: the
//!   attempt falls back (or the listen leaves that provider out), the panic is reported with
//!   its message (`provider_panicked` diagnostic), and the provider keeps serving its other
//!   connections. A panic inside `WSPStartupEx` counts as a
//!   failed startup: no cleanup. A panic while closing or cleaning up is reported with its
//!   message (`provider_panicked`).
//! - **Diagnostics** are kept once each, in the order first noticed; noting one costs the same
//!   however many came before, so initialization and address changes stay linear in the number
//!   of addresses and diagnostics.
//! - **Several catalog entries with one GUID** (one per address family, say) are one provider,
//!   described by its first entry.
//! - **Address changes** (ADDR-1): see [`Switch::address_changed`].
//! - **Catalog changes** (HOT-1, HOT-3): see [`Switch::catalog_changed`]. Provider ids follow
//!   catalog order: a provider installed later gets a higher id than every earlier one.
//! - **Data** (SESS-1..6): [`Switch::send`], [`Switch::recv`] and [`Switch::shutdown_socket`]
//!   are the same calls on a SAN and on a TCP connection. A SAN connection's calls complete
//!   through the provider's up-calls (or polling, SESS-5), which the platform feeds in with
//!   [`Switch::handle_completions`]; [`connection::SwitchEvent::Sent`] and
//!   [`connection::SwitchEvent::Readable`] come out of [`Switch::poll`]. The trace records
//!   data-path calls only with [`SwitchConfig::trace_data`], so it does not grow with traffic.
//! - **Shutdown** (CLOSE-2) is final, and dropping a [`Switch`] shuts it down, so every started
//!   provider is cleaned up exactly once.
//! - **Waiters** (INIT-5): the core makes every provider call on the caller's thread, starts
//!   no thread and reads no clock. Instead of a waiter trait it speaks the sans-IO way: it
//!   tells the platform which events to watch ([`connection::SwitchEvent::Watch`] and
//!   `Unwatch`, from [`Switch::poll`]), the platform reports a signalled event
//!   ([`Switch::handle_event`]) and passes time in ([`Switch::handle_timeout`], asked for by
//!   [`Switch::poll_timeout`]). The `wsd-waiter` crate is a ready-made waiter on one std
//!   thread for embedders.
//!
//! ## Example
//!
//! See [`Switch`]; the `mock-provider` crate has ready-made catalogs and providers.

pub mod address;
pub mod call;
pub mod catalog;
pub mod connection;
mod executor;
pub mod id;
mod journal;
pub mod memory;
pub mod provider;
mod providers;
pub mod report;
pub mod routing;
pub mod session;
pub mod startup;
pub mod switch;
pub mod teardown;
pub mod trace;
pub mod upcall;

pub use executor::{Overrun, REQUIRED_VERSION};
pub use id::ProviderId;
pub use report::{ProviderReport, ProviderState, SwitchReport};
pub use routing::{RouteDecision, RouteReason, RouteTarget, SocketKind};
pub use switch::{Footprint, Switch, SwitchConfig, SwitchError};
