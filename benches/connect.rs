//! Connect-and-close cycles through the switch on the mock fabric, side by side with the same
//! cycles made on the mock providers directly, so the switch's own cost per connect shows as a
//! difference (ns per cycle) and a ratio.
//!
//! Two hosts share one [`Fabric`]: alpha (interface 10.0.0.1, SAN provider "ib" at 10.1.0.1)
//! and beta (10.0.0.2, "ib" at 10.1.0.2). Each host has its own switch, initialized with the
//! TCP/IP interface 10.1.0.0/16, so 10.1.0.0/16 routes to the SAN and 10.0.0.0/8 does not.
//! Beta's application listens on the wildcard 0.0.0.0:7000 (TCP and SAN). Signalled events go
//! from `Fabric::next_signal` to the owning host's `Switch::handle_event`, and every
//! `Switch::poll` event is drained, as a platform's waiter would.
//!
//! Cases (group `connect`), one cycle each:
//!
//! - `switch_san_cycle`: alpha connects to 10.1.0.2:7000 (pending), beta's switch accepts on
//!   the SAN, alpha is connected through "ib", beta's application takes the socket
//!   (`Switch::accept`), and both ends close. Every signal is delivered.
//! - `provider_san_cycle`: the same SAN exchange made on the two mock SAN providers directly
//!   (no switch), in the order the switch makes its calls: `WSPSocket`, `WSPBind`,
//!   `WSPEventSelect(FD_CONNECT)`, `WSPConnect`; beta `WSPEnumNetworkEvents` and `WSPAccept`;
//!   alpha `WSPEnumNetworkEvents`; `WSPCloseSocket` on both ends. `switch_san_cycle` minus
//!   this is the switch's overhead per SAN connect (goal: under 2 µs).
//! - `provider_san_plus_tcp_cycle`: `provider_san_cycle` plus the five mock TCP/IP calls the
//!   switch makes by design in a SAN cycle (alpha's socket, its bind to the SAN address, the
//!   accepted connection's socket on beta, and the two closes), so what remains of the
//!   difference is the switch's own bookkeeping.
//! - `switch_tcp_cycle`: alpha connects to 10.0.0.2:7000 (no SAN route: TCP), then closes.
//! - `direct_tcp_cycle`: the same socket, connect and close on alpha's attached `MockTcp`
//!   directly: what a user would have without the switch.
//! - `switch_san_cycle_idle/N`, `switch_tcp_cycle_idle/N` (N = 100 and 10,000) and
//!   `provider_san_cycle_idle/10000`: the same cycles with N idle SAN connections open
//!   between the hosts, to see whether the per-connect cost grows with the connections.
//!
//! Every 256 cycles a case takes its switches' traces and clears the mocks' call logs, inside
//! the timing: an embedder takes the trace, and the mocks log the same calls with and without
//! the switch. The fabric keeps every connection as history, with and without the switch.
//!
//! Before the group, the bench prints the memory per idle SAN connection (goal: under 1 KiB
//! per switch): it opens 10,000 connections between the two switches, with a counting global
//! allocator attributing every heap byte to alpha's switch, beta's switch, or the mocks
//! (fabric, mock providers and mock TCP/IP: provider and TCP/IP calls are wrapped to mark
//! themselves; the switch's up-call table, called from inside a provider, counts as the
//! switch); the bytes per connection are printed at 5,000 and 10,000 connections (hash tables
//! grow by doubling, so the figure moves with their fill), with the switches' traces taken, and
//! the trace's own bytes per connect separately. It also prints an interleaved A/B of the main
//! cases and of the SAN and TCP cycles with 10,000 idle connections (several rounds, each case
//! in turn), whose per-round medians make the differences less sensitive to drift (this
//! machine is shared) than separate criterion runs.
//!
//! The switches run without sessions (`SessionConfig::disabled()`), so the cycles measure the
//! connect path alone, comparable with the same calls made on the providers; the session's
//! negotiation and data transfer are measured by `cargo bench --bench session`.
//!
//! Run with `cargo bench --bench connect`.

