//! The connection steps: `connect`, `listen`, `close` and `advance`, run across the hosts on the
//! mock fabric.
//!
//! # Decisions
//!
//! - A `connect` step runs like a blocking connect: the simulation delivers every signalled
//!   event to its host's switch, lets every switch handle the completions its providers posted
//!   (which moves the SAN sessions on: a SAN connect completes only once the session
//!   negotiation between both hosts finished, CONN-7 and ACCEPT-3), and, when nothing else can
//!   happen, moves the simulated clock to the next thing due (a provider's `connect_delay_ms`,
//!   a switch's SAN deadline), until the connect has finished. So a `connect_delay_ms` longer
//!   than the host's `san_deadline_ms` gives `san_deadline`.
//! - A SAN connection accepted on the other host is taken by its application at once; both ends
//!   appear in `connections[]` under the connect step's `id`. The accepting end carries the
//!   connect's reason, with a detail naming the listener.
//! - A TCP connection's accepting end is the TCP/IP provider's business (the switch never sees
//!   it); the simulator reports it from the fabric's record of the connection, and its
//!   application accepts it from the listener's TCP/IP socket (for the data steps).
//! - `close` of a connection closes both ends (the accepting end first); of a listener, the
//!   listener (its SAN sockets with it).
//! - `advance` moves the clock and delivers whatever falls due; timers (the negative cache,
//!   SAN deadlines, connect delays) all run on this clock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use mock_provider::{Role, TcpCall, Transport};
use spi_types::{AddressFamily, ConditionResult, WsaError};
use switch_core::connection::{
    ConnectReason, ConnectResult as CoreConnect, ConnectStatus, SocketId, Via,
};
use switch_core::provider::TcpSocket;
use switch_core::routing::SocketKind;

use crate::data::{Conn, EndSocket};
use crate::report::{ConnectionReport, ReasonCode, StepReason};
use crate::run::{NameMap, SimHost};
use crate::scenario::BindAddr;
use switch_core::report::wsa_name;

/// An application socket a step named.
pub(crate) enum Named {
    /// A connection: its ends and what they sent and expect.
    Connection(Box<Conn>),
    /// A listening socket.
    Listener { host: usize, socket: SocketId },
}

/// What a connect step did.
pub(crate) struct ConnectOutcome {
    pub result: String,
    pub reason: StepReason,
    /// The connecting socket, and the accepting end (its host and socket) when the simulator
    /// found it.
    pub established: Option<(SocketId, Option<(usize, EndSocket)>)>,
}

fn unspecified(v4: bool) -> IpAddr {
    if v4 {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    }
}

fn family(addr: SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    }
}

/// A step reason from the switch's connect reason; routing reasons read as `explain`'s.
pub(crate) fn step_reason(
    host: &SimHost<'_>,
    r: &ConnectReason,
    dest: SocketAddr,
    kind: SocketKind,
) -> StepReason {
    let names = NameMap::new(&host.switch.report());
    let p = |id| names.get(id);
    let (code, detail) = match r {
        ConnectReason::Route(route) => return host.route_reason(*route, dest, kind),
        ConnectReason::CompanionSocketFailed { provider, error } => (
            ReasonCode::CompanionSocketFailed,
            format!(
                "the companion socket on {} failed with {}: TCP/IP",
                p(*provider),
                wsa_name(*error)
            ),
        ),
        ConnectReason::SanConnectFailed { provider, error } => (
            ReasonCode::SanConnectFailed,
            format!(
                "the SAN connect through {} failed with {}: fell back to TCP/IP",
                p(*provider),
                wsa_name(*error)
            ),
        ),
        ConnectReason::SanConnectFatal { provider, error } => (
            ReasonCode::SanConnectFatal,
            format!(
                "the SAN connect through {} failed with {}, which TCP/IP would meet too",
                p(*provider),
                wsa_name(*error)
            ),
        ),
        ConnectReason::SessionFailed { provider } => (
            ReasonCode::SessionFailed,
            format!(
                "the SAN connection through {} was established but its session negotiation \
                 failed: no fallback after an established connection",
                p(*provider)
            ),
        ),
        ConnectReason::ProviderGone { provider } => (
            ReasonCode::ProviderGone,
            format!(
                "{} was taken down while the SAN connect was under way",
                p(*provider)
            ),
        ),
        ConnectReason::SanDeadline { provider } => (
            ReasonCode::SanDeadline,
            format!(
                "the SAN connect through {} did not finish by the SAN deadline: TCP/IP",
                p(*provider)
            ),
        ),
    };
    StepReason {
        code,
        wsa: r.wsa().map(wsa_name),
        detail,
    }
}

