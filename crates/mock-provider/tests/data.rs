//! The mock's data edge, driven through the provider traits directly: messages and their two
//! completion modes (SESS-5), the provider's size options (SESS-3), registered memory and the
//! model NIC's access rules (MEM-1), the registration cache (MEM-2), closing (CLOSE-1), and the
//! mock TCP/IP provider's byte streams (SESS-4, SESS-6).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use mock_provider::fabric::RDMA_DESCRIPTOR_LEN;
use mock_provider::{CallLog, Fabric, MemoryStats, MockConfig, MockProvider, MockTcp, TcpCall};
use spi_types::consts::{
    SO_DEBUG, SO_MAX_MSG_SIZE, SO_MAX_RDMA_SIZE, SO_RDMA_THRESHOLD_SIZE, SOL_SOCKET,
};
use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, MemoryAccess, MsgFlags, NetworkEvents, Protocol,
    ProtocolInfo, SanExtension, SocketFlags, SocketType, WinsockVersion, WsaError,
};
use switch_core::memory::{Buffer, MemoryHandle, MemoryRange, WsaBufEx};
use switch_core::provider::{
    ConditionArgs, DataOutcome, ExtensionHandle, IoctlFailure, Overlapped, ProviderSocket,
    SanProvider, Shutdown, SwitchSocket, TcpProvider, Upcalls,
};
use switch_core::routing::SocketKind;
use switch_core::trace::Call;

const ALPHA: usize = 0;
const BETA: usize = 1;

const PENDING: Result<DataOutcome, WsaError> = Ok(DataOutcome::Pending);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Two hosts: alpha (interface 10.0.0.1) and beta (interface 10.0.0.2).
fn fabric() -> Fabric {
    let f = Fabric::new();
    assert_eq!(f.add_host("alpha", [ip("10.0.0.1")]), ALPHA);
    assert_eq!(f.add_host("beta", [ip("10.0.0.2")]), BETA);
    f
}

/// An up-call the recording table received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Up {
    Created(SwitchSocket),
    Completed {
        socket: SwitchSocket,
        id: u64,
        error: Option<WsaError>,
        bytes: usize,
    },
    Closed(SwitchSocket),
}

/// An up-call table that records every up-call in order.
#[derive(Default)]
struct Recorder {
    state: Mutex<(u64, Vec<Up>, HashMap<u64, SwitchSocket>)>,
}

impl Recorder {
    fn all(&self) -> Vec<Up> {
        self.state.lock().unwrap().1.clone()
    }

    /// The completions, as (switch socket, request id, error, bytes).
    fn completions(&self) -> Vec<(SwitchSocket, u64, Option<WsaError>, usize)> {
        self.all()
            .into_iter()
            .filter_map(|u| match u {
                Up::Completed {
                    socket,
                    id,
                    error,
                    bytes,
                } => Some((socket, id, error, bytes)),
                _ => None,
            })
            .collect()
    }

    /// The switch handle made for a provider socket (its context).
    fn handle_of(&self, s: ProviderSocket) -> SwitchSocket {
        self.state.lock().unwrap().2[&s.0]
    }
}

impl Upcalls for Recorder {
    fn create_socket_handle(&self, _entry: u32, context: u64) -> Result<SwitchSocket, WsaError> {
        let mut st = self.state.lock().unwrap();
        st.0 += 1;
        let h = SwitchSocket(0x900 + st.0);
        st.1.push(Up::Created(h));
        st.2.insert(context, h);
        Ok(h)
    }

    fn close_socket_handle(&self, socket: SwitchSocket) -> Result<(), WsaError> {
        self.state.lock().unwrap().1.push(Up::Closed(socket));
        Ok(())
    }

    fn query_socket_handle_context(&self, _socket: SwitchSocket) -> Result<u64, WsaError> {
        Ok(0)
    }

    fn complete_overlapped_request(
        &self,
        socket: SwitchSocket,
        overlapped: Overlapped,
        error: Option<WsaError>,
        bytes: usize,
    ) -> Result<(), WsaError> {
        self.state.lock().unwrap().1.push(Up::Completed {
            socket,
            id: overlapped.id,
            error,
            bytes,
        });
        Ok(())
    }
}

/// A started mock SAN provider with a recording up-call table and the extension entry points
/// it returned.
struct Host {
    p: MockProvider,
    up: Arc<Recorder>,
    log: CallLog,
    ext: HashMap<SanExtension, ExtensionHandle>,
}

/// A started mock attached to `host` (or to no fabric).
fn host(f: Option<&Fabric>, host: usize, config: MockConfig) -> Host {
    let log = CallLog::new();
    let mut p = MockProvider::new(config, log.clone());
    if let Some(f) = f {
        p.attach(f, host).unwrap();
    }
    let up = Arc::new(Recorder::default());
    p.startup_ex(WinsockVersion::V2_2, &ProtocolInfo::tcpip(1001), up.clone())
        .unwrap();
    let mut ext = HashMap::new();
    for e in SanExtension::ALL {
        let mut out = [0u8; 8];
        if let Ok(8) = p.ioctl(
            ProviderSocket(0),
            IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
            &e.guid().to_bytes(),
            &mut out,
        ) {
            ext.insert(e, ExtensionHandle(u64::from_le_bytes(out)));
        }
    }
    Host { p, up, log, ext }
}

fn ib(address: &str) -> MockConfig {
    MockConfig::generic("ib").with_addresses([ip(address)])
}

fn ov(id: u64) -> Overlapped {
    Overlapped {
        id,
        poll_only: false,
    }
}

fn poll(id: u64) -> Overlapped {
    Overlapped {
        id,
        poll_only: true,
    }
}

fn wb(buffer: &Buffer, offset: usize, len: usize, handle: MemoryHandle) -> WsaBufEx {
    WsaBufEx {
        range: MemoryRange {
            buffer: buffer.clone(),
            offset,
            len,
        },
        handle,
    }
}

fn range(buffer: &Buffer, offset: usize, len: usize) -> MemoryRange {
    MemoryRange {
        buffer: buffer.clone(),
        offset,
        len,
    }
}

fn bytes(b: &Buffer, offset: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    b.read(offset, &mut out).unwrap();
    out
}

impl Host {
    fn e(&self, ext: SanExtension) -> ExtensionHandle {
        self.ext[&ext]
    }

    fn socket(&mut self) -> ProviderSocket {
        self.p
            .socket(
                AddressFamily::INET,
                SocketType::STREAM,
                Protocol::TCP,
                SocketFlags::OVERLAPPED,
            )
            .unwrap()
    }

    fn handle(&self, s: ProviderSocket) -> SwitchSocket {
        self.up.handle_of(s)
    }

    fn reg(
        &mut self,
        s: ProviderSocket,
        b: &Buffer,
        offset: usize,
        len: usize,
        access: MemoryAccess,
    ) -> MemoryHandle {
        let entry = self.e(SanExtension::RegisterMemory);
        self.p
            .register_memory(entry, s, &range(b, offset, len), access)
            .unwrap()
    }

    fn dereg(&mut self, s: ProviderSocket, h: MemoryHandle) -> Result<(), WsaError> {
        let entry = self.e(SanExtension::DeregisterMemory);
        self.p.deregister_memory(entry, s, h)
    }

    fn rdma_reg(
        &mut self,
        s: ProviderSocket,
        b: &Buffer,
        offset: usize,
        len: usize,
        access: MemoryAccess,
    ) -> Vec<u8> {
        let entry = self.e(SanExtension::RegisterRdmaMemory);
        let mut d = vec![0u8; 64];
        let n = self
            .p
            .register_rdma_memory(entry, s, &range(b, offset, len), access, &mut d)
            .unwrap();
        d.truncate(n);
        d
    }

    fn rdma_dereg(&mut self, s: ProviderSocket, d: &[u8]) -> Result<(), WsaError> {
        let entry = self.e(SanExtension::DeregisterRdmaMemory);
        self.p.deregister_rdma_memory(entry, s, d)
    }

    fn write(
        &mut self,
        s: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        offset: u32,
        o: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        let entry = self.e(SanExtension::RdmaWrite);
        self.p.rdma_write(entry, s, local, target, offset, o)
    }

    fn read(
        &mut self,
        s: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        offset: u32,
        o: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        let entry = self.e(SanExtension::RdmaRead);
        self.p.rdma_read(entry, s, local, target, offset, o)
    }