// The bench binary installs a measuring global allocator (a counter around `System`), which
// needs `unsafe impl GlobalAlloc`. It exists only in this bench binary; the library crates stay
// free of unsafe code.
#![allow(unsafe_code)]
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mock_provider::{CallLog, Fabric, MockCatalog, MockConfig, MockLoader, MockProvider, MockTcp};
use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, NetworkEvents, Protocol, ProtocolInfo, SocketFlags,
    SocketType, WinsockVersion, WsaError, WsaNetworkEvents,
};
use switch_core::catalog::CatalogEntry;
use switch_core::connection::{ConnectReason, ConnectStatus, SocketId, SwitchEvent, Via};
use switch_core::provider::{
    Accepted, ConditionArgs, EventHandle, IoctlFailure, Overlapped, ProviderLoader, ProviderSocket,
    SanProvider, StartupAnswer, SwitchSocket, TcpProvider, TcpSocket, Upcalls,
};
use switch_core::session::conn::SessionConfig;
use switch_core::upcall::UpcallTable;
use switch_core::{ProviderId, ProviderState, RouteReason, SocketKind, Switch, SwitchConfig};

const ALPHA: usize = 0;
const BETA: usize = 1;
const ALPHA_SAN: &str = "10.1.0.1";
const BETA_SAN: &str = "10.1.0.2";
/// Beta's SAN address, on the port of its wildcard listener.
const SAN_DEST: &str = "10.1.0.2:7000";
/// Beta's TCP/IP interface: no SAN route.
const TCP_DEST: &str = "10.0.0.2:7000";
const LISTEN_ON: &str = "0.0.0.0:7000";
/// Idle connections of the memory measurement and of the 100x case.
const IDLE: usize = 10_000;
/// Cycles between two takes of the traces and clears of the call logs.
const HOUSEKEEPING_EVERY: u32 = 256;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The counting allocator.

/// Heap bytes not attributed to anything below (the bench's own).
const HARNESS: usize = 0;
/// Alpha's switch.
const ALPHA_SWITCH: usize = 1;
/// Beta's switch.
const BETA_SWITCH: usize = 2;
/// The fabric, the mock SAN providers and the mock TCP/IP providers.
const MOCKS: usize = 3;
const BUCKETS: usize = 4;

/// Whether the allocator counts (only around the memory measurement, so the timed cases pay
/// one relaxed load per allocation).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Requested bytes allocated minus freed while counting, per bucket.
static LIVE_BYTES: [AtomicIsize; BUCKETS] = [const { AtomicIsize::new(0) }; BUCKETS];
/// Blocks allocated minus freed while counting, per bucket.
static LIVE_BLOCKS: [AtomicIsize; BUCKETS] = [const { AtomicIsize::new(0) }; BUCKETS];

thread_local! {
    /// The bucket this thread's allocations go to now.
    static SIDE: Cell<usize> = const { Cell::new(HARNESS) };
}

/// A global allocator that forwards to [`System`] and, while [`COUNTING`], counts the live
/// requested bytes and blocks per bucket of [`SIDE`]. malloc's own per-block overhead is not
/// included (hence the block count).
struct Counting;

fn note(bytes: isize, blocks: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        // A const-initialized `Cell<usize>` thread local has no destructor and never
        // allocates; `try_with` also covers a thread being torn down.
        let side = SIDE.try_with(Cell::get).unwrap_or(HARNESS);
        LIVE_BYTES[side].fetch_add(bytes, Ordering::Relaxed);
        LIVE_BLOCKS[side].fetch_add(blocks, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it keeps
// the `GlobalAlloc` contract exactly as `System` does; the counting touches only atomics and a
// const thread local, and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize), -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize, 0);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations go to `bucket` until the guard drops (then to the bucket before).
struct Side(usize);

impl Side {
    fn enter(bucket: usize) -> Side {
        Side(SIDE.with(|s| s.replace(bucket)))
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        SIDE.with(|s| s.set(self.0));
    }
}

/// Live bytes and blocks per bucket now.
fn snapshot() -> [(isize, isize); BUCKETS] {
    std::array::from_fn(|i| {
        (
            LIVE_BYTES[i].load(Ordering::Relaxed),
            LIVE_BLOCKS[i].load(Ordering::Relaxed),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Attributing wrappers: provider and TCP/IP calls count as the mocks, up-calls as the switch.

/// A SAN provider whose calls count as [`MOCKS`], and whose up-calls into the switch (and the
/// switch's condition function) count as the switch's bucket.
struct Attributed {
    inner: Box<dyn SanProvider>,
    switch: usize,
}

struct AttributedUpcalls {
    inner: Arc<dyn Upcalls>,
    switch: usize,
}

impl Upcalls for AttributedUpcalls {
    fn create_socket_handle(
        &self,
        catalog_entry_id: u32,
        context: u64,
    ) -> Result<SwitchSocket, WsaError> {
        let _s = Side::enter(self.switch);
        self.inner.create_socket_handle(catalog_entry_id, context)
    }

    fn close_socket_handle(&self, socket: SwitchSocket) -> Result<(), WsaError> {
        let _s = Side::enter(self.switch);
        self.inner.close_socket_handle(socket)
    }

    fn query_socket_handle_context(&self, socket: SwitchSocket) -> Result<u64, WsaError> {
        let _s = Side::enter(self.switch);
        self.inner.query_socket_handle_context(socket)
    }

    fn complete_overlapped_request(
        &self,
        socket: SwitchSocket,
        overlapped: Overlapped,
        error: Option<WsaError>,
        bytes: usize,
    ) -> Result<(), WsaError> {
        let _s = Side::enter(self.switch);
        self.inner
            .complete_overlapped_request(socket, overlapped, error, bytes)
    }
}

impl SanProvider for Attributed {
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError> {
        let upcalls: Arc<dyn Upcalls> = Arc::new(AttributedUpcalls {
            inner: upcalls,
            switch: self.switch,
        });
        let _s = Side::enter(MOCKS);
        self.inner.startup_ex(version, protocol_info, upcalls)
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.cleanup()
    }

    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.socket(family, socket_type, protocol, flags)
    }

    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.bind(socket, address)
    }

    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.listen(socket, backlog)
    }

    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.connect(socket, address)
    }

    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError> {
        let switch = self.switch;
        let mut condition = |args: &ConditionArgs| {
            let _s = Side::enter(switch);
            condition(args)
        };
        let _s = Side::enter(MOCKS);
        self.inner.accept(socket, &mut condition)
    }

    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.event_select(socket, event, events)
    }

    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.enum_network_events(socket, event)
    }

    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        let _s = Side::enter(MOCKS);
        self.inner.ioctl(socket, code, input, output)
    }

    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.close_socket(socket)
    }

    fn set_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.inner.set_sock_opt(socket, level, name, value)
    }
}

