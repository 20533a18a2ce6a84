//! The compiled, immutable routing table and its decisions.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::decision::{
    ListenDecision, ListenReason, RouteDecision, RouteReason, RouteTarget, SocketKind,
};
use super::flat::{Flat, Key, NO_ROUTE, flatten};
use crate::id::ProviderId;

/// One entry of the table: a subnet and the SAN provider serving it.
///
/// Ordered by subnet (all IPv4 before IPv6, then by network address, then by prefix length),
/// then by provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The subnet (its network address, host bits zero).
    pub subnet: IpNet,
    /// The provider serving it.
    pub provider: ProviderId,
}

/// What an interval resolves to: a prefix length and a provider (index 0 means no route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Class {
    len: u8,
    provider: ProviderId,
}

/// The IPv6 lookup structure: keyed on the top 64 bits when every prefix is at most `/64`.
#[derive(Clone, PartialEq, Eq)]
enum V6 {
    Short(Flat<u64>),
    Long(Flat<u128>),
}

/// The subnet-to-provider table: immutable once built, cheap to look up, replaced as a whole
/// through [`SharedRoutes`](super::SharedRoutes).
///
/// Built by [`build`](super::build) from provider addresses and interface prefixes, or directly
/// from routes by [`RoutingTable::from_routes`].
#[derive(Clone, PartialEq, Eq)]
pub struct RoutingTable {
    v4: Flat<u32>,
    v6: V6,
    /// Interval classes; entry 0 is the "no route" placeholder.
    classes: Box<[Class]>,
    /// Routes completely covered by more specific ones (they never match, but are reported).
    hidden: Box<[Route]>,
    /// Number of routes.
    count: usize,
    /// SAN NIC addresses and their owners, sorted by address (for listen decisions).
    owners: Box<[(IpAddr, ProviderId)]>,
}

impl Default for RoutingTable {
    /// The empty table: no route, no SAN address.
    fn default() -> Self {
        Self::compile(Vec::new(), Vec::new())
    }
}

impl fmt::Debug for RoutingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingTable")
            .field("routes", &self.count)
            .field("nic_addresses", &self.owners.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish_non_exhaustive()
    }
}

/// Maps a prefix inside `::ffff:0:0/96` to the IPv4 prefix it stands for, and zeroes host bits.
pub(crate) fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new_assert(v4, n.prefix_len() - 96)).trunc(),
            None => net.trunc(),
        },
        _ => net.trunc(),
    }
}

/// Last key of a prefix starting at `start` with `host` host bits.
fn prefix_end<K: Key>(start: K, host: u32, ones: impl Fn(u32) -> K) -> K {
    if host == 0 {
        start
    } else {
        start.add(ones(host))
    }
}

/// Flattens one family; returns the structure and which input prefixes are visible somewhere.
fn compile_family<K: Key>(prefixes: &[(K, K, u32)]) -> (Flat<K>, Vec<bool>) {
    let iv = flatten(
        prefixes
            .iter()
            .enumerate()
            .map(|(i, &(s, e, _))| (s, e, i as u32)),
        prefixes.len(),
    );
    let mut visible = vec![false; prefixes.len()];
    let mut starts = Vec::with_capacity(iv.len());
    let mut vals: Vec<u32> = Vec::with_capacity(iv.len());
    for (start, route) in iv {
        let class = if route == NO_ROUTE {
            0
        } else {
            visible[route as usize] = true;
            prefixes[route as usize].2
        };
        // Adjacent intervals of one class merge: the subnet is recomputed from the key.
        if vals.last() != Some(&class) {
            starts.push(start);
            vals.push(class);
        }
    }
    (Flat::compile(starts, vals), visible)
}

/// Appends every `/len` block meeting `[s, e]` (all of them are routes of that class).
fn blocks(
    out: &mut Vec<Route>,
    s: u128,
    e: u128,
    host: u32,
    provider: ProviderId,
    mk: impl Fn(u128) -> IpNet,
) {
    if host >= 128 {
        out.push(Route {
            subnet: mk(0),
            provider,
        });
        return;
    }
    let size = 1u128 << host;
    let mut b = s & !(size - 1);
    loop {
        out.push(Route {
            subnet: mk(b),
            provider,
        });
        match b.checked_add(size) {
            Some(n) if n <= e => b = n,
            _ => break,
        }
    }
}