    fn cache_callback(&mut self, address: u64, size: usize) -> Result<(), WsaError> {
        let entry = self.e(SanExtension::MemoryRegistrationCacheCallback);
        self.p
            .memory_registration_cache_callback(entry, address, size)
    }
}

/// Alpha's and beta's providers on one fabric, beta listening on 10.1.0.2:5000.
struct Net {
    f: Fabric,
    a: Host,
    b: Host,
    listener: ProviderSocket,
}

fn net_with(a: MockConfig, b: MockConfig) -> Net {
    let f = fabric();
    let mut b = host(Some(&f), BETA, b);
    let listener = b.socket();
    b.p.bind(listener, addr("10.1.0.2:5000")).unwrap();
    b.p.listen(listener, 5).unwrap();
    let a = host(Some(&f), ALPHA, a);
    Net { f, a, b, listener }
}

fn net() -> Net {
    net_with(ib("10.1.0.1"), ib("10.1.0.2"))
}

impl Net {
    /// A new connection: alpha's socket and beta's accepted socket.
    fn connect(&mut self) -> (ProviderSocket, ProviderSocket) {
        let c = self.a.socket();
        self.a.p.bind(c, addr("10.1.0.1:0")).unwrap();
        assert_eq!(
            self.a.p.connect(c, addr("10.1.0.2:5000")),
            Err(WsaError::WSAEWOULDBLOCK)
        );
        let accepted = self
            .b
            .p
            .accept(self.listener, &mut |_: &ConditionArgs| {
                ConditionResult::Accept
            })
            .unwrap()
            .socket;
        let events = self.a.p.enum_network_events(c, None).unwrap();
        assert!(events.events.contains(NetworkEvents::CONNECT));
        assert_eq!(events.error_for(NetworkEvents::CONNECT), None);
        (c, accepted)
    }
}

#[test]
fn sess_5_send_and_receive_complete_through_the_up_call() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let src = Buffer::from_vec(b"hello world".to_vec());
    let hs = n.a.reg(ca, &src, 0, 11, MemoryAccess::READ);
    let dst = Buffer::zeroed(64);
    let hd = n.b.reg(cb, &dst, 0, 64, MemoryAccess::WRITE);

    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 64, hd)], ov(7)), PENDING);
    assert!(n.b.up.completions().is_empty(), "nothing has arrived");
    assert_eq!(
        n.a.p
            .send(ca, &[wb(&src, 0, 5, hs), wb(&src, 5, 6, hs)], ov(1)),
        PENDING,
        "never inline"
    );
    assert_eq!(n.a.up.completions(), [(n.a.handle(ca), 1, None, 11)]);
    assert_eq!(n.b.up.completions(), [(n.b.handle(cb), 7, None, 11)]);
    assert_eq!(bytes(&dst, 0, 11), b"hello world");
    // A request that up-calls is not polled.
    assert_eq!(
        n.a.p.get_overlapped_result(ca, ov(1)),
        Err(WsaError::WSAEINVAL)
    );
    // The other direction, into the middle of a buffer.
    let back = Buffer::zeroed(16);
    let hback = n.a.reg(ca, &back, 0, 16, MemoryAccess::READWRITE);
    let hs2 = n.b.reg(cb, &dst, 0, 64, MemoryAccess::READ);
    assert_eq!(n.a.p.recv(ca, &[wb(&back, 4, 12, hback)], ov(2)), PENDING);
    assert_eq!(n.b.p.send(cb, &[wb(&dst, 6, 5, hs2)], ov(8)), PENDING);
    assert_eq!(bytes(&back, 0, 9), b"\0\0\0\0world");
    assert_eq!(n.a.up.completions()[1], (n.a.handle(ca), 2, None, 5));
    assert_eq!(n.b.up.completions()[1], (n.b.handle(cb), 8, None, 5));
    assert_eq!(n.a.log.count("ib", Call::Send), 1);
    assert_eq!(n.a.log.count("ib", Call::Recv), 1);
    assert_eq!(n.f.mem_violations(), 0);
}

#[test]
fn sess_5_poll_only_requests_are_polled_and_never_up_called() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let src = Buffer::from_vec(b"polled".to_vec());
    let hs = n.a.reg(ca, &src, 0, 6, MemoryAccess::READ);
    let dst = Buffer::zeroed(32);
    let hd = n.b.reg(cb, &dst, 0, 32, MemoryAccess::WRITE);

    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 32, hd)], poll(9)), PENDING);
    assert_eq!(
        n.b.p.get_overlapped_result(cb, poll(9)),
        Err(WsaError::WSA_IO_INCOMPLETE)
    );
    // Reusing the request of a receive under way is refused.
    assert_eq!(
        n.b.p.recv(cb, &[wb(&dst, 0, 32, hd)], poll(9)),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(n.a.p.send(ca, &[wb(&src, 0, 6, hs)], poll(3)), PENDING);
    assert_eq!(n.a.p.get_overlapped_result(ca, poll(3)), Ok(6));
    assert_eq!(n.b.p.get_overlapped_result(cb, poll(9)), Ok(6));
    assert_eq!(bytes(&dst, 0, 6), b"polled");
    // A result is answered once; an id the socket never saw is WSAEINVAL; so is another
    // socket's request.
    assert_eq!(
        n.b.p.get_overlapped_result(cb, poll(9)),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        n.b.p.get_overlapped_result(cb, poll(12345)),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        n.b.p.get_overlapped_result(ProviderSocket(0xdead), poll(9)),
        Err(WsaError::WSAENOTSOCK)
    );
    assert!(n.a.up.completions().is_empty());
    assert!(n.b.up.completions().is_empty());

    // Mixed: a polled send, an up-called receive.
    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 32, hd)], ov(10)), PENDING);
    assert_eq!(n.a.p.send(ca, &[wb(&src, 0, 4, hs)], poll(4)), PENDING);
    assert_eq!(n.b.up.completions(), [(n.b.handle(cb), 10, None, 4)]);
    assert_eq!(n.a.p.get_overlapped_result(ca, poll(4)), Ok(4));
    assert!(n.a.up.completions().is_empty());
}

#[test]
fn sess_5_a_message_sent_before_a_receive_is_posted_is_held_in_order() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let src = Buffer::from_vec(b"onetwothree".to_vec());
    let hs = n.a.reg(ca, &src, 0, 11, MemoryAccess::READ);
    for (i, (off, len)) in [(0, 3), (3, 3), (6, 5)].into_iter().enumerate() {
        assert_eq!(
            n.a.p.send(ca, &[wb(&src, off, len, hs)], ov(i as u64)),
            PENDING
        );
    }
    // Every send completed once its message was handed over, received or not.
    assert_eq!(
        n.a.up.completions(),
        [
            (n.a.handle(ca), 0, None, 3),
            (n.a.handle(ca), 1, None, 3),
            (n.a.handle(ca), 2, None, 5)
        ]
    );
    let dst = Buffer::zeroed(64);
    let hd = n.b.reg(cb, &dst, 0, 64, MemoryAccess::WRITE);
    for i in 0..4 {
        assert_eq!(
            n.b.p
                .recv(cb, &[wb(&dst, 16 * i, 16, hd)], ov(100 + i as u64)),
            PENDING
        );
    }
    let cbh = n.b.handle(cb);
    assert_eq!(
        n.b.up.completions(),
        [
            (cbh, 100, None, 3),
            (cbh, 101, None, 3),
            (cbh, 102, None, 5)
        ],
        "the fourth receive waits"
    );
    assert_eq!(bytes(&dst, 0, 3), b"one");
    assert_eq!(bytes(&dst, 16, 3), b"two");
    assert_eq!(bytes(&dst, 32, 5), b"three");
    assert_eq!(n.a.p.send(ca, &[wb(&src, 0, 1, hs)], ov(3)), PENDING);
    assert_eq!(n.b.up.completions()[3], (cbh, 103, None, 1));
    assert_eq!(bytes(&dst, 48, 1), b"o");
}

