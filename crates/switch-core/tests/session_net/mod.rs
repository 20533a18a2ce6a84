//! A two-host harness for the session tests: alpha connects to beta's listener over the
//! mock fabric, and both applications exchange bytes through their switches.

#![allow(dead_code)]

use std::net::SocketAddr;

use mock_provider::{Fabric, MockCatalog, MockConfig, MockLoader, MockTcp};
use spi_types::{AddressFamily, ConditionResult, MsgFlags, WsaError};
use switch_core::connection::{SocketId, SwitchEvent, Via};
use switch_core::routing::SocketKind;
use switch_core::session::conn::{SendId, SendReport, SessionConfig};
use switch_core::trace::{Call, TraceEvent};
use switch_core::{ProviderId, Switch, SwitchConfig};

pub const ALPHA: usize = 0;
pub const BETA: usize = 1;
pub const P: ProviderId = ProviderId(0);

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub struct Host {
    pub switch: Switch,
    pub loader: MockLoader,
    pub tcp: MockTcp,
    pub events: Vec<SwitchEvent>,
    pub trace: Vec<TraceEvent>,
}

pub fn host(f: &Fabric, index: usize, ip: &str, config: &Setup, mock: &MockConfig) -> Host {
    let mock = mock.clone().with_addresses([ip.parse().unwrap()]);
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&mock);
    let mut loader = MockLoader::new();
    loader.add(mock);
    loader.attach(f, index).unwrap();
    let mut switch = Switch::new(SwitchConfig {
        session: config.session,
        trace_data: config.trace_data,
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    Host {
        switch,
        loader,
        tcp: MockTcp::attached(f, index).unwrap(),
        events: Vec::new(),
        trace: Vec::new(),
    }
}

#[derive(Clone)]
pub struct Setup {
    pub session: SessionConfig,
    /// Whether the switches record data calls in their traces.
    pub trace_data: bool,
    pub alpha: MockConfig,
    pub beta: MockConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            session: SessionConfig::default(),
            trace_data: true,
            alpha: MockConfig::generic("ib"),
            beta: MockConfig::generic("ib"),
        }
    }
}

pub struct Net {
    pub f: Fabric,
    pub hosts: [Host; 2],
    /// Alpha's and beta's ends of the connection.
    pub ends: [SocketId; 2],
    /// Beta's listening socket.
    pub listener: SocketId,
}

impl Host {
    pub fn drain(&mut self) -> bool {
        let before = self.events.len();
        self.events
            .extend(std::iter::from_fn(|| self.switch.poll()));
        self.trace.extend(self.switch.take_trace());
        self.events.len() > before
    }

    pub fn sent(&self, send: SendId) -> Option<Result<SendReport, WsaError>> {
        self.events.iter().find_map(|e| match e {
            SwitchEvent::Sent {
                send: s, result, ..
            } if *s == send => Some(*result),
            _ => None,
        })
    }

    pub fn calls(&self, call: Call) -> usize {
        self.trace.iter().filter(|t| t.call == call).count()
    }
}