/// A [`MockLoader`] whose providers are [`Attributed`] to `switch`.
struct AttributedLoader {
    inner: MockLoader,
    switch: usize,
}

impl ProviderLoader for AttributedLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        let inner = {
            let _s = Side::enter(MOCKS);
            self.inner.load(entry)?
        };
        Ok(Box::new(Attributed {
            inner,
            switch: self.switch,
        }))
    }
}

/// A TCP/IP provider the bench can reach the mock of (to clear its call list).
trait Tcp: TcpProvider {
    fn mock(&mut self) -> &mut MockTcp;
}

impl Tcp for MockTcp {
    fn mock(&mut self) -> &mut MockTcp {
        self
    }
}

/// A [`MockTcp`] whose calls count as [`MOCKS`].
struct AttributedTcp(MockTcp);

impl Tcp for AttributedTcp {
    fn mock(&mut self) -> &mut MockTcp {
        &mut self.0
    }
}

impl TcpProvider for AttributedTcp {
    fn socket(&mut self, family: AddressFamily, kind: SocketKind) -> Result<TcpSocket, WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.socket(family, kind)
    }

    fn bind(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.bind(socket, address)
    }

    fn set_option(
        &mut self,
        socket: TcpSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.set_option(socket, level, name, value)
    }

    fn connect(&mut self, socket: TcpSocket, address: SocketAddr) -> Result<SocketAddr, WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.connect(socket, address)
    }

    fn listen(&mut self, socket: TcpSocket, backlog: i32) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.listen(socket, backlog)
    }

    fn close(&mut self, socket: TcpSocket) -> Result<(), WsaError> {
        let _s = Side::enter(MOCKS);
        self.0.close(socket)
    }
}

// ---------------------------------------------------------------------------------------------
// Two hosts with a switch each.

/// Alpha (10.0.0.1) and beta (10.0.0.2).
fn fabric() -> Fabric {
    let f = Fabric::new();
    assert_eq!(f.add_host("alpha", [ip("10.0.0.1")]), ALPHA);
    assert_eq!(f.add_host("beta", [ip("10.0.0.2")]), BETA);
    f
}

/// Provider "ib" at `address`, on fabric "san0".
fn ib(address: &str) -> MockConfig {
    MockConfig::generic("ib").with_addresses([ip(address)])
}

struct Host<T> {
    switch: Switch,
    tcp: T,
    log: CallLog,
    /// The allocator bucket of this switch, when its memory is measured.
    bucket: Option<usize>,
}