#[test]
fn sess_5_too_large_messages_fail_with_wsaemsgsize_both_ways() {
    let mut n = net_with(ib("10.1.0.1").with_max_msg_size(16), ib("10.1.0.2"));
    let (ca, cb) = n.connect();
    let src = Buffer::from_vec((0u8..32).collect());
    let hs = n.a.reg(ca, &src, 0, 32, MemoryAccess::READ);
    let dst = Buffer::zeroed(32);
    let hd = n.b.reg(cb, &dst, 0, 32, MemoryAccess::WRITE);

    // A send above SO_MAX_MSG_SIZE.
    assert_eq!(
        n.a.p
            .send(ca, &[wb(&src, 0, 10, hs), wb(&src, 10, 7, hs)], ov(1)),
        Err(WsaError::WSAEMSGSIZE)
    );
    assert!(n.a.up.completions().is_empty());
    // A message larger than the receive already posted: that receive fails, the message is
    // dropped.
    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 8, hd)], ov(10)), PENDING);
    assert_eq!(n.a.p.send(ca, &[wb(&src, 0, 16, hs)], ov(2)), PENDING);
    let cbh = n.b.handle(cb);
    assert_eq!(
        n.b.up.completions(),
        [(cbh, 10, Some(WsaError::WSAEMSGSIZE), 0)]
    );
    assert_eq!(n.a.up.completions(), [(n.a.handle(ca), 2, None, 16)]);
    // A held message larger than the receive posted later: the same.
    assert_eq!(n.a.p.send(ca, &[wb(&src, 0, 12, hs)], ov(3)), PENDING);
    assert_eq!(n.a.p.send(ca, &[wb(&src, 20, 4, hs)], ov(4)), PENDING);
    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 8, hd)], ov(11)), PENDING);
    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 8, hd)], ov(12)), PENDING);
    assert_eq!(
        n.b.up.completions()[1..],
        [
            (cbh, 11, Some(WsaError::WSAEMSGSIZE), 0),
            (cbh, 12, None, 4)
        ]
    );
    assert_eq!(bytes(&dst, 0, 4), [20, 21, 22, 23]);
    assert_eq!(n.f.mem_violations(), 0);
}