impl Net {
    /// Delivers signals and completions until nothing moves. Each round moves what the
    /// credits allow, so a multi-megabyte send in 128-byte messages takes many thousands.
    pub fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let mut moved = false;
            while let Some((i, event)) = self.f.next_signal() {
                let h = &mut self.hosts[i];
                h.switch.handle_event(&mut h.tcp, event);
                moved = true;
            }
            for h in &mut self.hosts {
                moved |= h.switch.handle_completions(&mut h.tcp) > 0;
                moved |= h.drain();
            }
            if !moved {
                return;
            }
        }
        panic!("the two switches never settled");
    }

    /// Delivers signals only, as a platform that has not yet handled any completion.
    pub fn signals_only(&mut self) {
        while let Some((i, event)) = self.f.next_signal() {
            let h = &mut self.hosts[i];
            h.switch.handle_event(&mut h.tcp, event);
            h.drain();
        }
    }

    /// Alpha connects to beta's listener and beta's application accepts.
    pub fn new(setup: Setup) -> Net {
        let mut net = Net::listening(setup);
        net.open();
        net
    }

    /// The two hosts, beta's application listening; no connection yet.
    pub fn listening(setup: Setup) -> Net {
        let f = Fabric::new();
        f.add_host("alpha", ["10.0.0.1".parse().unwrap()]);
        f.add_host("beta", ["10.0.0.2".parse().unwrap()]);
        let alpha = host(&f, ALPHA, "10.1.0.1", &setup, &setup.alpha);
        let beta = host(&f, BETA, "10.1.0.2", &setup, &setup.beta);
        let mut net = Net {
            f,
            hosts: [alpha, beta],
            ends: [SocketId(0), SocketId(0)],
            listener: SocketId(0),
        };
        let b = &mut net.hosts[BETA];
        let l = b
            .switch
            .socket(&mut b.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        b.switch.bind(&mut b.tcp, l, addr("10.1.0.2:7000")).unwrap();
        b.switch
            .listen(&mut b.tcp, l, 8, ConditionResult::Accept)
            .unwrap();
        net.listener = l;
        net
    }

    /// Alpha's application starts a connect to beta's listener; answers its socket.
    pub fn start_connect(&mut self) -> SocketId {
        let a = &mut self.hosts[ALPHA];
        let s = a
            .switch
            .socket(&mut a.tcp, AddressFamily::INET, SocketKind::Stream)
            .unwrap();
        a.switch
            .connect(&mut a.tcp, s, addr("10.1.0.2:7000"))
            .unwrap();
        s
    }

    /// Alpha connects again to beta's listener, beta's application accepts, and the new
    /// connection's ends become `ends`.
    pub fn open(&mut self) {
        let s = self.start_connect();
        self.settle();
        let connected = self.hosts[ALPHA].events.iter().any(|e| {
            matches!(e, SwitchEvent::Connected { socket, result } if *socket == s && result.result == Ok(Via::San(P)))
        });
        assert!(connected, "{:?}", self.hosts[ALPHA].events);
        let b = &mut self.hosts[BETA];
        let accepted = b
            .switch
            .accept(self.listener)
            .unwrap()
            .expect("beta accepted");
        self.ends = [s, accepted];
    }

    /// As [`open`](Self::open), for a connect that may fail (a fault): answers whether both
    /// ends are open; when not, alpha's socket is closed again.
    pub fn try_open(&mut self) -> bool {
        let s = self.start_connect();
        self.settle();
        let connected = self.hosts[ALPHA].events.iter().any(|e| {
            matches!(e, SwitchEvent::Connected { socket, result } if *socket == s && result.result == Ok(Via::San(P)))
        });
        let b = &mut self.hosts[BETA];
        let accepted = b.switch.accept(self.listener).ok().flatten();
        match (connected, accepted) {
            (true, Some(a)) => {
                self.ends = [s, a];
                true
            }
            (_, accepted) => {
                let a = &mut self.hosts[ALPHA];
                let _ = a.switch.close(&mut a.tcp, s);
                if let Some(x) = accepted {
                    let b = &mut self.hosts[BETA];
                    let _ = b.switch.close(&mut b.tcp, x);
                }
                self.settle();
                false
            }
        }
    }

    /// Reads what `at` can read, stopping at any error (a fault may have ended the
    /// connection); answers the bytes.
    pub fn read_what_comes(&mut self, at: usize) -> usize {
        let h = &mut self.hosts[at];
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0;
        while let Ok(k) = h
            .switch
            .recv(&mut h.tcp, self.ends[at], &mut buf, MsgFlags::empty())
        {
            if k == 0 {
                break;
            }
            n += k;
        }
        h.drain();
        n
    }

    /// Both applications close their ends.
    pub fn close(&mut self) {
        for at in [ALPHA, BETA] {
            let h = &mut self.hosts[at];
            h.switch.close(&mut h.tcp, self.ends[at]).unwrap();
        }
        self.settle();
    }

    /// The application at `from` sends `data`; answers the send's id.
    pub fn send(&mut self, from: usize, data: Vec<u8>, flags: MsgFlags) -> SendId {
        let h = &mut self.hosts[from];
        let id = h
            .switch
            .send(&mut h.tcp, self.ends[from], data, flags)
            .unwrap();
        h.drain();
        id
    }

    /// Everything the application at `at` can read now.
    pub fn read_all(&mut self, at: usize) -> Vec<u8> {
        let h = &mut self.hosts[at];
        let mut out = Vec::new();
        let mut buf = vec![0u8; 7000];
        loop {
            match h
                .switch
                .recv(&mut h.tcp, self.ends[at], &mut buf, MsgFlags::empty())
            {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(e.wsa(), Some(WsaError::WSAEWOULDBLOCK), "{e}");
                    break;
                }
            }
        }
        h.drain();
        out
    }

    pub fn recv_error(&mut self, at: usize) -> Option<WsaError> {
        let h = &mut self.hosts[at];
        let mut buf = [0u8; 16];
        h.switch
            .recv(&mut h.tcp, self.ends[at], &mut buf, MsgFlags::empty())
            .err()
            .and_then(|e| e.wsa())
    }

    /// Sends `data` from `from`, settles, and checks the other side reads exactly `data`;
    /// answers the send's report.
    pub fn transfer(&mut self, from: usize, data: Vec<u8>) -> SendReport {
        let id = self.send(from, data.clone(), MsgFlags::empty());
        self.settle();
        let report = self.hosts[from]
            .sent(id)
            .expect("the send finished")
            .expect("the send succeeded");
        let got = self.read_all(1 - from);
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the bytes arrived changed");
        report
    }
}

pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