impl<T: Tcp> Host<T> {
    fn new(f: &Fabric, index: usize, address: &str, tcp: T, attributed: bool) -> Self {
        let config = ib(address);
        let mut catalog = MockCatalog::with_tcpip();
        catalog.install_mock(&config);
        let mut loader = MockLoader::new();
        loader.add(config);
        loader.attach(f, index).unwrap();
        let log = loader.log().clone();
        let bucket = [ALPHA_SWITCH, BETA_SWITCH][index];
        let interfaces = vec!["10.1.0.0/16".parse().unwrap()];
        // The connect path alone: a session's negotiation (CONN-7) is measured by the
        // session bench.
        let mut switch = Switch::new(SwitchConfig {
            session: SessionConfig::disabled(),
            ..SwitchConfig::default()
        });
        let report = if attributed {
            let mut loader = AttributedLoader {
                inner: loader,
                switch: bucket,
            };
            let _s = Side::enter(bucket);
            switch.initialize(&catalog, &mut loader, interfaces)
        } else {
            switch.initialize(&catalog, &mut loader, interfaces)
        };
        assert_eq!(report.providers.len(), 1);
        assert_eq!(report.providers[0].state, ProviderState::Ready);
        Host {
            switch,
            tcp,
            log,
            bucket: attributed.then_some(bucket),
        }
    }

    /// Runs `f` on the switch, its allocations counted as the switch's when measured.
    #[inline]
    fn on<R>(&mut self, f: impl FnOnce(&mut Switch, &mut T) -> R) -> R {
        match self.bucket {
            None => f(&mut self.switch, &mut self.tcp),
            Some(b) => {
                let _s = Side::enter(b);
                f(&mut self.switch, &mut self.tcp)
            }
        }
    }

    /// Takes everything the switch says; a connect that was pending must end on the SAN.
    fn drain(&mut self) {
        while let Some(ev) = self.on(|s, _| s.poll()) {
            match ev {
                SwitchEvent::Connected { socket, result } => assert_eq!(
                    result.result,
                    Ok(Via::San(ProviderId(0))),
                    "{socket}: {result:?}"
                ),
                SwitchEvent::Rejected { .. } => panic!("{ev:?}"),
                SwitchEvent::Watch(_)
                | SwitchEvent::Unwatch(_)
                | SwitchEvent::Accepted { .. }
                | SwitchEvent::Sent { .. }
                | SwitchEvent::Readable { .. } => {}
            }
        }
    }

    /// Takes the trace and clears the mocks' call logs.
    fn housekeeping(&mut self) {
        // Dropped inside, so the trace's bytes are freed in the switch's bucket.
        self.on(|s, _| drop(s.take_trace()));
        let _s = Side::enter(MOCKS);
        self.log.clear();
        self.tcp.mock().calls.clear();
    }
}

/// Alpha and beta with their switches; beta listens on the wildcard.
struct Pair<T> {
    f: Fabric,
    alpha: Host<T>,
    beta: Host<T>,
    listener: SocketId,
    cycles: u32,
}

impl<T: Tcp> Pair<T> {
    fn new(attributed: bool, tcp: impl Fn(MockTcp) -> T) -> Self {
        let f = fabric();
        let alpha = Host::new(
            &f,
            ALPHA,
            ALPHA_SAN,
            tcp(MockTcp::attached(&f, ALPHA).unwrap()),
            attributed,
        );
        let mut beta = Host::new(
            &f,
            BETA,
            BETA_SAN,
            tcp(MockTcp::attached(&f, BETA).unwrap()),
            attributed,
        );
        let listener = beta.on(|s, tcp| {
            let l = s
                .socket(tcp, AddressFamily::INET, SocketKind::Stream)
                .unwrap();
            s.bind(tcp, l, addr(LISTEN_ON)).unwrap();
            let outcome = s.listen(tcp, l, 5, ConditionResult::Accept).unwrap();
            assert_eq!(outcome.san, vec![(ProviderId(0), Ok(()))]);
            l
        });
        let mut pair = Pair {
            f,
            alpha,
            beta,
            listener,
            cycles: 0,
        };
        pair.deliver();
        pair
    }

    /// Delivers every signal to its host's switch until none is left.
    fn deliver(&mut self) {
        self.alpha.drain();
        self.beta.drain();
        while let Some((i, event)) = self.f.next_signal() {
            let h = if i == ALPHA {
                &mut self.alpha
            } else {
                &mut self.beta
            };
            h.on(|s, tcp| s.handle_event(tcp, event));
            h.drain();
        }
    }