/// Sorts IPv4 routes by (start, length, provider); packs them into `u64` keys when provider
/// ids fit in 24 bits (they are catalog positions), which sorts about twice as fast.
fn sort_v4(v4: &mut [(u32, u8, ProviderId)]) {
    if v4.iter().all(|r| r.2.0 < 1 << 24) {
        let mut keys: Vec<u64> = v4
            .iter()
            .map(|&(s, len, p)| (u64::from(s) << 32) | (u64::from(len) << 24) | u64::from(p.0))
            .collect();
        keys.sort_unstable();
        for (slot, k) in v4.iter_mut().zip(keys) {
            *slot = (
                (k >> 32) as u32,
                (k >> 24) as u8,
                ProviderId((k & 0xff_ffff) as u32),
            );
        }
    } else {
        v4.sort_unstable();
    }
}

/// Sorts IPv6 routes by (start, length, provider); packs them into `u128` keys when every
/// prefix is at most `/64` and provider ids fit in 24 bits.
fn sort_v6(v6: &mut [(u128, u8, ProviderId)]) {
    if v6.iter().all(|r| r.1 <= 64 && r.2.0 < 1 << 24) {
        let mut keys: Vec<u128> = v6
            .iter()
            .map(|&(s, len, p)| {
                (s & !u128::from(u64::MAX)) | (u128::from(len) << 24) | u128::from(p.0)
            })
            .collect();
        keys.sort_unstable();
        for (slot, k) in v6.iter_mut().zip(keys) {
            let start = k & !u128::from(u64::MAX);
            *slot = (start, (k >> 24) as u8, ProviderId((k & 0xff_ffff) as u32));
        }
    } else {
        v6.sort_unstable();
    }
}

/// Numbers the distinct (prefix length, provider) pairs, 1-based in first-seen order (0 means
/// no route); returns the class table and each route's class, per family.
fn assign_classes(
    v4: &[(u32, u8, ProviderId)],
    v6: &[(u128, u8, ProviderId)],
) -> (Vec<Class>, Vec<u32>, Vec<u32>) {
    let mut classes = vec![Class {
        len: 0,
        provider: ProviderId(u32::MAX),
    }];
    let pairs = v4
        .iter()
        .map(|r| (r.1, r.2))
        .chain(v6.iter().map(|r| (r.1, r.2)));
    let max_id = pairs.clone().map(|(_, p)| p.0).max().unwrap_or(0);
    let mut ids: Vec<u32> = Vec::with_capacity(v4.len() + v6.len());
    if max_id < 4096 {
        // Small catalog ids: a dense (provider, length) table.
        let mut dense = vec![0u32; (max_id as usize + 1) * 129];
        for (len, p) in pairs {
            let slot = &mut dense[p.0 as usize * 129 + usize::from(len)];
            if *slot == 0 {
                classes.push(Class { len, provider: p });
                *slot = (classes.len() - 1) as u32;
            }
            ids.push(*slot);
        }
    } else {
        let mut seen: HashMap<(u8, ProviderId), u32> = HashMap::new();
        for (len, p) in pairs {
            let id = *seen.entry((len, p)).or_insert_with(|| {
                classes.push(Class { len, provider: p });
                (classes.len() - 1) as u32
            });
            ids.push(id);
        }
    }
    let class6 = ids.split_off(v4.len());
    (classes, ids, class6)
}

impl RoutingTable {
    /// Compiles routes directly (for tests, benches and callers with their own builder).
    ///
    /// Subnets are truncated to their network address; prefixes inside `::ffff:0:0/96` become
    /// IPv4 prefixes. When several entries name one subnet, the lowest [`ProviderId`] wins
    /// (ROUTE-4) silently; use [`build`](super::build) for reported conflicts.
    pub fn from_routes(routes: Vec<(IpNet, ProviderId)>) -> Self {
        Self::compile(routes, Vec::new())
    }