#[test]
fn sess_5_data_calls_check_their_arguments() {
    let mut n = net();
    let (ca, _cb) = n.connect();
    let buf = Buffer::zeroed(64);
    let h = n.a.reg(ca, &buf, 0, 64, MemoryAccess::READWRITE);
    let nine: Vec<WsaBufEx> = (0..9).map(|i| wb(&buf, i, 1, h)).collect();
    assert_eq!(n.a.p.send(ca, &nine, ov(1)), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.p.send(ca, &[], ov(1)), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.p.recv(ca, &nine[..2], ov(1)), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.p.recv(ca, &[], ov(1)), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.p.send(ca, &nine[..8], ov(1)), PENDING, "8 is fine");
    let d = vec![0u8; RDMA_DESCRIPTOR_LEN];
    assert_eq!(n.a.write(ca, &nine, &d, 0, ov(2)), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.read(ca, &[], &d, 0, ov(2)), Err(WsaError::WSAEINVAL));
    // Unknown socket.
    let ghost = ProviderSocket(0xdead);
    assert_eq!(
        n.a.p.send(ghost, &nine[..1], ov(3)),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(
        n.a.p.recv(ghost, &nine[..1], ov(3)),
        Err(WsaError::WSAENOTSOCK)
    );
    // A socket with no connection.
    let lone = n.a.socket();
    let hl = n.a.reg(lone, &buf, 0, 64, MemoryAccess::READWRITE);
    let one = [wb(&buf, 0, 8, hl)];
    assert_eq!(n.a.p.send(lone, &one, ov(4)), Err(WsaError::WSAENOTCONN));
    assert_eq!(n.a.p.recv(lone, &one, ov(4)), Err(WsaError::WSAENOTCONN));
    assert_eq!(
        n.a.write(lone, &one, &d, 0, ov(4)),
        Err(WsaError::WSAENOTCONN)
    );
    let entry = n.a.e(SanExtension::RegisterRdmaMemory);
    assert_eq!(
        n.a.p.register_rdma_memory(
            entry,
            lone,
            &range(&buf, 0, 8),
            MemoryAccess::READ,
            &mut [0u8; 24]
        ),
        Err(IoctlFailure::new(WsaError::WSAENOTCONN))
    );
    // A mock on no fabric has no connection either.
    let mut solo = host(None, 0, ib("10.1.0.9"));
    let s = solo.socket();
    let hsolo = solo.reg(s, &buf, 0, 64, MemoryAccess::READ);
    assert_eq!(
        solo.p.send(s, &[wb(&buf, 0, 8, hsolo)], ov(1)),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(
        solo.p.get_overlapped_result(s, poll(1)),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(n.f.mem_violations(), 0);
}

#[test]
fn sess_5_extension_calls_need_the_entry_point_the_mock_returned() {
    let mut n = net_with(ib("10.1.0.1").without_rdma_read(), ib("10.1.0.2"));
    let (ca, cb) = n.connect();
    assert!(!n.a.ext.contains_key(&SanExtension::RdmaRead));
    let buf = Buffer::zeroed(16);
    let r = range(&buf, 0, 16);
    // Another extension's entry point, a made-up one.
    for entry in [n.a.e(SanExtension::DeregisterMemory), ExtensionHandle(1)] {
        assert_eq!(
            n.a.p.register_memory(entry, ca, &r, MemoryAccess::READ),
            Err(WsaError::WSAEINVAL)
        );
        assert_eq!(
            n.a.p
                .memory_registration_cache_callback(entry, buf.addr(), 16),
            Err(WsaError::WSAEINVAL)
        );
    }
    let h = n.a.reg(ca, &buf, 0, 16, MemoryAccess::READWRITE);
    let wrong = n.a.e(SanExtension::RegisterMemory);
    assert_eq!(
        n.a.p.deregister_memory(wrong, ca, h),
        Err(WsaError::WSAEINVAL)
    );
    // The entry point RdmaRead would have had: never returned, so never valid.
    let target = Buffer::zeroed(16);
    let d = n.b.rdma_reg(cb, &target, 0, 16, MemoryAccess::READWRITE);
    let would_be = ExtensionHandle(n.b.e(SanExtension::RdmaRead).0);
    assert_eq!(
        n.a.p
            .rdma_read(would_be, ca, &[wb(&buf, 0, 4, h)], &d, 0, ov(1)),
        Err(WsaError::WSAEINVAL)
    );
    // RdmaWrite's entry point given to RdmaWrite works; given to register_rdma it does not.
    let w = n.a.e(SanExtension::RdmaWrite);
    assert_eq!(
        n.a.p.rdma_write(w, ca, &[wb(&buf, 0, 4, h)], &d, 0, ov(2)),
        PENDING
    );
    assert_eq!(
        n.a.p
            .register_rdma_memory(w, ca, &r, MemoryAccess::READ, &mut [0u8; 24]),
        Err(IoctlFailure::new(WsaError::WSAEINVAL))
    );
    assert_eq!(n.f.mem_violations(), 0);
}

#[test]
fn sess_3_get_sock_opt_answers_the_configured_sizes() {
    let mut a = host(None, 0, ib("10.1.0.1"));
    let mut b = host(
        None,
        0,
        ib("10.1.0.2")
            .with_max_msg_size(4096)
            .with_max_rdma_size(65536)
            .with_rdma_threshold(1024),
    );
    let sa = a.socket();
    let sb = b.socket();
    let get = |h: &mut Host, s, name| {
        let mut v = [0u8; 4];
        h.p.get_sock_opt(s, SOL_SOCKET, name, &mut v)
            .map(|n| (n, u32::from_le_bytes(v)))
    };
    assert_eq!(get(&mut a, sa, SO_MAX_MSG_SIZE), Ok((4, 65536)));
    assert_eq!(get(&mut a, sa, SO_MAX_RDMA_SIZE), Ok((4, 1_048_576)));
    assert_eq!(get(&mut a, sa, SO_RDMA_THRESHOLD_SIZE), Ok((4, 8192)));
    assert_eq!(get(&mut b, sb, SO_MAX_MSG_SIZE), Ok((4, 4096)));
    assert_eq!(get(&mut b, sb, SO_MAX_RDMA_SIZE), Ok((4, 65536)));
    assert_eq!(get(&mut b, sb, SO_RDMA_THRESHOLD_SIZE), Ok((4, 1024)));
    let mut short = [0u8; 3];
    assert_eq!(
        a.p.get_sock_opt(sa, SOL_SOCKET, SO_MAX_MSG_SIZE, &mut short),
        Err(WsaError::WSAEFAULT)
    );
    let mut long = [0xffu8; 8];
    assert_eq!(
        a.p.get_sock_opt(sa, SOL_SOCKET, SO_MAX_MSG_SIZE, &mut long),
        Ok(4)
    );
    assert_eq!(long, [0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(get(&mut a, sa, SO_DEBUG), Err(WsaError::WSAENOPROTOOPT));
    let mut v = [0u8; 4];
    assert_eq!(
        a.p.get_sock_opt(sa, 6, SO_MAX_MSG_SIZE, &mut v),
        Err(WsaError::WSAENOPROTOOPT)
    );
    assert_eq!(
        get(&mut a, ProviderSocket(0xdead), SO_MAX_MSG_SIZE),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(a.log.count("ib", Call::GetSockOpt), 8);
}

#[test]
fn mem_1_local_buffers_must_lie_in_a_live_registration_of_the_socket() {
    let mut n = net_with(ib("10.1.0.1"), ib("10.1.0.2"));
    let (ca, cb) = n.connect();
    let buf = Buffer::from_vec((0u8..64).collect());
    let h = n.a.reg(ca, &buf, 16, 32, MemoryAccess::READWRITE);
    let other_buf = Buffer::zeroed(64);
    let other_socket = n.a.socket();
    let h_other_socket = n.a.reg(other_socket, &buf, 0, 64, MemoryAccess::READWRITE);
    // A second instance of the provider on the same host.
    let mut twin = host(
        Some(&n.f),
        ALPHA,
        ib("10.1.0.3").with_guid(spi_types::Guid::default()),
    );
    let ts = twin.socket();
    let h_twin = twin.reg(ts, &buf, 0, 64, MemoryAccess::READWRITE);
    assert_ne!(h_twin, h);
    let h_gone = n.a.reg(ca, &buf, 0, 64, MemoryAccess::READWRITE);
    n.a.dereg(ca, h_gone).unwrap();
    let h_write_only = n.a.reg(ca, &buf, 0, 64, MemoryAccess::WRITE);
    let h_read_only = n.a.reg(ca, &buf, 0, 64, MemoryAccess::READ);

    let sends: Vec<(&str, WsaBufEx)> = vec![
        ("starts before the registration", wb(&buf, 8, 16, h)),
        ("ends after it", wb(&buf, 40, 16, h)),
        ("outside the buffer itself", wb(&buf, 60, 8, h_other_socket)),
        ("another buffer", wb(&other_buf, 16, 8, h)),
        ("another socket's handle", wb(&buf, 0, 8, h_other_socket)),
        ("another instance's handle", wb(&buf, 0, 8, h_twin)),
        ("after deregistration", wb(&buf, 0, 8, h_gone)),
        ("read from write-only", wb(&buf, 0, 8, h_write_only)),
        ("a made-up handle", wb(&buf, 16, 8, MemoryHandle(12345))),
    ];
    let mut expected = 0;
    for (what, b) in &sends {
        // Also when it is the second buffer of the call.
        for bufs in [vec![b.clone()], vec![wb(&buf, 16, 4, h), b.clone()]] {
            assert_eq!(
                n.a.p.send(ca, &bufs, ov(1)),
                Err(WsaError::WSAEFAULT),
                "{what}"
            );
            expected += 1;
            assert_eq!(n.f.mem_violations(), expected, "{what}");
        }
    }
    // Receiving writes local memory: read-only memory is refused, and so is all the rest.
    for (what, b) in [
        ("write into read-only", wb(&buf, 0, 8, h_read_only)),
        ("after deregistration", wb(&buf, 0, 8, h_gone)),
        ("another socket's handle", wb(&buf, 0, 8, h_other_socket)),
    ] {
        assert_eq!(
            n.a.p.recv(ca, &[b], ov(2)),
            Err(WsaError::WSAEFAULT),
            "{what}"
        );
        expected += 1;
        assert_eq!(n.f.mem_violations(), expected, "{what}");
    }
    // A socket with no connection is checked the same way.
    assert_eq!(
        n.a.p.send(other_socket, &[wb(&buf, 0, 8, h)], ov(1)),
        Err(WsaError::WSAEFAULT)
    );
    expected += 1;
    assert!(n.a.up.completions().is_empty(), "nothing started");

    // The legitimate ones.
    let dst = Buffer::zeroed(64);
    let hd = n.b.reg(cb, &dst, 0, 64, MemoryAccess::WRITE);
    assert_eq!(n.b.p.recv(cb, &[wb(&dst, 0, 64, hd)], ov(5)), PENDING);
    assert_eq!(
        n.a.p.send(
            ca,
            &[wb(&buf, 16, 32, h), wb(&buf, 0, 2, h_read_only)],
            ov(3)
        ),
        PENDING
    );
    let mut want: Vec<u8> = (16u8..48).collect();
    want.extend([0, 1]);
    assert_eq!(bytes(&dst, 0, 34), want);
    assert_eq!(
        n.a.p.recv(ca, &[wb(&buf, 20, 10, h_write_only)], ov(4)),
        PENDING
    );
    assert_eq!(n.f.mem_violations(), expected);
}

#[test]
fn mem_1_rdma_write_and_read_move_the_right_bytes() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let target = Buffer::from_vec((100u8..164).collect());
    let d = n.b.rdma_reg(cb, &target, 8, 32, MemoryAccess::READWRITE);
    assert_eq!(d.len(), RDMA_DESCRIPTOR_LEN);
    let src = Buffer::from_vec(b"ABCDEFGHIJKLMNOP".to_vec());
    let hs = n.a.reg(ca, &src, 0, 16, MemoryAccess::READ);

    assert_eq!(
        n.a.write(ca, &[wb(&src, 0, 4, hs), wb(&src, 10, 4, hs)], &d, 2, ov(5)),
        PENDING
    );
    assert_eq!(n.a.up.completions(), [(n.a.handle(ca), 5, None, 8)]);
    assert_eq!(bytes(&target, 8, 2), [108, 109], "before the offset");
    assert_eq!(bytes(&target, 10, 8), b"ABCDKLMN");
    assert_eq!(bytes(&target, 18, 2), [118, 119], "after the write");

    let dst = Buffer::zeroed(16);
    let hd = n.a.reg(ca, &dst, 0, 16, MemoryAccess::WRITE);
    assert_eq!(
        n.a.read(
            ca,
            &[wb(&dst, 0, 6, hd), wb(&dst, 10, 2, hd)],
            &d,
            0,
            poll(6)
        ),
        PENDING
    );
    assert_eq!(n.a.p.get_overlapped_result(ca, poll(6)), Ok(8));
    assert_eq!(bytes(&dst, 0, 6), [108, 109, b'A', b'B', b'C', b'D']);
    assert_eq!(bytes(&dst, 10, 2), b"KL");
    // Up to the last byte of the registration.
    assert_eq!(n.a.read(ca, &[wb(&dst, 0, 4, hd)], &d, 28, ov(7)), PENDING);
    assert_eq!(bytes(&dst, 0, 4), [136, 137, 138, 139]);
    // The peer saw nothing: RDMA is one-sided.
    assert!(n.b.up.completions().is_empty());
    assert_eq!(n.f.mem_violations(), 0);
    assert_eq!(n.a.log.count("ib", Call::RdmaWrite), 1);
    assert_eq!(n.a.log.count("ib", Call::RdmaRead), 2);
    // Deregistering the descriptor.
    assert_eq!(n.b.rdma_dereg(cb, &d), Ok(()));
    assert_eq!(n.b.rdma_dereg(cb, &d), Err(WsaError::WSAEINVAL));
}

#[test]
fn mem_1_an_rdma_descriptor_serves_only_the_peer_of_its_connection() {
    let mut n = net();
    let (ca1, cb1) = n.connect();
    let (ca2, cb2) = n.connect();
    let target = Buffer::zeroed(64);
    let d1 = n.b.rdma_reg(cb1, &target, 0, 32, MemoryAccess::READWRITE);
    let src = Buffer::from_vec(vec![7; 16]);
    let h1 = n.a.reg(ca1, &src, 0, 16, MemoryAccess::READWRITE);
    let h2 = n.a.reg(ca2, &src, 0, 16, MemoryAccess::READWRITE);
    let own = n.a.rdma_reg(ca1, &src, 0, 16, MemoryAccess::READWRITE);
    let mut damaged = d1.clone();
    damaged[9] ^= 1;
    let mut longer = d1.clone();
    longer[16] += 1;

    let mut expected = 0;
    for (what, s, h, d) in [
        ("another connection's descriptor", ca2, h2, d1.clone()),
        ("its own descriptor", ca1, h1, own.clone()),
        ("zeros", ca1, h1, vec![0; 24]),
        ("too short", ca1, h1, d1[..23].to_vec()),
        ("too long", ca1, h1, [&d1[..], &[0]].concat()),
        ("a damaged check", ca1, h1, damaged),
        ("a wrong length", ca1, h1, longer),
    ] {
        assert_eq!(
            n.a.write(s, &[wb(&src, 0, 4, h)], &d, 0, ov(1)),
            Err(WsaError::WSAEINVAL),
            "{what}"
        );
        assert_eq!(
            n.a.read(s, &[wb(&src, 0, 4, h)], &d, 0, ov(1)),
            Err(WsaError::WSAEINVAL),
            "{what}"
        );
        expected += 2;
        assert_eq!(n.f.mem_violations(), expected, "{what}");
    }
    // The descriptor where it belongs works; the registering side itself cannot deregister
    // the peer's descriptor, nor a peer another connection's.
    assert_eq!(
        n.a.write(ca1, &[wb(&src, 0, 4, h1)], &d1, 0, ov(2)),
        PENDING
    );
    assert_eq!(n.a.rdma_dereg(ca1, &d1), Err(WsaError::WSAEINVAL));
    assert_eq!(n.b.rdma_dereg(cb2, &d1), Err(WsaError::WSAEINVAL));
    // After deregistration.
    assert_eq!(n.b.rdma_dereg(cb1, &d1), Ok(()));
    assert_eq!(
        n.a.write(ca1, &[wb(&src, 0, 4, h1)], &d1, 0, ov(3)),
        Err(WsaError::WSAEINVAL)
    );
    expected += 1;
    // After the registering end closed.
    let d2 = n.b.rdma_reg(cb2, &target, 32, 32, MemoryAccess::READWRITE);
    assert_eq!(n.a.read(ca2, &[wb(&src, 0, 4, h2)], &d2, 0, ov(4)), PENDING);
    n.b.p.close_socket(cb2).unwrap();
    assert_eq!(
        n.a.read(ca2, &[wb(&src, 0, 4, h2)], &d2, 0, ov(5)),
        Err(WsaError::WSAECONNRESET)
    );
    expected += 1;
    assert_eq!(n.f.mem_violations(), expected);
    // A descriptor of a closed connection on a new one.
    let (ca3, _cb3) = n.connect();
    let h3 = n.a.reg(ca3, &src, 0, 16, MemoryAccess::READWRITE);
    assert_eq!(
        n.a.write(ca3, &[wb(&src, 0, 4, h3)], &d2, 0, ov(6)),
        Err(WsaError::WSAEINVAL)
    );
    expected += 1;
    assert_eq!(n.f.mem_violations(), expected);
    let ok: Vec<_> =
        n.a.up
            .completions()
            .into_iter()
            .map(|(_, id, e, b)| (id, e, b))
            .collect();
    assert_eq!(
        ok,
        [(2, None, 4), (4, None, 4)],
        "only the legitimate ones ran"
    );
}

#[test]
fn mem_1_rdma_stays_inside_the_registration_and_its_access() {
    let mut n = net_with(ib("10.1.0.1").with_max_rdma_size(16), ib("10.1.0.2"));
    let (ca, cb) = n.connect();
    let target = Buffer::zeroed(64);
    let read_only = n.b.rdma_reg(cb, &target, 0, 32, MemoryAccess::READ);
    let write_only = n.b.rdma_reg(cb, &target, 32, 32, MemoryAccess::WRITE);
    let local = Buffer::zeroed(64);
    let h = n.a.reg(ca, &local, 0, 64, MemoryAccess::READWRITE);
    let h_read = n.a.reg(ca, &local, 0, 64, MemoryAccess::READ);
    let h_write = n.a.reg(ca, &local, 0, 64, MemoryAccess::WRITE);
    let four = [wb(&local, 0, 4, h)];

    let mut expected = 0;
    let mut refused = |n: &mut Net, what: &str, r: Result<DataOutcome, WsaError>, e: WsaError| {
        assert_eq!(r, Err(e), "{what}");
        expected += 1;
        assert_eq!(n.f.mem_violations(), expected, "{what}");
    };
    let r = n.a.write(ca, &four, &read_only, 0, ov(1));
    refused(&mut n, "write into read-only", r, WsaError::WSAEACCES);
    let r = n.a.read(ca, &four, &write_only, 0, ov(1));
    refused(&mut n, "read from write-only", r, WsaError::WSAEACCES);
    let r = n.a.read(ca, &four, &read_only, 29, ov(1));
    refused(&mut n, "past the end", r, WsaError::WSAEFAULT);
    let r = n.a.write(ca, &four, &write_only, u32::MAX, ov(1));
    refused(&mut n, "far past the end", r, WsaError::WSAEFAULT);
    let r =
        n.a.write(ca, &[wb(&local, 0, 4, h_write)], &write_only, 0, ov(1));
    refused(
        &mut n,
        "writing from local write-only",
        r,
        WsaError::WSAEFAULT,
    );
    let r =
        n.a.read(ca, &[wb(&local, 0, 4, h_read)], &read_only, 0, ov(1));
    refused(
        &mut n,
        "reading into local read-only",
        r,
        WsaError::WSAEFAULT,
    );
    // Too much for one RDMA operation is not a memory violation.
    assert_eq!(
        n.a.read(ca, &[wb(&local, 0, 17, h)], &read_only, 0, ov(1)),
        Err(WsaError::WSAEMSGSIZE)
    );
    assert_eq!(n.f.mem_violations(), expected);
    // The same transfers the right way round.
    assert_eq!(n.a.read(ca, &four, &read_only, 28, ov(2)), PENDING);
    assert_eq!(n.a.write(ca, &four, &write_only, 28, ov(3)), PENDING);
    assert_eq!(
        n.a.write(ca, &[wb(&local, 0, 16, h_read)], &write_only, 0, ov(4)),
        PENDING
    );
    assert_eq!(
        n.a.read(ca, &[wb(&local, 0, 16, h_write)], &read_only, 16, ov(5)),
        PENDING
    );
    assert_eq!(n.a.up.completions().len(), 4);
    assert_eq!(n.f.mem_violations(), expected);
}

#[test]
fn mem_1_register_rdma_memory_answers_the_descriptor_size() {
    let mut n = net_with(
        ib("10.1.0.1"),
        ib("10.1.0.2").with_register_rdma_memory(Err(WsaError::WSAENOBUFS)),
    );
    let (ca, cb) = n.connect();
    let buf = Buffer::zeroed(32);
    let r = range(&buf, 0, 32);
    let entry = n.a.e(SanExtension::RegisterRdmaMemory);
    let probe = IoctlFailure {
        error: WsaError::WSAEFAULT,
        bytes_returned: RDMA_DESCRIPTOR_LEN,
    };
    for len in [0, 1, 23] {
        let mut d = vec![0u8; len];
        assert_eq!(
            n.a.p
                .register_rdma_memory(entry, ca, &r, MemoryAccess::READ, &mut d),
            Err(probe),
            "{len}"
        );
    }
    assert_eq!(n.f.memory(ALPHA).rdma, 0, "a probe registers nothing");
    let mut d = vec![0xaau8; 40];
    assert_eq!(
        n.a.p
            .register_rdma_memory(entry, ca, &r, MemoryAccess::READ, &mut d),
        Ok(RDMA_DESCRIPTOR_LEN)
    );
    assert_eq!(d[24..], [0xaa; 16], "nothing written past the descriptor");
    let mut exact = [0u8; RDMA_DESCRIPTOR_LEN];
    assert_eq!(
        n.a.p
            .register_rdma_memory(entry, ca, &r, MemoryAccess::WRITE, &mut exact),
        Ok(RDMA_DESCRIPTOR_LEN)
    );
    assert_ne!(exact[..], d[..24], "each registration its own descriptor");
    assert_eq!(n.f.memory(ALPHA).rdma, 2);
    // The other checks.
    let mut d = [0u8; 24];
    assert_eq!(
        n.a.p.register_rdma_memory(
            entry,
            ProviderSocket(0xdead),
            &r,
            MemoryAccess::READ,
            &mut d
        ),
        Err(IoctlFailure::new(WsaError::WSAENOTSOCK))
    );
    assert_eq!(
        n.a.p
            .register_rdma_memory(entry, ca, &range(&buf, 16, 17), MemoryAccess::READ, &mut d),
        Err(IoctlFailure::new(WsaError::WSAEFAULT))
    );
    assert_eq!(n.f.mem_violations(), 1);
    for bad in [MemoryAccess::empty(), MemoryAccess::from_bits_retain(4)] {
        assert_eq!(
            n.a.p.register_rdma_memory(entry, ca, &r, bad, &mut d),
            Err(IoctlFailure::new(WsaError::WSAEINVAL))
        );
    }
    let bentry = n.b.e(SanExtension::RegisterRdmaMemory);
    assert_eq!(
        n.b.p
            .register_rdma_memory(bentry, cb, &r, MemoryAccess::READ, &mut d),
        Err(IoctlFailure::new(WsaError::WSAENOBUFS)),
        "the configured fault"
    );
    assert_eq!(
        n.b.p
            .register_rdma_memory(bentry, cb, &r, MemoryAccess::READ, &mut []),
        Err(probe),
        "the probe still answers the size"
    );
    assert_eq!(n.a.rdma_dereg(ca, &exact[..23]), Err(WsaError::WSAEINVAL));
    assert_eq!(n.a.rdma_dereg(ca, &exact), Ok(()));
    assert_eq!(n.f.memory(ALPHA).rdma, 1);
}

#[test]
fn mem_1_register_memory_checks_its_arguments() {
    let f = fabric();
    let mut a = host(Some(&f), ALPHA, ib("10.1.0.1"));
    let mut faulty = host(
        Some(&f),
        ALPHA,
        ib("10.1.0.3")
            .with_guid(spi_types::Guid::default())
            .with_register_memory(Err(WsaError::WSAENOBUFS)),
    );
    let s = a.socket();
    let t = a.socket();
    let buf = Buffer::zeroed(32);
    let entry = a.e(SanExtension::RegisterMemory);
    assert_eq!(
        a.p.register_memory(entry, s, &range(&buf, 16, 17), MemoryAccess::READ),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(
        a.p.register_memory(entry, s, &range(&buf, usize::MAX, 2), MemoryAccess::READ),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(f.mem_violations(), 2);
    for bad in [MemoryAccess::empty(), MemoryAccess::from_bits_retain(5)] {
        assert_eq!(
            a.p.register_memory(entry, s, &range(&buf, 0, 32), bad),
            Err(WsaError::WSAEINVAL)
        );
    }
    assert_eq!(
        a.p.register_memory(
            entry,
            ProviderSocket(0xdead),
            &range(&buf, 0, 32),
            MemoryAccess::READ
        ),
        Err(WsaError::WSAENOTSOCK)
    );
    let fs = faulty.socket();
    let fentry = faulty.e(SanExtension::RegisterMemory);
    assert_eq!(
        faulty
            .p
            .register_memory(fentry, fs, &range(&buf, 0, 32), MemoryAccess::READ),
        Err(WsaError::WSAENOBUFS)
    );
    let h1 = a.reg(s, &buf, 0, 32, MemoryAccess::READ);
    let h2 = a.reg(s, &buf, 0, 32, MemoryAccess::READ);
    let h3 = a.reg(t, &buf, 0, 0, MemoryAccess::WRITE);
    assert!(h1.0 != 0 && h2.0 != 0 && h3.0 != 0);
    assert!(h1 != h2 && h2 != h3 && h1 != h3);
    assert_eq!(f.memory(ALPHA).local, 3);
    assert_eq!(a.dereg(s, MemoryHandle(77)), Err(WsaError::WSAEINVAL));
    assert_eq!(a.dereg(t, h1), Err(WsaError::WSAEINVAL), "another socket's");
    assert_eq!(a.dereg(s, h1), Ok(()));
    assert_eq!(a.dereg(s, h1), Err(WsaError::WSAEINVAL), "twice");
    assert_eq!(a.log.count("ib", Call::RegisterMemory), 8);
    assert_eq!(a.log.count("ib", Call::DeregisterMemory), 4);
}

#[test]
fn mem_2_the_cache_keeps_a_deregistered_registration_until_the_callback_covers_it() {
    let f = fabric();
    let mut a = host(Some(&f), ALPHA, ib("10.1.0.1"));
    let s = a.socket();
    let buf = Buffer::zeroed(4096);
    let other = Buffer::zeroed(100);
    let h = a.reg(s, &buf, 1024, 1024, MemoryAccess::READ);
    let h_other = a.reg(s, &other, 0, 100, MemoryAccess::READ);
    assert_eq!(
        f.memory(ALPHA),
        MemoryStats {
            local: 2,
            rdma: 0,
            cached: 0,
            cached_ranges: vec![]
        }
    );
    assert_eq!(buf.holders(), 2);
    a.dereg(s, h).unwrap();
    a.dereg(s, h_other).unwrap();
    let mut ranges = vec![(buf.addr() + 1024, 1024), (other.addr(), 100)];
    ranges.sort();
    assert_eq!(
        f.memory(ALPHA),
        MemoryStats {
            local: 0,
            rdma: 0,
            cached: 2,
            cached_ranges: ranges
        }
    );
    assert_eq!(buf.holders(), 2, "still pinned by the cache");
    assert_eq!(f.memory(BETA), MemoryStats::default());
    // Ranges next to it, not overlapping it.
    assert_eq!(a.cache_callback(buf.addr(), 1024), Err(WsaError::WSAEINVAL));
    assert_eq!(
        a.cache_callback(buf.addr() + 2048, 2048),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(a.cache_callback(buf.addr(), 0), Err(WsaError::WSAEINVAL));
    assert_eq!(f.memory(ALPHA).cached, 2);
    // A range overlapping its last byte.
    assert_eq!(a.cache_callback(buf.addr() + 2047, 1), Ok(()));
    assert_eq!(buf.holders(), 1);
    assert_eq!(f.memory(ALPHA).cached_ranges, [(other.addr(), 100)]);
    assert_eq!(
        a.cache_callback(buf.addr(), 4096),
        Err(WsaError::WSAEINVAL),
        "nothing cached there any more"
    );
    // Closing a socket releases its registrations into the cache too.
    let h2 = a.reg(s, &buf, 0, 16, MemoryAccess::WRITE);
    a.p.close_socket(s).unwrap();
    assert_eq!(f.memory(ALPHA).local, 0);
    assert_eq!(f.memory(ALPHA).cached, 2);
    assert_eq!(buf.holders(), 2);
    // The handle is no more usable than one deregistered.
    let t = a.socket();
    assert_eq!(a.dereg(t, h2), Err(WsaError::WSAEINVAL));
    // The last cleanup drops the whole cache.
    a.p.cleanup().unwrap();
    assert_eq!(f.memory(ALPHA), MemoryStats::default());
    assert_eq!(buf.holders(), 1);
    assert_eq!(other.holders(), 1);
    assert_eq!(a.log.count("ib", Call::MemoryRegistrationCacheCallback), 5);
}

#[test]
fn mem_2_a_dropped_provider_pins_nothing() {
    let f = fabric();
    let mut a = host(Some(&f), ALPHA, ib("10.1.0.1"));
    let s = a.socket();
    let buf = Buffer::zeroed(64);
    let h = a.reg(s, &buf, 0, 64, MemoryAccess::READ);
    a.dereg(s, h).unwrap();
    let _kept = a.reg(s, &buf, 0, 8, MemoryAccess::READ);
    assert_eq!(buf.holders(), 3);
    drop(a);
    assert_eq!(buf.holders(), 1);
    assert_eq!(f.memory(ALPHA), MemoryStats::default());
}

#[test]
fn close_1_pending_requests_complete_before_the_last_up_call() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let abuf = Buffer::zeroed(64);
    let ha = n.a.reg(ca, &abuf, 0, 64, MemoryAccess::READWRITE);
    let da = n.a.rdma_reg(ca, &abuf, 0, 64, MemoryAccess::READWRITE);
    let bbuf = Buffer::zeroed(64);
    let hb = n.b.reg(cb, &bbuf, 0, 64, MemoryAccess::READWRITE);
    let db = n.b.rdma_reg(cb, &bbuf, 0, 64, MemoryAccess::READWRITE);
    assert_eq!(n.a.p.recv(ca, &[wb(&abuf, 0, 16, ha)], ov(1)), PENDING);
    assert_eq!(n.a.p.recv(ca, &[wb(&abuf, 16, 16, ha)], poll(2)), PENDING);
    assert_eq!(n.a.p.recv(ca, &[wb(&abuf, 32, 16, ha)], ov(3)), PENDING);
    assert_eq!(n.b.p.recv(cb, &[wb(&bbuf, 0, 16, hb)], ov(10)), PENDING);
    assert_eq!(n.b.p.recv(cb, &[wb(&bbuf, 16, 16, hb)], poll(11)), PENDING);
    assert_eq!(
        f_memory(&n),
        (
            MemoryStats {
                local: 1,
                rdma: 1,
                cached: 0,
                cached_ranges: vec![]
            },
            1
        )
    );
    let before = n.a.up.all().len();

    assert_eq!(n.a.p.close_socket(ca), Ok(()));
    let cah = n.a.handle(ca);
    assert_eq!(
        n.a.up.all()[before..],
        [
            Up::Completed {
                socket: cah,
                id: 1,
                error: Some(WsaError::WSA_OPERATION_ABORTED),
                bytes: 0
            },
            Up::Completed {
                socket: cah,
                id: 3,
                error: Some(WsaError::WSA_OPERATION_ABORTED),
                bytes: 0
            },
            Up::Closed(cah),
        ],
        "the polled one is not up-called; WPUCloseSocketHandle comes last"
    );
    let cbh = n.b.handle(cb);
    assert_eq!(
        n.b.up.completions(),
        [(cbh, 10, Some(WsaError::WSAECONNRESET), 0)]
    );
    assert_eq!(
        n.b.p.get_overlapped_result(cb, poll(11)),
        Err(WsaError::WSAECONNRESET)
    );
    // The closed socket's registrations: local ones cached, RDMA ones dropped.
    assert_eq!(
        n.f.memory(ALPHA),
        MemoryStats {
            local: 0,
            rdma: 0,
            cached: 1,
            cached_ranges: vec![(abuf.addr(), 64)]
        }
    );
    // The peer's later calls on the connection.
    assert_eq!(
        n.b.p.send(cb, &[wb(&bbuf, 0, 4, hb)], ov(12)),
        Err(WsaError::WSAECONNRESET)
    );
    assert_eq!(
        n.b.p.recv(cb, &[wb(&bbuf, 0, 4, hb)], ov(13)),
        Err(WsaError::WSAECONNRESET)
    );
    let before = n.f.mem_violations();
    assert_eq!(
        n.b.write(cb, &[wb(&bbuf, 0, 4, hb)], &da, 0, ov(14)),
        Err(WsaError::WSAECONNRESET)
    );
    assert_eq!(
        n.f.mem_violations(),
        before + 1,
        "the descriptor died with its end"
    );
    assert_eq!(n.b.up.completions().len(), 1);
    // The survivor still owns its memory and frees it.
    assert_eq!(n.b.rdma_dereg(cb, &db), Ok(()));
    assert_eq!(n.b.dereg(cb, hb), Ok(()));
    // The closed socket is gone.
    assert_eq!(
        n.a.p.recv(ca, &[wb(&abuf, 0, 4, ha)], ov(4)),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(n.a.p.close_socket(ca), Err(WsaError::WSAENOTSOCK));
    assert_eq!(
        n.f.connections()
            .last()
            .map(|c| (c.caller.open, c.callee.open)),
        Some((false, true))
    );
}

fn f_memory(n: &Net) -> (MemoryStats, usize) {
    (n.f.memory(ALPHA), n.f.memory(BETA).local)
}

#[test]
fn close_1_messages_that_arrived_before_the_close_are_still_received() {
    let mut n = net();
    let (ca, cb) = n.connect();
    let abuf = Buffer::from_vec(b"bye!".to_vec());
    let ha = n.a.reg(ca, &abuf, 0, 4, MemoryAccess::READ);
    assert_eq!(n.a.p.send(ca, &[wb(&abuf, 0, 4, ha)], ov(1)), PENDING);
    n.a.p.close_socket(ca).unwrap();
    let bbuf = Buffer::zeroed(8);
    let hb = n.b.reg(cb, &bbuf, 0, 8, MemoryAccess::WRITE);
    assert_eq!(n.b.p.recv(cb, &[wb(&bbuf, 0, 8, hb)], poll(1)), PENDING);
    assert_eq!(n.b.p.get_overlapped_result(cb, poll(1)), Ok(4));
    assert_eq!(bytes(&bbuf, 0, 4), b"bye!");
    assert_eq!(
        n.b.p.recv(cb, &[wb(&bbuf, 0, 8, hb)], poll(2)),
        Err(WsaError::WSAECONNRESET)
    );
    // Closing the survivor aborts nothing more and closes its handle.
    let before = n.b.up.all().len();
    n.b.p.close_socket(cb).unwrap();
    assert_eq!(n.b.up.all()[before..], [Up::Closed(n.b.handle(cb))]);
}

#[test]
fn sess_5_configured_panics_reach_the_new_calls() {
    let calls = [
        Call::GetSockOpt,
        Call::Send,
        Call::Recv,
        Call::GetOverlappedResult,
        Call::RegisterMemory,
        Call::DeregisterMemory,
        Call::RegisterRdmaMemory,
        Call::DeregisterRdmaMemory,
        Call::RdmaWrite,
        Call::RdmaRead,
        Call::MemoryRegistrationCacheCallback,
    ];
    for call in calls {
        let mut h = host(None, 0, ib("10.1.0.1").with_panic_at(call));
        let s = h.socket();
        let buf = Buffer::zeroed(8);
        let r = range(&buf, 0, 8);
        let b = [wb(&buf, 0, 8, MemoryHandle(1))];
        let e = |x| h.e(x);
        let (rm, dm, rr, dr, w, rd, cc) = (
            e(SanExtension::RegisterMemory),
            e(SanExtension::DeregisterMemory),
            e(SanExtension::RegisterRdmaMemory),
            e(SanExtension::DeregisterRdmaMemory),
            e(SanExtension::RdmaWrite),
            e(SanExtension::RdmaRead),
            e(SanExtension::MemoryRegistrationCacheCallback),
        );
        let p = &mut h.p;
        let result = catch_unwind(AssertUnwindSafe(|| match call {
            Call::GetSockOpt => {
                p.get_sock_opt(s, SOL_SOCKET, SO_MAX_MSG_SIZE, &mut [0; 4])
                    .ok();
            }
            Call::Send => {
                p.send(s, &b, ov(1)).ok();
            }
            Call::Recv => {
                p.recv(s, &b, ov(1)).ok();
            }
            Call::GetOverlappedResult => {
                p.get_overlapped_result(s, poll(1)).ok();
            }
            Call::RegisterMemory => {
                p.register_memory(rm, s, &r, MemoryAccess::READ).ok();
            }
            Call::DeregisterMemory => {
                p.deregister_memory(dm, s, MemoryHandle(1)).ok();
            }
            Call::RegisterRdmaMemory => {
                p.register_rdma_memory(rr, s, &r, MemoryAccess::READ, &mut [0; 24])
                    .ok();
            }
            Call::DeregisterRdmaMemory => {
                p.deregister_rdma_memory(dr, s, &[0; 24]).ok();
            }
            Call::RdmaWrite => {
                p.rdma_write(w, s, &b, &[0; 24], 0, ov(1)).ok();
            }
            Call::RdmaRead => {
                p.rdma_read(rd, s, &b, &[0; 24], 0, ov(1)).ok();
            }
            Call::MemoryRegistrationCacheCallback => {
                p.memory_registration_cache_callback(cc, 0, 8).ok();
            }
            _ => unreachable!(),
        }));
        assert!(result.is_err(), "{call} did not panic");
        assert_eq!(h.log.count("ib", call), 1, "{call} is logged first");
    }
}

/// Alpha's and beta's TCP/IP providers, beta listening on 10.0.0.2:80, and one connection:
/// (alpha, beta, alpha's socket, beta's listener, beta's accepted socket).
fn tcp_pair() -> (
    Fabric,
    MockTcp,
    MockTcp,
    switch_core::provider::TcpSocket,
    switch_core::provider::TcpSocket,
    switch_core::provider::TcpSocket,
) {
    let f = fabric();
    let mut ta = MockTcp::attached(&f, ALPHA).unwrap();
    let mut tb = MockTcp::attached(&f, BETA).unwrap();
    let l = tb.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    tb.bind(l, addr("10.0.0.2:80")).unwrap();
    tb.listen(l, 5).unwrap();
    let c = ta.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    let local = ta.connect(c, addr("10.0.0.2:80")).unwrap();
    let (acc, peer) = tb.accept(l).unwrap();
    assert_eq!(peer, local);
    (f, ta, tb, c, l, acc)
}

fn recv(
    t: &mut MockTcp,
    s: switch_core::provider::TcpSocket,
    len: usize,
    flags: MsgFlags,
) -> Result<Vec<u8>, WsaError> {
    let mut buf = vec![0; len];
    let n = t.recv(s, &mut buf, flags)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn sess_6_the_mock_tcp_carries_a_byte_stream_until_shutdown() {
    let (f, mut ta, mut tb, c, l, acc) = tcp_pair();
    let none = MsgFlags::empty();
    assert_eq!(tb.accept(l), Err(WsaError::WSAEWOULDBLOCK));
    assert_eq!(recv(&mut tb, acc, 8, none), Err(WsaError::WSAEWOULDBLOCK));
    assert_eq!(ta.send(c, b"hello ", none), Ok(6));
    assert_eq!(ta.send(c, b"world", none), Ok(5));
    assert_eq!(recv(&mut tb, acc, 4, none), Ok(b"hell".to_vec()));
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(b"o world".to_vec()));
    assert_eq!(recv(&mut tb, acc, 64, none), Err(WsaError::WSAEWOULDBLOCK));
    assert_eq!(tb.send(acc, b"pong", none), Ok(4));
    assert_eq!(recv(&mut ta, c, 64, none), Ok(b"pong".to_vec()));
    // Alpha stops sending: beta reads what is left, then the end of the stream; beta may
    // still send.
    assert_eq!(ta.send(c, b"last", none), Ok(4));
    assert_eq!(ta.shutdown(c, Shutdown::Send), Ok(()));
    assert_eq!(ta.send(c, b"more", none), Err(WsaError::WSAESHUTDOWN));
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(b"last".to_vec()));
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(vec![]));
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(vec![]));
    assert_eq!(tb.send(acc, b"late", none), Ok(4));
    assert_eq!(recv(&mut ta, c, 64, none), Ok(b"late".to_vec()));
    // Alpha stops receiving.
    assert_eq!(ta.shutdown(c, Shutdown::Receive), Ok(()));
    assert_eq!(recv(&mut ta, c, 64, none), Err(WsaError::WSAESHUTDOWN));
    assert_eq!(tb.send(acc, b"unread", none), Ok(6));
    // Beta closes: alpha cannot send anyway; its connection end is still open.
    tb.close(acc).unwrap();
    let row = f.connections().last().cloned().unwrap();
    assert!(row.caller.open && !row.callee.open);
    ta.close(c).unwrap();
    let row = f.connections().last().cloned().unwrap();
    assert!(!row.caller.open && !row.callee.open);
    assert!(
        tb.calls.contains(&TcpCall::Shutdown(c, Shutdown::Send))
            || ta.calls.contains(&TcpCall::Shutdown(c, Shutdown::Send))
    );
    assert!(ta.calls.contains(&TcpCall::Send(c, 6, none)));
    assert!(tb.calls.contains(&TcpCall::Recv(acc, 4, none)));
    assert!(tb.calls.contains(&TcpCall::Accept(l)));
}

#[test]
fn sess_6_the_mock_tcp_reports_resets_and_unconnected_sockets() {
    let (f, mut ta, mut tb, c, l, acc) = tcp_pair();
    let none = MsgFlags::empty();
    assert_eq!(ta.send(c, b"abc", none), Ok(3));
    tb.close(acc).unwrap();
    assert_eq!(ta.send(c, b"x", none), Err(WsaError::WSAECONNRESET));
    assert_eq!(
        recv(&mut ta, c, 8, none),
        Ok(vec![]),
        "closed: end of stream"
    );
    // Shutdown of both sides at once.
    let c2 = ta.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    ta.connect(c2, addr("10.0.0.2:80")).unwrap();
    let (acc2, _) = tb.accept(l).unwrap();
    assert_eq!(ta.shutdown(c2, Shutdown::Both), Ok(()));
    assert_eq!(ta.send(c2, b"x", none), Err(WsaError::WSAESHUTDOWN));
    assert_eq!(recv(&mut ta, c2, 8, none), Err(WsaError::WSAESHUTDOWN));
    assert_eq!(recv(&mut tb, acc2, 8, none), Ok(vec![]));
    // Bytes sent before the accept wait for it; a caller that closes before the accept takes
    // its connection with it.
    let c3 = ta.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    ta.connect(c3, addr("10.0.0.2:80")).unwrap();
    assert_eq!(ta.send(c3, b"early", none), Ok(5));
    let c4 = ta.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    ta.connect(c4, addr("10.0.0.2:80")).unwrap();
    ta.close(c3).unwrap();
    let row = f.connections().iter().rev().nth(1).cloned().unwrap();
    assert!(!row.caller.open && !row.callee.open);
    assert_eq!(ta.send(c4, b"early", none), Ok(5));
    let (acc4, _) = tb.accept(l).unwrap();
    assert_eq!(recv(&mut tb, acc4, 64, none), Ok(b"early".to_vec()));
    assert_eq!(tb.accept(l), Err(WsaError::WSAEWOULDBLOCK));
    // Not connected: a fresh socket, a listener; a socket the provider does not have.
    let fresh = ta.socket(AddressFamily::INET, SocketKind::Stream).unwrap();
    assert_eq!(ta.send(fresh, b"x", none), Err(WsaError::WSAENOTCONN));
    assert_eq!(recv(&mut ta, fresh, 8, none), Err(WsaError::WSAENOTCONN));
    assert_eq!(
        ta.shutdown(fresh, Shutdown::Send),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(tb.send(l, b"x", none), Err(WsaError::WSAENOTCONN));
    assert_eq!(recv(&mut tb, l, 8, none), Err(WsaError::WSAENOTCONN));
    assert_eq!(ta.accept(fresh), Err(WsaError::WSAEINVAL));
    let ghost = switch_core::provider::TcpSocket(999);
    assert_eq!(ta.send(ghost, b"x", none), Err(WsaError::WSAENOTSOCK));
    assert_eq!(recv(&mut ta, ghost, 8, none), Err(WsaError::WSAENOTSOCK));
    assert_eq!(
        ta.shutdown(ghost, Shutdown::Both),
        Err(WsaError::WSAENOTSOCK)
    );
    // Without a fabric: a silent peer.
    let mut solo = MockTcp::new();
    let s = solo
        .socket(AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    assert_eq!(solo.send(s, b"x", none), Err(WsaError::WSAENOTCONN));
    solo.connect(s, addr("10.9.9.9:80")).unwrap();
    assert_eq!(solo.send(s, b"xyz", none), Ok(3));
    assert_eq!(recv(&mut solo, s, 8, none), Err(WsaError::WSAEWOULDBLOCK));
    solo.shutdown(s, Shutdown::Send).unwrap();
    assert_eq!(solo.send(s, b"x", none), Err(WsaError::WSAESHUTDOWN));
}

#[test]
fn sess_4_the_mock_tcp_urgent_byte_travels_outside_the_stream() {
    let (_f, mut ta, mut tb, c, _l, acc) = tcp_pair();
    let none = MsgFlags::empty();
    let oob = MsgFlags::OOB;
    assert_eq!(recv(&mut tb, acc, 1, oob), Err(WsaError::WSAEINVAL));
    assert_eq!(ta.send(c, b"abc!", oob), Ok(4));
    assert_eq!(recv(&mut tb, acc, 1, oob), Ok(b"!".to_vec()));
    assert_eq!(
        recv(&mut tb, acc, 1, oob),
        Err(WsaError::WSAEINVAL),
        "read once"
    );
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(b"abc".to_vec()));
    // A newer urgent byte replaces one not read yet; a one-byte urgent send adds nothing to
    // the stream.
    assert_eq!(ta.send(c, b"x1", oob), Ok(2));
    assert_eq!(ta.send(c, b"y2", oob), Ok(2));
    assert_eq!(ta.send(c, b"3", oob), Ok(1));
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(b"xy".to_vec()));
    assert_eq!(recv(&mut tb, acc, 8, oob), Ok(b"3".to_vec()));
    // The urgent byte is still there after the sender shuts down.
    assert_eq!(ta.send(c, b"!", oob), Ok(1));
    ta.shutdown(c, Shutdown::Send).unwrap();
    assert_eq!(recv(&mut tb, acc, 64, none), Ok(vec![]));
    assert_eq!(recv(&mut tb, acc, 8, oob), Ok(b"!".to_vec()));
    assert!(ta.calls.contains(&TcpCall::Send(c, 4, oob)));
}