    /// Opens a SAN connection: alpha's socket and beta's accepted one.
    fn open_san(&mut self) -> (SocketId, SocketId) {
        let dest = addr(SAN_DEST);
        let s = self.alpha.on(|sw, tcp| {
            let s = sw
                .socket(tcp, AddressFamily::INET, SocketKind::Stream)
                .unwrap();
            let status = sw.connect(tcp, s, dest).unwrap();
            assert_eq!(status, ConnectStatus::Pending);
            s
        });
        self.deliver();
        let l = self.listener;
        let a = self
            .beta
            .on(|sw, _| sw.accept(l))
            .unwrap()
            .expect("beta accepted the connection");
        (s, a)
    }

    fn close(&mut self, (s, a): (SocketId, SocketId)) {
        self.alpha.on(|sw, tcp| sw.close(tcp, s)).unwrap();
        self.beta.on(|sw, tcp| sw.close(tcp, a)).unwrap();
        self.deliver();
    }

    fn tick(&mut self) {
        self.cycles += 1;
        if self.cycles.is_multiple_of(HOUSEKEEPING_EVERY) {
            self.alpha.housekeeping();
            self.beta.housekeeping();
        }
    }

    /// Connect over the SAN, accept, close both ends.
    fn san_cycle(&mut self) {
        let c = self.open_san();
        self.close(black_box(c));
        self.tick();
    }

    /// Connect over TCP (no SAN route), close.
    fn tcp_cycle(&mut self) {
        let dest = addr(TCP_DEST);
        self.alpha.on(|sw, tcp| {
            let s = sw
                .socket(tcp, AddressFamily::INET, SocketKind::Stream)
                .unwrap();
            let status = sw.connect(tcp, s, dest).unwrap();
            assert!(
                matches!(
                    status,
                    ConnectStatus::Done(r) if r.result == Ok(Via::Tcp)
                ),
                "{status:?}"
            );
            sw.close(tcp, black_box(s)).unwrap();
        });
        self.tick();
    }

    /// The same socket, connect and close on alpha's TCP/IP provider, without the switch.
    fn direct_tcp_cycle(&mut self) {
        let tcp = &mut self.alpha.tcp;
        let s = tcp.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
        tcp.connect(s, addr(TCP_DEST)).unwrap();
        tcp.close(black_box(s)).unwrap();
        self.tick();
    }

    /// Opens `n` SAN connections and keeps them.
    fn with_idle(mut self, n: usize) -> (Self, Vec<(SocketId, SocketId)>) {
        let idle = (0..n).map(|_| self.open_san()).collect();
        (self, idle)
    }
}

// ---------------------------------------------------------------------------------------------
// The two mock SAN providers without a switch.

/// Alpha's and beta's mock SAN providers (and mock TCP/IPs) on their own fabric, started as
/// the switch starts them, beta listening on the wildcard with `FD_ACCEPT` selected.
struct Bare {
    f: Fabric,
    alpha: MockProvider,
    beta: MockProvider,
    alpha_tcp: MockTcp,
    beta_tcp: MockTcp,
    log: CallLog,
    listener: ProviderSocket,
    listener_event: EventHandle,
    next_event: u64,
    next_port: u16,
    cycles: u32,
}

impl Bare {
    fn new() -> Self {
        let f = fabric();
        let log = CallLog::new();
        let start = |host: usize, address: &str| {
            let mut p = MockProvider::new(ib(address), log.clone());
            p.attach(&f, host).unwrap();
            p.startup_ex(
                WinsockVersion::V2_2,
                &ProtocolInfo::tcpip(1001),
                Arc::new(UpcallTable::new()),
            )
            .unwrap();
            p
        };
        let alpha = start(ALPHA, ALPHA_SAN);
        let mut beta = start(BETA, BETA_SAN);
        let listener_event = EventHandle(0);
        let listener = Self::stream(&mut beta);
        beta.bind(listener, addr(LISTEN_ON)).unwrap();
        beta.listen(listener, 5).unwrap();
        beta.event_select(listener, listener_event, NetworkEvents::ACCEPT)
            .unwrap();
        Bare {
            alpha_tcp: MockTcp::attached(&f, ALPHA).unwrap(),
            beta_tcp: MockTcp::attached(&f, BETA).unwrap(),
            f,
            alpha,
            beta,
            log,
            listener,
            listener_event,
            next_event: 1,
            next_port: 0,
            cycles: 0,
        }
    }

    fn stream(p: &mut MockProvider) -> ProviderSocket {
        p.socket(
            AddressFamily::INET,
            SocketType::STREAM,
            Protocol::TCP,
            SocketFlags::OVERLAPPED,
        )
        .unwrap()
    }

