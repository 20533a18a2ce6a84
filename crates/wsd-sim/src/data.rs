//! The data steps: `send` and `shutdown`, run on one end of a connection, with the other end's
//! application reading what arrives and checking it byte for byte.
//!
//! # Decisions
//!
//! - What an end sends is a fixed pattern over the bytes that end ever sent: byte `i` (from 0,
//!   counted over all of the end's sends) is [`pattern`]`(i)`, the top byte of `i` times the
//!   64-bit golden-ratio constant. It has no short period, so a lost, repeated or swapped
//!   block of any size shows as a wrong byte, not only as a wrong count.
//! - Each end keeps what it still expects from its peer: the pattern ranges of the ordinary
//!   bytes, in order (the receive cursor), and the urgent byte. An urgent send (`oob`) follows
//!   the BSD rules both TCP/IP and the SAN session follow (SESS-4): its last byte is the urgent
//!   byte, the others are ordinary data.
//! - After a send, the simulation settles (every signalled event delivered, every completion
//!   handled on every host) and the peer's application reads everything there is: ordinary
//!   bytes until `WSAEWOULDBLOCK` (or the end of the stream, or an error), then the urgent byte
//!   (`MSG_OOB`). While reading makes progress and the send has not finished, it settles and
//!   reads again, as an application woken by FD_READ would; so a send that waits for the
//!   receiver to make room still finishes.
//! - The step's result is the send's: `"ok"`, or `"error:<WSA name>"` from the send call or
//!   from its completion (`SwitchEvent::Sent`); `"error:WSA_IO_INCOMPLETE"` when its
//!   completion never came. A byte read that differs from the byte sent there, a byte too
//!   many, or (after a send that succeeded) a byte missing makes it `"error:corrupted"`
//!   whatever the send said: a defect of the switch or of the mock, never of the scenario.
//! - A send that failed may have delivered a first part: what arrived is checked, the rest is
//!   not expected any more. A receiving end whose application shut down receiving reads
//!   `WSAESHUTDOWN`: what it expected is dropped (the data is discarded by design).
//! - The accepting end of a TCP connection is a socket of the TCP/IP provider, accepted by the
//!   simulator from the listener's TCP/IP socket (the switch never sees it); it sends, reads
//!   and shuts down through the TCP/IP provider directly, and counts its own bytes.
//! - `send` or `shutdown` on a connection whose connect failed answers `"error:WSAENOTCONN"`;
//!   on a closed connection, or from a host that holds no end of it, `"error:WSAENOTSOCK"`.
//!   A connection from a host to itself is sent on from its connecting end.

use std::collections::VecDeque;

use spi_types::{MsgFlags, WsaError};
use switch_core::connection::{SocketError, SocketId};
use switch_core::provider::{Shutdown, TcpProvider, TcpSocket};
use switch_core::report::wsa_name;
use switch_core::session::conn::{DataPath, SendId, SendReport};

use crate::net::{self, MAX_ROUNDS};
use crate::report::{Received, SendFields};
use crate::run::SimHost;
use crate::scenario::ShutdownHow;

/// Byte `i` of what an end sends: the top byte of `i` × 0x9E3779B97F4A7C15.
pub(crate) fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// An application socket of one end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndSocket {
    /// A socket of the host's switch.
    Switch(SocketId),
    /// The accepting end of a TCP connection: a socket of the host's TCP/IP provider.
    Tcp(TcpSocket),
}

/// One end of a connection, as its host's application holds it.
#[derive(Debug, Clone)]
pub(crate) struct End {
    /// The host.
    pub host: usize,
    /// The application's socket.
    pub socket: EndSocket,
    /// The index of this end's element in the report's `connections`.
    pub record: Option<usize>,
    /// The pattern index of the next byte this end sends.
    pub next: u64,
    /// The ordinary bytes this end still expects from its peer, in order: (pattern index of
    /// the first, count).
    pub expect: VecDeque<(u64, u64)>,
    /// The urgent byte this end expects from its peer, if one was sent and not read.
    pub urgent: Option<u8>,
    /// Bytes the application sent and received (counted here for a TCP/IP-provider socket,
    /// which the switch does not count).
    pub counted: (u64, u64),
}

