//! Subnet-to-provider routing: which provider serves a socket (INIT-3a, ADDR-1, ADDR-2,
//! ROUTE-1..4).
//!
//! # Layers
//!
//! ```text
//!  provider address lists ─┐
//!  TCP/IP interface prefixes ─┴─> build() ──> BuildOutput { RoutingTable, Vec<RouteDiagnostic> }
//!                                                   │
//!                            SharedRoutes::replace ─┘ (one atomic pointer swap, ADDR-1)
//!                                                   │
//!  connect / listen ──> SharedRoutes::load() ──> decide_connect / decide_listen ──> RouteDecision
//! ```
//!
//! * [`build`] turns each ready provider's address list (in catalog order, i.e. [`ProviderId`](crate::id::ProviderId)
//!   order) and the TCP/IP provider's interface prefixes into a [`RoutingTable`], reporting what
//!   it had to decide as [`RouteDiagnostic`]s.
//! * [`RoutingTable`] is immutable. Its lookup structure is a flat array of disjoint address
//!   intervals reached through a direct bucket index (see *Performance* below).
//! * [`SharedRoutes`] publishes a table: readers never block and always see one whole table.
//!
//! # Decisions written down
//!
//! * **Nested interface prefixes.** When several interface prefixes contain a SAN address, the
//!   most specific one (longest prefix) is used. The narrowest prefix is the NIC's own on-link
//!   subnet; a broader one containing it (an aggregate, a VPN route) also covers hosts that are
//!   not on the SAN, and mapping it to the SAN provider would capture their connections.
//!   The subnet stored is the interface prefix's network (`IpNet::trunc`).
//! * **Host routes.** A SAN address with no containing interface prefix becomes a `/32` or
//!   `/128` route and is reported ([`RouteDiagnostic::HostRoute`]).
//! * **Duplicates (ADDR-2).** Addresses are compared by value after mapping IPv4-mapped IPv6
//!   addresses to IPv4 (`::ffff:10.0.0.1` equals `10.0.0.1`). The first claimant in catalog
//!   order keeps the address, for routing and for listen decisions; later ones are reported.
//! * **Conflicts (ROUTE-4).** Two providers claiming one subnet: the lower [`ProviderId`](crate::id::ProviderId)
//!   (earlier catalog entry) wins; the loser is reported once per subnet.
//! * **Unusable addresses.** A provider listing the unspecified, a multicast or the limited
//!   broadcast address gets it ignored and reported ([`RouteDiagnostic::UnusableAddress`]).
//! * **IPv4-mapped IPv6.** A destination `::ffff:a.b.c.d` is looked up as the IPv4 address
//!   `a.b.c.d`; prefixes inside `::ffff:0:0/96` given to [`RoutingTable::from_routes`] are
//!   stored as the IPv4 prefixes they map.
//! * **IPv6 scope ids.** The table keys on the address only: the API takes [`std::net::IpAddr`],
//!   and a caller holding a `SocketAddrV6` drops its scope id. The scope id selects an interface
//!   *inside* the TCP/IP stack; the question here is which provider owns the destination's
//!   subnet, and a SAN provider's `SOCKET_ADDRESS_LIST` and the interface prefix list identify a
//!   link-local subnet by its prefix only. If two providers both claim `fe80::/64` this is an
//!   ordinary ROUTE-4 conflict (reported, earlier entry wins); a connection sent to the wrong
//!   SAN provider fails its SAN connect and falls back to TCP (CONN-4).
//! * **Multicast and broadcast destinations.** Datagram, raw and multicast sockets always use
//!   TCP (ROUTE-2) without consulting the table. A *stream* connect to a multicast address,
//!   to `255.255.255.255` or to the directed broadcast address of the matched IPv4 subnet is
//!   treated the same way: it goes to TCP with reason
//!   [`RouteReason::SocketKind`]`{ kind: SocketKind::Multicast }`, because no SAN provider
//!   serves one-to-many traffic.
//! * **Listen (ROUTE-3).** TCP always listens; [`ListenDecision::providers`] lists the SAN
//!   providers that listen too: every ready one for the wildcard (`0.0.0.0`, `::`), the owner
//!   of a NIC address if it is ready, nobody otherwise.
//! * **Readiness** is an argument of the decisions, so a table never changes once built.
//!
//! # Performance
//!
//! Prefixes are flattened into disjoint intervals covering the whole address space, each
//! holding its resolved answer: a small class number standing for *(prefix length, provider)*;
//! the matched subnet is the destination truncated to that length. IPv4 keys are `u32`; IPv6
//! keys are the top 64 bits when every IPv6 prefix is at most `/64`, else the whole `u128`.
//! A lookup is:
//!
//! 1. one shift and one load from a direct bucket index (IPv4: the top `k` bits, `k` sized to
//!    the table; IPv6: `k` bits of the span between the first and the last boundary), giving
//!    the first interval the key can be in;
//! 2. for wide buckets only, a fixed number of branch-free halvings
//!    ([`std::hint::select_unpredictable`]), the same number for every key of the table;
//! 3. a branch-free count of how many of the next 8 (IPv4) or 4 (IPv6) interval starts are
//!    `<=` the key (vectorised for IPv4), and one load of the answer.
//!
//! Interval starts and answers are separate arrays (4 + 4 bytes per IPv4 interval), padded so
//! that no lookup reads out of bounds. A table of `n` prefixes has at most `2n + 1` intervals;
//! large tables get about one bucket per prefix, so IPv4 costs at most about 20 bytes per
//! prefix ([`RoutingTable::memory_bytes`]). No `unsafe` is used.

mod build;
mod decision;
mod diag;
mod flat;
mod publish;
mod table;

pub use build::{BuildOutput, RouteInput, build};
pub use decision::{
    ListenDecision, ListenReason, RouteDecision, RouteReason, RouteTarget, SocketKind,
};
pub use diag::RouteDiagnostic;
pub use publish::SharedRoutes;
pub use table::{Route, RoutingTable};