    /// One SAN connection, with the provider calls in the switch's order; with `tcp`, also the
    /// TCP/IP calls the switch makes around them. Answers alpha's and beta's SAN sockets and,
    /// with `tcp`, their TCP/IP sockets.
    fn open(&mut self, tcp: bool) -> (ProviderSocket, ProviderSocket, Option<[TcpSocket; 2]>) {
        let local = if tcp {
            let t = self
                .alpha_tcp
                .socket(AddressFamily::INET, SocketKind::Stream)
                .unwrap();
            let bound = self
                .alpha_tcp
                .bind(t, SocketAddr::new(ip(ALPHA_SAN), 0))
                .unwrap();
            Some((t, bound))
        } else {
            None
        };
        let bound = local.map_or_else(
            || {
                self.next_port = self.next_port.wrapping_add(1);
                SocketAddr::new(ip(ALPHA_SAN), 49152 + self.next_port % 16384)
            },
            |(_, b)| b,
        );
        let event = EventHandle(self.next_event);
        self.next_event += 1;
        let s = Self::stream(&mut self.alpha);
        self.alpha.bind(s, bound).unwrap();
        self.alpha
            .event_select(s, event, NetworkEvents::CONNECT)
            .unwrap();
        assert_eq!(
            self.alpha.connect(s, addr(SAN_DEST)),
            Err(WsaError::WSAEWOULDBLOCK)
        );
        let mut accepted = None;
        let mut connected = false;
        while let Some((host, ev)) = self.f.next_signal() {
            if host == BETA && ev == self.listener_event {
                let e = self
                    .beta
                    .enum_network_events(self.listener, Some(ev))
                    .unwrap();
                assert!(e.events.contains(NetworkEvents::ACCEPT));
                let a = self
                    .beta
                    .accept(self.listener, &mut |_: &ConditionArgs| {
                        ConditionResult::Accept
                    })
                    .unwrap();
                if tcp {
                    let t = self
                        .beta_tcp
                        .socket(AddressFamily::INET, SocketKind::Stream)
                        .unwrap();
                    accepted = Some((a.socket, Some(t)));
                } else {
                    accepted = Some((a.socket, None));
                }
            } else if host == ALPHA && ev == event {
                let e = self.alpha.enum_network_events(s, Some(ev)).unwrap();
                assert!(e.events.contains(NetworkEvents::CONNECT));
                assert_eq!(e.error_for(NetworkEvents::CONNECT), None);
                connected = true;
            } else {
                panic!("unexpected signal {ev:?} on host {host}");
            }
        }
        assert!(connected);
        let (a, beta_tcp) = accepted.expect("beta accepted");
        let tcps = local.zip(beta_tcp).map(|((t, _), u)| [t, u]);
        (s, a, tcps)
    }

    fn close(&mut self, (s, a, tcps): (ProviderSocket, ProviderSocket, Option<[TcpSocket; 2]>)) {
        self.alpha.close_socket(s).unwrap();
        if let Some([t, _]) = tcps {
            self.alpha_tcp.close(t).unwrap();
        }
        self.beta.close_socket(a).unwrap();
        if let Some([_, u]) = tcps {
            self.beta_tcp.close(u).unwrap();
        }
    }