    pub(crate) fn compile(
        routes: Vec<(IpNet, ProviderId)>,
        mut owners: Vec<(IpAddr, ProviderId)>,
    ) -> Self {
        let n6 = routes.iter().filter(|r| r.0.addr().is_ipv6()).count();
        let mut v4: Vec<(u32, u8, ProviderId)> = Vec::with_capacity(routes.len() - n6);
        let mut v6: Vec<(u128, u8, ProviderId)> = Vec::with_capacity(n6);
        // The same normalisation as `canonical_net`, on integers.
        let mask4 = |len: u8| u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        for (net, provider) in routes {
            match net {
                IpNet::V4(n) => {
                    let len = n.prefix_len();
                    v4.push((u32::from(n.addr()) & mask4(len), len, provider));
                }
                IpNet::V6(n) => {
                    let (a, len) = (u128::from(n.addr()), n.prefix_len());
                    if len >= 96 && a >> 32 == 0xffff {
                        v4.push((a as u32 & mask4(len - 96), len - 96, provider));
                    } else {
                        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                        v6.push((a & mask, len, provider));
                    }
                }
            }
        }
        sort_v4(&mut v4);
        v4.dedup_by(|later, kept| later.0 == kept.0 && later.1 == kept.1);
        sort_v6(&mut v6);
        v6.dedup_by(|later, kept| later.0 == kept.0 && later.1 == kept.1);

        let (classes, class4, class6) = assign_classes(&v4, &v6);
        let p4: Vec<(u32, u32, u32)> = v4
            .iter()
            .zip(&class4)
            .map(|(&(s, len, _), &class)| {
                (
                    s,
                    prefix_end(s, 32 - u32::from(len), |h| u32::MAX >> (32 - h)),
                    class,
                )
            })
            .collect();
        let (v4_flat, vis4) = compile_family(&p4);
        let mut hidden: Vec<Route> = Vec::new();
        for (i, &(s, len, provider)) in v4.iter().enumerate() {
            if !vis4[i] {
                let subnet = IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(s), len));
                hidden.push(Route { subnet, provider });
            }
        }

        let short = v6.iter().all(|r| r.1 <= 64);
        let (v6_flat, vis6) = if short {
            let p6: Vec<(u64, u64, u32)> = v6
                .iter()
                .zip(&class6)
                .map(|(&(s, len, _), &class)| {
                    let s = (s >> 64) as u64;
                    (
                        s,
                        prefix_end(s, 64 - u32::from(len), |h| u64::MAX >> (64 - h)),
                        class,
                    )
                })
                .collect();
            let (f, vis) = compile_family(&p6);
            (V6::Short(f), vis)
        } else {
            let p6: Vec<(u128, u128, u32)> = v6
                .iter()
                .zip(&class6)
                .map(|(&(s, len, _), &class)| {
                    (
                        s,
                        prefix_end(s, 128 - u32::from(len), |h| u128::MAX >> (128 - h)),
                        class,
                    )
                })
                .collect();
            let (f, vis) = compile_family(&p6);
            (V6::Long(f), vis)
        };
        for (i, &(s, len, provider)) in v6.iter().enumerate() {
            if !vis6[i] {
                let subnet = IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(s), len));
                hidden.push(Route { subnet, provider });
            }
        }

        owners.sort_unstable();
        owners.dedup_by_key(|o| o.0);
        Self {
            v4: v4_flat,
            v6: v6_flat,
            classes: classes.into_boxed_slice(),
            hidden: hidden.into_boxed_slice(),
            count: v4.len() + v6.len(),
            owners: owners.into_boxed_slice(),
        }
    }

    /// The most specific route containing `addr` (ROUTE-1), or `None`.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up as IPv4.
    #[inline(always)]
    pub fn lookup(&self, addr: IpAddr) -> Option<Route> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => {
                // ::ffff:a.b.c.d, tested on the integer (cheaper than `to_ipv4_mapped`).
                let key = u128::from(a);
                if key >> 32 == 0xffff {
                    self.lookup_v4(Ipv4Addr::from(key as u32))
                } else {
                    self.lookup_v6(a)
                }
            }
        }
    }

    /// [`lookup`](Self::lookup) for an IPv4 address.
    #[inline(always)]
    pub fn lookup_v4(&self, a: Ipv4Addr) -> Option<Route> {
        let key = u32::from(a);
        let idx = self.v4.find(key);
        let c = self.classes[idx as usize];
        let mask = u32::MAX.checked_shl(32 - u32::from(c.len)).unwrap_or(0);
        // `c.len <= 32` by construction; no panic path, so unused subnets cost nothing.
        let subnet = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(key & mask), c.len).unwrap_or_default());
        (idx != 0).then_some(Route {
            subnet,
            provider: c.provider,
        })
    }

    /// [`lookup`](Self::lookup) for an IPv6 address that is not IPv4-mapped (a mapped one is
    /// looked up as IPv6 here; use [`lookup`](Self::lookup) to have it taken as IPv4).
    #[inline(always)]
    pub fn lookup_v6(&self, a: Ipv6Addr) -> Option<Route> {
        let key = u128::from(a);
        let class = match &self.v6 {
            V6::Short(f) => f.find((key >> 64) as u64),
            V6::Long(f) => f.find(key),
        };
        let idx = class;
        let c = self.classes[idx as usize];
        let mask = u128::MAX.checked_shl(128 - u32::from(c.len)).unwrap_or(0);
        let subnet = IpNet::V6(Ipv6Net::new(Ipv6Addr::from(key & mask), c.len).unwrap_or_default());
        (idx != 0).then_some(Route {
            subnet,
            provider: c.provider,
        })
    }

    /// The SAN provider whose NIC has address `addr` (compared by value, IPv4-mapped as IPv4).
    pub fn owner(&self, addr: IpAddr) -> Option<ProviderId> {
        let addr = addr.to_canonical();
        self.owners
            .binary_search_by(|o| o.0.cmp(&addr))
            .ok()
            .map(|i| self.owners[i].1)
    }

    /// Every route, sorted (see [`Route`]'s order), including routes fully covered by more
    /// specific ones. Rebuilt from the compiled form on each call: meant for reports.
    pub fn routes(&self) -> impl Iterator<Item = Route> + '_ {
        let mut out: Vec<Route> = Vec::with_capacity(self.count);
        for (s, e, c) in self.v4.intervals() {
            if c != 0 {
                let Class { len, provider } = self.classes[c as usize];
                blocks(
                    &mut out,
                    s.widen(),
                    e.widen(),
                    32 - u32::from(len),
                    provider,
                    |b| IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(b as u32), len)),
                );
            }
        }
        let mut v6 = |s: u128, e: u128, c: u32| {
            if c != 0 {
                let Class { len, provider } = self.classes[c as usize];
                blocks(&mut out, s, e, 128 - u32::from(len), provider, |b| {
                    IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(b), len))
                });
            }
        };
        match &self.v6 {
            V6::Short(f) => f.intervals().for_each(|(s, e, c)| {
                v6(s.widen() << 64, (e.widen() << 64) | u128::from(u64::MAX), c)
            }),
            V6::Long(f) => f.intervals().for_each(|(s, e, c)| v6(s, e, c)),
        }
        out.extend_from_slice(&self.hidden);
        out.sort_unstable();
        out.dedup();
        out.into_iter()
    }

    /// Number of routes (after conflict resolution).
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the table has no route.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes used by the compiled table (inline and heap), including the listen address set.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.v4.memory_bytes()
            + match &self.v6 {
                V6::Short(f) => f.memory_bytes(),
                V6::Long(f) => f.memory_bytes(),
            }
            + std::mem::size_of_val(&*self.classes)
            + std::mem::size_of_val(&*self.hidden)
            + std::mem::size_of_val(&*self.owners)
    }

    /// Connect decision (ROUTE-1, ROUTE-2): TCP for datagram, raw and multicast sockets and for
    /// multicast/broadcast destinations; else the provider of the most specific matching subnet
    /// if `is_ready` says it is ready; else TCP.
    pub fn decide_connect(
        &self,
        dest: IpAddr,
        kind: SocketKind,
        is_ready: impl Fn(ProviderId) -> bool,
    ) -> RouteDecision {
        let tcp = |reason| RouteDecision {
            target: RouteTarget::Tcp,
            reason,
        };
        if kind != SocketKind::Stream {
            return tcp(RouteReason::SocketKind { kind });
        }
        let dest = dest.to_canonical();
        let one_to_many = match dest {
            IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
            IpAddr::V6(a) => a.is_multicast(),
        };
        if one_to_many {
            return tcp(RouteReason::SocketKind {
                kind: SocketKind::Multicast,
            });
        }
        let Some(Route { subnet, provider }) = self.lookup(dest) else {
            return tcp(RouteReason::NoRoute);
        };
        if let (IpAddr::V4(a), IpNet::V4(n)) = (dest, subnet)
            && n.prefix_len() < 31
            && a == n.broadcast()
        {
            return tcp(RouteReason::SocketKind {
                kind: SocketKind::Multicast,
            });
        }
        if !is_ready(provider) {
            return tcp(RouteReason::ProviderNotReady { subnet, provider });
        }
        RouteDecision {
            target: RouteTarget::San(provider),
            reason: RouteReason::RouteMatch { subnet, provider },
        }
    }

    /// Listen decision (ROUTE-3): which SAN providers listen besides TCP. `ready` lists the
    /// ready SAN providers.
    pub fn decide_listen(&self, addr: IpAddr, ready: &[ProviderId]) -> ListenDecision {
        let addr = addr.to_canonical();
        if addr.is_unspecified() {
            let mut providers = ready.to_vec();
            providers.sort_unstable();
            providers.dedup();
            return ListenDecision {
                providers,
                reason: ListenReason::Wildcard,
            };
        }
        match self.owner(addr) {
            Some(provider) if ready.contains(&provider) => ListenDecision {
                providers: vec![provider],
                reason: ListenReason::NicAddress { provider },
            },
            Some(provider) => ListenDecision {
                providers: Vec::new(),
                reason: ListenReason::ProviderNotReady { provider },
            },
            None => ListenDecision {
                providers: Vec::new(),
                reason: ListenReason::NotSanAddress,
            },
        }
    }
}