impl End {
    /// A fresh end.
    pub fn new(host: usize, socket: EndSocket, record: Option<usize>) -> Self {
        End {
            host,
            socket,
            record,
            next: 0,
            expect: VecDeque::new(),
            urgent: None,
            counted: (0, 0),
        }
    }

    /// The bytes this end's application sent and received: the switch's count for a switch
    /// socket (`None` once it is closed), its own for a TCP/IP-provider socket.
    pub fn bytes(&self, hosts: &[SimHost<'_>]) -> Option<(u64, u64)> {
        match self.socket {
            EndSocket::Switch(s) => hosts.get(self.host)?.switch.bytes(s),
            EndSocket::Tcp(_) => Some(self.counted),
        }
    }

    /// Closes the application's socket.
    pub fn close(&self, hosts: &mut [SimHost<'_>]) -> Result<(), String> {
        let Some(x) = hosts.get_mut(self.host) else {
            return Ok(());
        };
        match self.socket {
            EndSocket::Switch(s) => x
                .switch
                .close(&mut x.tcp, s)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            EndSocket::Tcp(t) => x.tcp.close(t).map_err(|e| wsa_name(e).to_owned()),
        }
    }
}

/// A connection a connect step established.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    /// The connecting end, then the accepting end when the simulator found it.
    pub ends: Vec<End>,
    /// A `close` step closed it.
    pub closed: bool,
}

/// What a data step did.
pub(crate) struct DataOutcome {
    /// The step's result.
    pub result: String,
    /// The send's fields (send steps).
    pub send: Option<SendFields>,
    /// What the other end read; `None` when it has no application socket.
    pub received: Option<Received>,
}

/// The Winsock error behind a refused socket call: its own, or for the switch's refusals
/// `WSAENOTCONN` (a socket in the wrong state), `WSAENOTSOCK` (no such socket) or
/// `WSAENETDOWN` (the switch is shut down).
fn socket_error(e: &SocketError) -> WsaError {
    if let Some(w) = e.wsa() {
        return w;
    }
    match e {
        SocketError::UnknownSocket(_) => WsaError::WSAENOTSOCK,
        SocketError::ShutDown => WsaError::WSAENETDOWN,
        _ => WsaError::WSAENOTCONN,
    }
}

fn error_text(e: WsaError) -> String {
    format!("error:{}", wsa_name(e))
}

/// The end on host `h` and its peer: indexes into `conn.ends`, or the step's error.
fn ends_of(conn: Option<&Conn>, h: usize) -> Result<(usize, Option<usize>), WsaError> {
    let conn = conn.ok_or(WsaError::WSAENOTCONN)?;
    if conn.closed {
        return Err(WsaError::WSAENOTSOCK);
    }
    let me = conn
        .ends
        .iter()
        .position(|e| e.host == h)
        .ok_or(WsaError::WSAENOTSOCK)?;
    let peer = (0..conn.ends.len()).find(|&i| i != me);
    Ok((me, peer))
}

/// Runs a `send` step: the application on host `h` sends `bytes` bytes on `conn` (urgent with
/// `oob`), the simulation settles, and the peer's application reads and checks them.
pub(crate) fn send(
    hosts: &mut [SimHost<'_>],
    conn: Option<&mut Conn>,
    id: &str,
    h: usize,
    bytes: u32,
    oob: bool,
) -> DataOutcome {
    let mut fields = SendFields {
        path: None,
        messages: None,
        rdma_ops: None,
        bytes: u64::from(bytes),
        oob,
        connection: id.to_owned(),
        to: None,
    };
    let (me, peer) = match ends_of(conn.as_deref(), h) {
        Ok(x) => x,
        Err(e) => {
            return DataOutcome {
                result: error_text(e),
                send: Some(fields),
                received: None,
            };
        }
    };
    let Some(conn) = conn else {
        return DataOutcome {
            result: error_text(WsaError::WSAENOTCONN),
            send: Some(fields),
            received: None,
        };
    };
    fields.to = peer
        .and_then(|p| conn.ends.get(p))
        .and_then(|e| hosts.get(e.host))
        .map(|x| x.spec.name.clone());
    let end = &mut conn.ends[me];
    let start = end.next;
    let n = u64::from(bytes);
    end.next += n;
    let data: Vec<u8> = (start..start + n).map(pattern).collect();
    let flags = if oob {
        MsgFlags::OOB
    } else {
        MsgFlags::empty()
    };
    // The send: a switch send completes later (SwitchEvent::Sent), a TCP/IP one at once.
    let x = &mut hosts[end.host];
    let pending: Result<Option<SendId>, WsaError> = match end.socket {
        EndSocket::Switch(s) => x
            .switch
            .send(&mut x.tcp, s, data, flags)
            .map(Some)
            .map_err(|e| socket_error(&e)),
        EndSocket::Tcp(t) => x.tcp.send(t, &data, flags).map(|k| {
            end.counted.0 += k as u64;
            None
        }),
    };
    x.flush_trace();
    let mut report: Option<Result<SendReport, WsaError>> = match pending {
        Err(e) => Some(Err(e)),
        Ok(None) => Some(Ok(SendReport {
            bytes: bytes as usize,
            path: DataPath::Tcp,
            messages: 0,
            rdma_ops: 0,
        })),
        Ok(Some(_)) => None,
    };
    let send_id = pending.ok().flatten();
    if report.as_ref().is_none_or(Result::is_ok)
        && let Some(p) = peer
    {
        expect(&mut conn.ends[p], start, n, oob);
    }
    let sender = end_host(conn, me);
    let mut read = peer.map(|p| Reading::new(hosts, &conn.ends[p]));
    // Settle and read, again while reading makes progress: the send may wait for the
    // receiver to make room.
    for _ in 0..MAX_ROUNDS {
        let _ = net::deliver(hosts);
        take_report(hosts, sender, send_id, &mut report);
        let progress = match (peer, read.as_mut()) {
            (Some(p), Some(r)) => r.read(hosts, &mut conn.ends[p]),
            _ => false,
        };
        if !progress {
            break;
        }
    }
    let _ = net::deliver(hosts);
    take_report(hosts, sender, send_id, &mut report);
    let result = match &report {
        None => error_text(WsaError::WSA_IO_INCOMPLETE),
        Some(Err(e)) => error_text(*e),
        Some(Ok(r)) => {
            fields.path = Some(r.path.name().to_owned());
            fields.messages = Some(r.messages);
            fields.rdma_ops = Some(r.rdma_ops);
            "ok".to_owned()
        }
    };
    let received = match (peer, read) {
        (Some(p), Some(mut r)) => {
            let end = &mut conn.ends[p];
            match &report {
                // Everything sent must be there now.
                Some(Ok(_)) => r.missing(end),
                // A failed send's rest will not come.
                Some(Err(_)) => {
                    end.expect.clear();
                    end.urgent = None;
                }
                None => {}
            }
            Some(r.finish())
        }
        _ => None,
    };
    let corrupted = received.as_ref().is_some_and(|r| !r.intact);
    DataOutcome {
        result: if corrupted {
            "error:corrupted".to_owned()
        } else {
            result
        },
        send: Some(fields),
        received,
    }
}

/// Takes the end of the send `send` of host `h` from what its switch said, if it came and
/// was not taken yet.
fn take_report(
    hosts: &mut [SimHost<'_>],
    h: usize,
    send: Option<SendId>,
    report: &mut Option<Result<SendReport, WsaError>>,
) {
    if let (None, Some(id), Some(x)) = (&report, send, hosts.get_mut(h)) {
        *report = x.sent.remove(&id);
    }
}

fn end_host(conn: &Conn, i: usize) -> usize {
    conn.ends.get(i).map_or(0, |e| e.host)
}

/// Records at the receiving end `end` that `n` bytes from pattern index `start` are on their
/// way (the last one urgent with `oob`).
fn expect(end: &mut End, start: u64, n: u64, oob: bool) {
    if n == 0 {
        return;
    }
    let ordinary = if oob { n - 1 } else { n };
    if ordinary > 0 {
        match end.expect.back_mut() {
            Some((s, k)) if *s + *k == start => *k += ordinary,
            _ => end.expect.push_back((start, ordinary)),
        }
    }
    if oob {
        end.urgent = Some(pattern(start + n - 1));
    }
}

/// Runs a `shutdown` step on the end at host `h`, settles, and lets the peer's application
/// read what there is (the end of the stream, after a shutdown of sending).
pub(crate) fn shutdown(
    hosts: &mut [SimHost<'_>],
    conn: Option<&mut Conn>,
    h: usize,
    how: ShutdownHow,
) -> DataOutcome {
    let (me, peer) = match ends_of(conn.as_deref(), h) {
        Ok(x) => x,
        Err(e) => {
            return DataOutcome {
                result: error_text(e),
                send: None,
                received: None,
            };
        }
    };
    let Some(conn) = conn else {
        return DataOutcome {
            result: error_text(WsaError::WSAENOTCONN),
            send: None,
            received: None,
        };
    };
    let how = match how {
        ShutdownHow::Send => Shutdown::Send,
        ShutdownHow::Receive => Shutdown::Receive,
        ShutdownHow::Both => Shutdown::Both,
    };
    let end = &conn.ends[me];
    let x = &mut hosts[end.host];
    let r = match end.socket {
        EndSocket::Switch(s) => x
            .switch
            .shutdown_socket(&mut x.tcp, s, how)
            .map_err(|e| socket_error(&e)),
        EndSocket::Tcp(t) => x.tcp.shutdown(t, how),
    };
    x.flush_trace();
    let _ = net::deliver(hosts);
    let received = peer.map(|p| {
        let mut r = Reading::new(hosts, &conn.ends[p]);
        for _ in 0..MAX_ROUNDS {
            if !r.read(hosts, &mut conn.ends[p]) {
                break;
            }
            let _ = net::deliver(hosts);
        }
        let _ = net::deliver(hosts);
        r.finish()
    });
    let corrupted = received.as_ref().is_some_and(|r| !r.intact);
    DataOutcome {
        result: match r {
            _ if corrupted => "error:corrupted".to_owned(),
            Ok(()) => "ok".to_owned(),
            Err(e) => error_text(e),
        },
        send: None,
        received,
    }
}

/// What the application at one end read during a step.
struct Reading {
    received: Received,
    /// Reads stop after this many ordinary bytes: what was expected, and a generous margin to
    /// see that more came.
    limit: u64,
}

/// The size of each read.
const READ_SIZE: usize = 64 * 1024;

impl Reading {
    fn new(hosts: &[SimHost<'_>], end: &End) -> Self {
        let expected: u64 = end.expect.iter().map(|(_, k)| k).sum();
        Reading {
            received: Received {
                host: hosts
                    .get(end.host)
                    .map_or_else(String::new, |x| x.spec.name.clone()),
                bytes: 0,
                urgent: 0,
                end_of_stream: false,
                intact: true,
                detail: None,
            },
            limit: expected.saturating_add(READ_SIZE as u64),
        }
    }

    fn problem(&mut self, what: String) {
        self.received.intact = false;
        if self.received.detail.is_none() {
            self.received.detail = Some(what);
        }
    }

    /// Reads everything there is at `end`: ordinary bytes until `WSAEWOULDBLOCK`, the end of
    /// the stream or an error, then the urgent byte; checks each. Answers whether it read
    /// anything.
    fn read(&mut self, hosts: &mut [SimHost<'_>], end: &mut End) -> bool {
        let Some(x) = hosts.get_mut(end.host) else {
            return false;
        };
        let mut buf = vec![0u8; READ_SIZE];
        let mut progress = false;
        while self.received.bytes < self.limit && !self.received.end_of_stream {
            match recv(x, end, &mut buf, MsgFlags::empty()) {
                Ok(0) => self.received.end_of_stream = true,
                Ok(n) => {
                    progress = true;
                    self.received.bytes += n as u64;
                    self.check(end, &buf[..n.min(buf.len())]);
                }
                Err(WsaError::WSAEWOULDBLOCK) => break,
                Err(WsaError::WSAESHUTDOWN) => {
                    self.discarded(end);
                    break;
                }
                Err(e) => {
                    self.note(format!("a read failed with {}", wsa_name(e)));
                    break;
                }
            }
        }
        match recv(x, end, &mut buf[..1], MsgFlags::OOB) {
            Ok(1) => {
                progress = true;
                self.received.urgent += 1;
                let got = buf[0];
                match end.urgent.take() {
                    Some(want) if want == got => {}
                    Some(want) => self.problem(format!(
                        "the urgent byte read is 0x{got:02X}, not the 0x{want:02X} sent"
                    )),
                    None => self.problem(format!(
                        "an urgent byte 0x{got:02X} was read, but none was sent"
                    )),
                }
            }
            Err(WsaError::WSAESHUTDOWN) => end.urgent = None,
            _ => {}
        }
        x.flush_trace();
        progress
    }

    fn note(&mut self, what: String) {
        if self.received.detail.is_none() {
            self.received.detail = Some(what);
        }
    }

    /// The application shut down receiving: what it expected is discarded.
    fn discarded(&mut self, end: &mut End) {
        let dropped: u64 =
            end.expect.iter().map(|(_, k)| k).sum::<u64>() + u64::from(end.urgent.is_some());
        end.expect.clear();
        end.urgent = None;
        if dropped > 0 {
            self.note(format!(
                "the application shut down receiving: {dropped} byte(s) sent to it were discarded"
            ));
        }
    }

    /// Checks bytes read against what `end` expects, in order.
    fn check(&mut self, end: &mut End, mut got: &[u8]) {
        while !got.is_empty() {
            let Some((start, count)) = end.expect.front_mut() else {
                let n = got.len();
                self.problem(format!("{n} byte(s) more than were sent arrived"));
                return;
            };
            let take = usize::try_from(*count).unwrap_or(usize::MAX).min(got.len());
            if let Some(k) = (0..take).find(|&k| got[k] != pattern(*start + k as u64)) {
                let at = self.received.bytes - got.len() as u64 + k as u64;
                let want = pattern(*start + k as u64);
                self.problem(format!(
                    "ordinary byte {at} read in this step is 0x{:02X}, not the 0x{want:02X} sent there",
                    got[k]
                ));
            }
            *start += take as u64;
            *count -= take as u64;
            if *count == 0 {
                end.expect.pop_front();
            }
            got = &got[take..];
        }
    }

    /// After a send that succeeded: what `end` still expects never arrived.
    fn missing(&mut self, end: &mut End) {
        let ordinary: u64 = end.expect.iter().map(|(_, k)| k).sum();
        let urgent = end.urgent.is_some();
        if ordinary > 0 || urgent {
            let what = match (ordinary, urgent) {
                (0, _) => "the urgent byte".to_owned(),
                (n, false) => format!("{n} ordinary byte(s)"),
                (n, true) => format!("{n} ordinary byte(s) and the urgent byte"),
            };
            self.problem(format!("{what} sent never arrived"));
            end.expect.clear();
            end.urgent = None;
        }
    }

    fn finish(self) -> Received {
        self.received
    }
}

/// One receive by the application at `end`.
fn recv(
    x: &mut SimHost<'_>,
    end: &mut End,
    buf: &mut [u8],
    flags: MsgFlags,
) -> Result<usize, WsaError> {
    let n = match end.socket {
        EndSocket::Switch(s) => x
            .switch
            .recv(&mut x.tcp, s, buf, flags)
            .map_err(|e| socket_error(&e))?,
        EndSocket::Tcp(t) => x.tcp.recv(t, buf, flags)?,
    };
    if matches!(end.socket, EndSocket::Tcp(_)) {
        end.counted.1 += n as u64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_has_no_short_period() {
        let first: Vec<u8> = (0..4096).map(pattern).collect();
        for shift in [1u64, 2, 256, 512, 4096, 8192, 65536, 1 << 20] {
            let shifted: Vec<u8> = (shift..shift + 4096).map(pattern).collect();
            assert_ne!(first, shifted, "shift {shift}");
        }
    }

    fn reading() -> Reading {
        Reading {
            received: Received {
                host: "beta".into(),
                bytes: 0,
                urgent: 0,
                end_of_stream: false,
                intact: true,
                detail: None,
            },
            limit: u64::MAX,
        }
    }

    /// Feeds `got` to the check as one read, as `Reading::read` does.
    fn feed(r: &mut Reading, end: &mut End, got: &[u8]) {
        r.received.bytes += got.len() as u64;
        r.check(end, got);
    }

    #[test]
    fn the_receive_check_passes_the_bytes_sent_in_any_split() {
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 1000, false);
        expect(&mut end, 1000, 10, true);
        let sent: Vec<u8> = (0..1009).map(pattern).collect();
        let mut r = reading();
        for part in sent.chunks(333) {
            feed(&mut r, &mut end, part);
        }
        r.missing(&mut end);
        // The urgent byte was not read: missing.
        assert!(!r.received.intact);
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 1000, false);
        let mut r = reading();
        feed(&mut r, &mut end, &sent[..1000]);
        r.missing(&mut end);
        assert!(r.received.intact, "{:?}", r.received.detail);
        assert!(end.expect.is_empty());
    }

    #[test]
    fn the_receive_check_catches_a_wrong_a_missing_an_extra_and_a_swapped_byte() {
        let sent: Vec<u8> = (0..600).map(pattern).collect();
        // A wrong byte.
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 600, false);
        let mut got = sent.clone();
        got[300] ^= 1;
        let mut r = reading();
        feed(&mut r, &mut end, &got);
        assert!(!r.received.intact);
        assert!(
            r.received
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("ordinary byte 300 ")),
            "{:?}",
            r.received.detail
        );
        // A block of 256 lost: every later byte is out of place.
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 600, false);
        let mut r = reading();
        let shifted: Vec<u8> = sent[..100].iter().chain(&sent[356..]).copied().collect();
        feed(&mut r, &mut end, &shifted);
        assert!(!r.received.intact);
        // Bytes missing at the end.
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 600, false);
        let mut r = reading();
        feed(&mut r, &mut end, &sent[..599]);
        assert!(r.received.intact);
        r.missing(&mut end);
        assert!(!r.received.intact);
        assert_eq!(
            r.received.detail.as_deref(),
            Some("1 ordinary byte(s) sent never arrived")
        );
        // A byte too many.
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 600, false);
        let mut r = reading();
        let mut more = sent.clone();
        more.push(0);
        feed(&mut r, &mut end, &more);
        assert!(!r.received.intact);
        // Two blocks swapped.
        let mut end = End::new(1, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 512, false);
        let mut r = reading();
        let swapped: Vec<u8> = sent[256..512].iter().chain(&sent[..256]).copied().collect();
        feed(&mut r, &mut end, &swapped);
        assert!(!r.received.intact);
    }

    #[test]
    fn an_urgent_send_expects_its_last_byte_apart() {
        let mut end = End::new(0, EndSocket::Tcp(TcpSocket(1)), None);
        expect(&mut end, 0, 10, false);
        expect(&mut end, 10, 5, true);
        assert_eq!(end.expect, [(0, 14)]);
        assert_eq!(end.urgent, Some(pattern(14)));
        expect(&mut end, 15, 1, true);
        assert_eq!(end.expect, [(0, 14)]);
        assert_eq!(end.urgent, Some(pattern(15)));
    }
}