    fn cycle(&mut self, tcp: bool) {
        let c = self.open(tcp);
        self.close(black_box(c));
        self.cycles += 1;
        if self.cycles.is_multiple_of(HOUSEKEEPING_EVERY) {
            self.log.clear();
            self.alpha_tcp.calls.clear();
            self.beta_tcp.calls.clear();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks, memory, and the interleaved A/B.

/// Checks once that each cycle does what it says and leaves nothing behind.
fn check() {
    let mut pair = Pair::new(false, |t| t);
    let open_before = (pair.f.open_sockets(ALPHA), pair.f.open_sockets(BETA));
    let connections = pair.f.connections().len();
    pair.san_cycle();
    let made = pair.f.connections();
    assert_eq!(made.len(), connections + 1);
    let c = &made[connections];
    assert_eq!(
        c.caller.transport,
        mock_provider::Transport::San("ib".into())
    );
    assert_eq!(c.callee.address, addr(SAN_DEST));
    assert!(!c.caller.open && !c.callee.open);
    assert_eq!(pair.f.pending_signals(), 0);

    // The TCP connect is decided by the routing table alone.
    let s = pair
        .alpha
        .switch
        .socket(&mut pair.alpha.tcp, AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    let status = pair
        .alpha
        .switch
        .connect(&mut pair.alpha.tcp, s, addr(TCP_DEST))
        .unwrap();
    let ConnectStatus::Done(r) = status else {
        panic!("{status:?}");
    };
    assert_eq!(r.result, Ok(Via::Tcp));
    assert_eq!(r.reason, ConnectReason::Route(RouteReason::NoRoute));
    pair.alpha.switch.close(&mut pair.alpha.tcp, s).unwrap();
    pair.tcp_cycle();
    pair.direct_tcp_cycle();
    assert_eq!(
        (pair.f.open_sockets(ALPHA), pair.f.open_sockets(BETA)),
        open_before
    );
    let stats = pair.alpha.switch.connect_stats();
    assert_eq!((stats.san, stats.tcp, stats.failed), (1, 2, 0));

    let mut bare = Bare::new();
    let open_before = (bare.f.open_sockets(ALPHA), bare.f.open_sockets(BETA));
    bare.cycle(false);
    bare.cycle(true);
    assert_eq!(
        (bare.f.open_sockets(ALPHA), bare.f.open_sockets(BETA)),
        open_before
    );
    assert_eq!(bare.f.connections().len(), 2);
    assert_eq!(bare.f.pending_signals(), 0);
}

/// Opens 10,000 SAN connections between the two switches with the counting allocator on, and
/// prints what each switch and the mocks keep per connection.
fn memory() {
    let mut pair = Pair::new(true, AttributedTcp);
    // Warm up every lazily grown buffer (event queues, the listener's accept queue).
    for _ in 0..HOUSEKEEPING_EVERY {
        pair.san_cycle();
    }
    let mut idle = Vec::with_capacity(IDLE);
    pair.alpha.housekeeping();
    pair.beta.housekeeping();

    COUNTING.store(true, Ordering::SeqCst);
    let start = snapshot();
    for _ in 0..IDLE / 2 {
        idle.push(pair.open_san());
    }
    pair.alpha.housekeeping();
    pair.beta.housekeeping();
    let half = snapshot();
    for _ in IDLE / 2..IDLE {
        idle.push(pair.open_san());
    }
    let with_trace = snapshot();
    pair.alpha.housekeeping();
    pair.beta.housekeeping();
    let end = snapshot();
    COUNTING.store(false, Ordering::SeqCst);

    let per = |a: &[(isize, isize); BUCKETS], b: &[(isize, isize); BUCKETS], i: usize, n: usize| {
        (
            (b[i].0 - a[i].0) as f64 / n as f64,
            (b[i].1 - a[i].1) as f64 / n as f64,
        )
    };
    let (alpha, alpha_blocks) = per(&start, &end, ALPHA_SWITCH, IDLE);
    let (beta, beta_blocks) = per(&start, &end, BETA_SWITCH, IDLE);
    let (mocks, mocks_blocks) = per(&start, &end, MOCKS, IDLE);
    let (alpha_half, _) = per(&start, &half, ALPHA_SWITCH, IDLE / 2);
    let (beta_half, _) = per(&start, &half, BETA_SWITCH, IDLE / 2);
    let (alpha_trace, _) = per(&end, &with_trace, ALPHA_SWITCH, IDLE / 2);
    let (beta_trace, _) = per(&end, &with_trace, BETA_SWITCH, IDLE / 2);
    println!(
        "connect/memory: {IDLE} idle SAN connections between two switches (requested heap \
         bytes, counted by the bench's allocator; malloc's per-block overhead not included)"
    );
    println!(
        "connect/memory:   alpha's switch (connecting end): {alpha:.0} B per connection \
         ({alpha_blocks:.2} blocks); {alpha_half:.0} B at {}",
        IDLE / 2
    );
    println!(
        "connect/memory:   beta's switch (accepting end):   {beta:.0} B per connection \
         ({beta_blocks:.2} blocks); {beta_half:.0} B at {}",
        IDLE / 2
    );
    println!(
        "connect/memory:   both switches: {:.0} B per connection (goal: under 1 KiB per switch)",
        alpha + beta
    );
    println!(
        "connect/memory:   trace held until taken: {alpha_trace:.0} B per connect (alpha), \
         {beta_trace:.0} B (beta)"
    );
    println!(
        "connect/memory:   mocks (fabric incl. its connection history, mock providers, mock \
         TCP/IP; call logs cleared): {mocks:.0} B per connection ({mocks_blocks:.2} blocks)"
    );
    println!(
        "connect/memory:   bench harness: {} B",
        end[HARNESS].0 - start[HARNESS].0
    );
    assert_eq!(idle.len(), IDLE);
    drop(idle);
    drop(pair);
}

/// Median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The main cases and their 10,000-idle versions in turn, several rounds, each case `CYCLES`
/// cycles per round; prints the median ns per cycle of each and the differences.
fn interleaved() {
    const ROUNDS: usize = 15;
    const CYCLES: u32 = 2_000;
    let mut pair = Pair::new(false, |t| t);
    let mut bare = Bare::new();
    let (mut crowded, idle) = Pair::new(false, |t| t).with_idle(IDLE);
    let mut crowded_bare = Bare::new();
    let bare_idle: Vec<_> = (0..IDLE).map(|_| crowded_bare.open(false)).collect();
    let mut ns: [Vec<f64>; 8] = Default::default();
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..CYCLES {
            f();
        }
        t.elapsed().as_nanos() as f64 / f64::from(CYCLES)
    };
    for _ in 0..ROUNDS {
        ns[0].push(time(&mut || pair.san_cycle()));
        ns[1].push(time(&mut || bare.cycle(false)));
        ns[2].push(time(&mut || bare.cycle(true)));
        ns[3].push(time(&mut || pair.tcp_cycle()));
        ns[4].push(time(&mut || pair.direct_tcp_cycle()));
        ns[5].push(time(&mut || crowded.san_cycle()));
        ns[6].push(time(&mut || crowded_bare.cycle(false)));
        ns[7].push(time(&mut || crowded.tcp_cycle()));
    }
    assert_eq!((idle.len(), bare_idle.len()), (IDLE, IDLE));
    let [
        san,
        provider,
        provider_tcp,
        tcp,
        direct,
        san_idle,
        provider_idle,
        tcp_idle,
    ] = ns.map(|mut v| median(&mut v));
    println!(
        "connect/interleaved ({ROUNDS} rounds x {CYCLES} cycles, medians, ns per cycle): \
         switch_san {san:.0}, provider_san {provider:.0}, provider_san_plus_tcp \
         {provider_tcp:.0}, switch_tcp {tcp:.0}, direct_tcp {direct:.0}"
    );
    println!(
        "connect/interleaved: switch overhead per SAN connect {:.0} ns ({:.2}x the providers \
         alone; {:.0} ns beyond the provider and TCP/IP calls), per TCP connect {:.0} ns \
         ({:.2}x direct TCP)",
        san - provider,
        san / provider,
        san - provider_tcp,
        tcp - direct,
        tcp / direct
    );
    println!(
        "connect/interleaved: with {IDLE} idle connections: switch_san {san_idle:.0} \
         ({:.2}x), provider_san {provider_idle:.0} ({:.2}x), switch overhead per SAN connect \
         {:.0} ns, switch_tcp {tcp_idle:.0} ({:.2}x)",
        san_idle / san,
        provider_idle / provider,
        san_idle - provider_idle,
        tcp_idle / tcp
    );
}

fn connect(c: &mut Criterion) {
    check();
    memory();
    interleaved();

    let mut g = c.benchmark_group("connect");
    let mut pair = Pair::new(false, |t| t);
    g.bench_function("switch_san_cycle", |b| b.iter(|| pair.san_cycle()));
    let mut bare = Bare::new();
    g.bench_function("provider_san_cycle", |b| b.iter(|| bare.cycle(false)));
    g.bench_function("provider_san_plus_tcp_cycle", |b| {
        b.iter(|| bare.cycle(true))
    });
    g.bench_function("switch_tcp_cycle", |b| b.iter(|| pair.tcp_cycle()));
    g.bench_function("direct_tcp_cycle", |b| b.iter(|| pair.direct_tcp_cycle()));
    drop((pair, bare));

    for n in [100, IDLE] {
        let (mut pair, idle) = Pair::new(false, |t| t).with_idle(n);
        g.bench_with_input(BenchmarkId::new("switch_san_cycle_idle", n), &n, |b, _| {
            b.iter(|| pair.san_cycle())
        });
        g.bench_with_input(BenchmarkId::new("switch_tcp_cycle_idle", n), &n, |b, _| {
            b.iter(|| pair.tcp_cycle())
        });
        assert_eq!(idle.len(), n);
    }
    let mut bare = Bare::new();
    let idle: Vec<_> = (0..IDLE).map(|_| bare.open(false)).collect();
    g.bench_with_input(
        BenchmarkId::new("provider_san_cycle_idle", IDLE),
        &IDLE,
        |b, _| b.iter(|| bare.cycle(false)),
    );
    assert_eq!(idle.len(), IDLE);
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(15)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = connect
}
criterion_main!(benches);