/// The connect result's text: `san:<provider>`, `tcp` or `error:<WSA>`.
pub(crate) fn result_text(r: &Result<Via, WsaError>, names: &NameMap) -> String {
    match r {
        Ok(Via::San(p)) => format!("san:{}", names.get(*p)),
        Ok(Via::Tcp) => "tcp".to_owned(),
        Err(e) => format!("error:{}", wsa_name(*e)),
    }
}

/// Runs a connect on `hosts[h]` until it finishes, delivering events across the hosts.
pub(crate) fn connect(
    hosts: &mut [SimHost<'_>],
    h: usize,
    to: SocketAddr,
    from: Option<BindAddr>,
    kind: SocketKind,
) -> ConnectOutcome {
    let fail = |e: WsaError, why: String| ConnectOutcome {
        result: format!("error:{}", wsa_name(e)),
        reason: StepReason {
            code: ReasonCode::NoRoute,
            wsa: Some(wsa_name(e)),
            detail: why,
        },
        established: None,
    };
    let now = hosts[h].fabric.now();
    let host = &mut hosts[h];
    host.switch
        .handle_timeout(&mut host.tcp, Duration::from_millis(now));
    let socket = match host.switch.socket(&mut host.tcp, family(to), kind) {
        Ok(s) => s,
        Err(e) => return fail(WsaError::WSAENOBUFS, e.to_string()),
    };
    if let Some(b) = from {
        let local = SocketAddr::new(b.ip, b.port.unwrap_or(0));
        if let Err(e) = host.switch.bind(&mut host.tcp, socket, local) {
            let code = match &e {
                switch_core::connection::SocketError::Tcp { error, .. } => *error,
                _ => WsaError::WSAEINVAL,
            };
            return fail(code, e.to_string());
        }
    }
    let status = host.switch.connect(&mut host.tcp, socket, to);
    host.flush_trace();
    let status = match status {
        Ok(s) => s,
        Err(e) => return fail(WsaError::WSAEINVAL, e.to_string()),
    };
    let result = match status {
        ConnectStatus::Done(r) => {
            deliver(hosts);
            r
        }
        ConnectStatus::Pending => match settle(hosts, h, socket) {
            Some(r) => r,
            None => {
                return fail(
                    WsaError::WSAETIMEDOUT,
                    "the connect never finished: nothing was left to happen".to_owned(),
                );
            }
        },
    };
    let names = NameMap::new(&hosts[h].switch.report());
    let reason = step_reason(&hosts[h], &result.reason, to, kind);
    let established = result.result.is_ok().then(|| {
        let peer = match result.result {
            Ok(Via::San(_)) => {
                take_accepted(hosts, h, socket, to).map(|(i, s)| (i, EndSocket::Switch(s)))
            }
            _ => take_tcp_accepted(hosts, h, socket).map(|(i, s)| (i, EndSocket::Tcp(s))),
        };
        (socket, peer)
    });
    ConnectOutcome {
        result: result_text(&result.result, &names),
        reason,
        established,
    }
}

/// Delivers signalled events and moves the clock until `socket`'s connect on host `h`
/// finished; `None` when nothing is left to happen first.
fn settle(hosts: &mut [SimHost<'_>], h: usize, socket: SocketId) -> Option<CoreConnect> {
    loop {
        deliver(hosts);
        if let Some(r) = hosts[h].finished.remove(&socket) {
            return Some(r);
        }
        let fabric_due = hosts[h].fabric.next_due();
        let switch_due = hosts
            .iter()
            .filter_map(|x| x.switch.poll_timeout())
            .map(|d| d.as_millis() as u64)
            .min();
        let next = [fabric_due, switch_due].into_iter().flatten().min()?;
        advance_to(hosts, next);
    }
}

/// Moves the clock to `t` (if later) and delivers what fell due.
pub(crate) fn advance_to(hosts: &mut [SimHost<'_>], t: u64) {
    let Some(first) = hosts.first() else {
        return;
    };
    let fabric = first.fabric.clone();
    let now = fabric.now();
    if t > now {
        fabric.advance(t - now);
    }
    for x in hosts.iter_mut() {
        x.switch
            .handle_timeout(&mut x.tcp, Duration::from_millis(fabric.now()));
        x.flush_trace();
    }
    deliver(hosts);
}

/// The most rounds [`deliver`] makes before it gives up: each round hands one signalled event
/// to its switch, or lets every switch handle the completions its providers posted. A switch
/// that keeps completing forever (a defect) stops here instead of hanging the simulator.
pub(crate) const MAX_ROUNDS: usize = 1_000_000;

/// Delivers every signalled event to its host's switch and lets every switch handle its
/// providers' completions (`Switch::handle_completions`, which moves the SAN sessions on),
/// until every host answers 0 and no event is pending; collects what the switches say. Answers
/// false when it gave up after [`MAX_ROUNDS`] rounds.
pub(crate) fn deliver(hosts: &mut [SimHost<'_>]) -> bool {
    let Some(first) = hosts.first() else {
        return true;
    };
    let fabric = first.fabric.clone();
    for _ in 0..MAX_ROUNDS {
        for x in hosts.iter_mut() {
            x.collect_events();
        }
        if let Some((h, ev)) = fabric.next_signal() {
            if let Some(x) = hosts.get_mut(h) {
                x.switch.handle_event(&mut x.tcp, ev);
                x.flush_trace();
            }
            continue;
        }
        let mut handled = 0;
        for x in hosts.iter_mut() {
            handled += x.switch.handle_completions(&mut x.tcp);
            x.flush_trace();
        }
        if handled == 0 {
            for x in hosts.iter_mut() {
                x.collect_events();
            }
            if fabric.pending_signals() == 0 {
                return true;
            }
        }
    }
    false
}

/// The accepting end of the SAN connection `socket` of host `h` made to `to`: the host whose
/// listener accepted it, and the socket its application took.
fn take_accepted(
    hosts: &mut [SimHost<'_>],
    h: usize,
    socket: SocketId,
    to: SocketAddr,
) -> Option<(usize, SocketId)> {
    let local = hosts[h].switch.connection(socket)?.2?;
    for (i, x) in hosts.iter_mut().enumerate() {
        let found = x.accepted.iter().position(|a| {
            x.switch.connection(a.1).is_some_and(|(_, remote, l)| {
                remote == local && l.is_some_and(|l| l.port() == to.port())
            })
        });
        if let Some(k) = found {
            let (listener, s) = x.accepted.remove(k);
            let _ = x.switch.accept(listener);
            return Some((i, s));
        }
    }
    None
}

/// The accepting end of the TCP connection `socket` of host `h` made: the host whose TCP/IP
/// listener it reached, and the socket its application accepts there from the TCP/IP provider
/// (the switch never sees it). Each connection is accepted right after its connect, so the
/// oldest connection a listener has not handed out is this one; any other is left alone.
fn take_tcp_accepted(
    hosts: &mut [SimHost<'_>],
    h: usize,
    socket: SocketId,
) -> Option<(usize, TcpSocket)> {
    let local = hosts[h].switch.connection(socket)?.2?;
    for (i, x) in hosts.iter_mut().enumerate() {
        let listeners: Vec<TcpSocket> = x.tcp_listeners.iter().map(|(_, t)| *t).collect();
        for l in listeners {
            while let Ok((new, remote)) = x.tcp.accept(l) {
                if remote == local {
                    return Some((i, new));
                }
            }
        }
    }
    None
}

/// Runs a listen on `hosts[h]`: answers the step's result and where it listens.
pub(crate) fn listen(
    hosts: &mut [SimHost<'_>],
    h: usize,
    address: SocketAddr,
    backlog: u32,
    accept: bool,
) -> (String, Vec<String>, Option<SocketId>) {
    let host = &mut hosts[h];
    let names = NameMap::new(&host.switch.report());
    let error = |e: &switch_core::connection::SocketError| match e {
        switch_core::connection::SocketError::Tcp { error, .. } => {
            format!("error:{}", wsa_name(*error))
        }
        _ => "error:WSAEINVAL".to_owned(),
    };
    let s = match host
        .switch
        .socket(&mut host.tcp, family(address), SocketKind::Stream)
    {
        Ok(s) => s,
        Err(e) => return (error(&e), Vec::new(), None),
    };
    if let Err(e) = host.switch.bind(&mut host.tcp, s, address) {
        return (error(&e), Vec::new(), None);
    }
    let decision = if accept {
        ConditionResult::Accept
    } else {
        ConditionResult::Reject
    };
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    match host.switch.listen(&mut host.tcp, s, backlog, decision) {
        Ok(out) => {
            // The TCP/IP provider's listening socket, for the accepts of TCP connections.
            let tcp = host.tcp.calls.iter().rev().find_map(|c| match c {
                TcpCall::Listen(t, _) => Some(*t),
                _ => None,
            });
            if let Some(t) = tcp {
                host.tcp_listeners.push((s, t));
            }
            let mut on = vec!["tcp".to_owned()];
            on.extend(
                out.san
                    .iter()
                    .filter(|(_, r)| r.is_ok())
                    .map(|(p, _)| format!("san:{}", names.get(*p))),
            );
            deliver(hosts);
            ("ok".to_owned(), on, Some(s))
        }
        Err(e) => (error(&e), Vec::new(), None),
    }
}

/// The records of a connection's two ends, once established.
#[allow(clippy::too_many_arguments)]
pub(crate) fn records(
    hosts: &[SimHost<'_>],
    step: usize,
    h: usize,
    socket: SocketId,
    peer: Option<(usize, EndSocket)>,
    id: &str,
    reason: &StepReason,
    to: SocketAddr,
) -> Vec<ConnectionReport> {
    let x = &hosts[h];
    let Some((via, remote, local)) = x.switch.connection(socket) else {
        return Vec::new();
    };
    let names = NameMap::new(&x.switch.report());
    let local = local.unwrap_or(SocketAddr::new(unspecified(to.is_ipv4()), 0));
    let via_text = result_text(&Ok(via), &names);
    let mut out = vec![ConnectionReport {
        host: x.spec.name.clone(),
        id: id.to_owned(),
        local: local.to_string(),
        remote: remote.to_string(),
        via: via_text.clone(),
        reason: reason.clone(),
        state: "open".to_owned(),
        bytes_sent: 0,
        bytes_received: 0,
        step,
    }];
    let accepting =
        |host: &SimHost<'_>, local: SocketAddr, remote: SocketAddr, via: String| ConnectionReport {
            host: host.spec.name.clone(),
            id: id.to_owned(),
            local: local.to_string(),
            remote: remote.to_string(),
            via,
            reason: StepReason {
                code: reason.code,
                wsa: reason.wsa.clone(),
                detail: format!("accepted by the listener on {local}"),
            },
            state: "open".to_owned(),
            bytes_sent: 0,
            bytes_received: 0,
            step,
        };
    match (via, peer) {
        (Via::San(_), Some((ph, EndSocket::Switch(ps)))) => {
            let y = &hosts[ph];
            if let Some((pvia, premote, plocal)) = y.switch.connection(ps) {
                let pnames = NameMap::new(&y.switch.report());
                out.push(accepting(
                    y,
                    plocal.unwrap_or(to),
                    premote,
                    result_text(&Ok(pvia), &pnames),
                ));
            }
        }
        (Via::Tcp, _) => {
            // The TCP/IP provider accepted it on the host that owns the destination.
            let fabric = &x.fabric;
            for (i, y) in hosts.iter().enumerate() {
                let found = fabric.connections_of(i).into_iter().find(|c| {
                    c.role == Role::Callee
                        && c.transport == Transport::Tcp
                        && c.remote == local
                        && c.local.port() == to.port()
                });
                if let Some(c) = found {
                    out.push(accepting(y, c.local, c.remote, "tcp".to_owned()));
                    break;
                }
            }
        }
        _ => {}
    }
    out
}
