//! One SAN connection's session: the sans-IO machine that negotiates (CONN-7, ACCEPT-3) and
//! then carries the application's byte stream (SESS-1..6).
//!
//! The machine never calls a provider: it queues the calls it needs ([`ProviderMachine`]), the
//! switch's call executor makes them and hands the answers back, and the completions of the
//! overlapped calls come in through [`Session::complete`]. What the application sees comes out
//! as [`SessionEvent`]s and through [`Session::recv`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use spi_types::consts::{SO_MAX_MSG_SIZE, SO_MAX_RDMA_SIZE, SO_RDMA_THRESHOLD_SIZE};
use spi_types::{MemoryAccess, WsaError};

use super::negotiation::{MAX_CREDITS, Negotiation};
use super::wire::{Body, HEADER_SIZE, MAX_DESCRIPTOR, Message};
use crate::call::{Answer, Finished, NextCall, ProviderMachine};
use crate::memory::{Buffer, MemoryHandle, MemoryRange, WsaBufEx};
use crate::provider::{DataOutcome, ExtensionHandle, Overlapped, ProviderSocket};

/// How a session is set up; the defaults are the switch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Whether SAN connections run the session at all. Off, a SAN connection completes when
    /// its connect does and carries no data through the switch (sends and receives answer
    /// `WSAEOPNOTSUPP`): for embedders that test the connect path alone.
    pub enabled: bool,
    /// Receives posted per connection: the peer's credit (SESS-1). At least 4.
    pub receives: u32,
    /// Message buffers for sending per connection.
    pub sends: u32,
    /// The size of each message buffer, before the provider's `SO_MAX_MSG_SIZE` caps it.
    pub message_size: u32,
    /// Poll for completions with `WSPGetOverlappedResult` (the event handle's low bit set)
    /// instead of being completed through `WPUCompleteOverlappedRequest` (SESS-5).
    pub poll_completions: bool,
    /// Received-side staging buffers kept registered for the next transfer (the switch's
    /// registration cache), per connection.
    pub cached_buffers: usize,
    /// RDMA operations one transfer keeps in flight at most.
    pub rdma_in_flight: usize,
    /// Bytes of sends queued and not finished beyond which a further send answers
    /// `WSAEWOULDBLOCK`, as a non-blocking TCP send does when its buffer is full (a single send
    /// larger than this is taken when nothing is queued).
    pub send_queue: usize,
    /// Received bytes the application has not read beyond which the switch stops returning
    /// credits to the peer, so a peer cannot make it buffer without bound. The peer may still
    /// have messages in flight and a transfer under way.
    pub receive_window: usize,
}

impl SessionConfig {
    /// No sessions: SAN connections complete when their connect does and carry no data
    /// through the switch.
    pub fn disabled() -> Self {
        SessionConfig {
            enabled: false,
            ..SessionConfig::default()
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            enabled: true,
            receives: 8,
            sends: 8,
            message_size: 4096,
            poll_completions: false,
            cached_buffers: 2,
            rdma_in_flight: 16,
            receive_window: 4 << 20,
            send_queue: 16 << 20,
        }
    }
}

/// The fewest receives a side may announce: with fewer the credit scheme cannot both keep a
/// credit for its own updates and make progress.
pub const MIN_CREDITS: u32 = 4;

/// The smallest message buffer the switch works with.
pub const MIN_MESSAGE_SIZE: u32 = 128;

/// The descriptor block offered to `WSPRegisterRdmaMemory` first; a provider that needs more
/// says so with `WSAEFAULT` and the size.
const FIRST_DESCRIPTOR_LEN: usize = 64;

/// The most bytes one RDMA transfer moves: a larger send goes as several transfers, and a
/// peer that announces a larger one breaks the protocol. It bounds what one transfer makes
/// the receiver hold, and keeps every offset within the 32 bits an RDMA call takes.
pub const MAX_TRANSFER: usize = 16 << 20;

/// The threshold the switch uses when the provider states no preference.
pub const DEFAULT_RDMA_THRESHOLD: u32 = 8192;

/// Which end of the connection this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The connecting side: sends the negotiation message first.
    Connector,
    /// The accepting side: answers it (ACCEPT-3).
    Acceptor,
}

/// The entry points of the extensions a session calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entries {
    /// RegisterMemory.
    pub register: ExtensionHandle,
    /// DeregisterMemory.
    pub deregister: ExtensionHandle,
    /// RegisterRdmaMemory.
    pub register_rdma: ExtensionHandle,
    /// DeregisterRdmaMemory.
    pub deregister_rdma: ExtensionHandle,
    /// RdmaWrite.
    pub rdma_write: ExtensionHandle,
    /// RdmaRead, if the provider has it.
    pub rdma_read: Option<ExtensionHandle>,
}

/// The application's handle of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SendId(pub u64);

/// How a send's bytes travelled (the simulator's `path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataPath {
    /// Inside control messages.
    Inline,
    /// The first part inline, the rest read by the receiver (SESS-2).
    RdmaRead,
    /// The first part inline, the rest written by the sender (SESS-2).
    RdmaWrite,
    /// Through TCP/IP.
    Tcp,
}

impl DataPath {
    /// The name reports use: `inline`, `rdma_read`, `rdma_write`, `tcp`.
    pub fn name(self) -> &'static str {
        match self {
            DataPath::Inline => "inline",
            DataPath::RdmaRead => "rdma_read",
            DataPath::RdmaWrite => "rdma_write",
            DataPath::Tcp => "tcp",
        }
    }
}

/// A piece of the received stream taken whole ([`Session::recv_piece`]).
#[derive(Debug)]
pub enum Piece {
    /// Bytes that came inline (empty: the end of the stream).
    Bytes(Vec<u8>),
    /// A transfer's bytes: the first `len` bytes of the buffer they arrived in, which the
    /// session no longer uses or registers.
    Staged(Buffer, usize),
}

/// What a finished send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    /// The bytes sent.
    pub bytes: usize,
    /// How they travelled.
    pub path: DataPath,
    /// The control messages the send used.
    pub messages: u32,
    /// The RDMA operations it used.
    pub rdma_ops: u32,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A provider call failed where the session cannot go on.
    #[error("{call} failed with {error}")]
    Provider {
        /// The call.
        call: &'static str,
        /// Its error.
        error: WsaError,
    },
    /// The peer sent something the protocol does not allow.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The session asked for more calls than it may in one go.
    #[error("the session overran its call budget")]
    Overrun,
}

impl SessionError {
    /// The Winsock error the application sees.
    pub fn wsa(&self) -> WsaError {
        match self {
            SessionError::Provider { error, .. }
                if *error == WsaError::WSAECONNRESET || *error == WsaError::WSAECONNABORTED =>
            {
                *error
            }
            _ => WsaError::WSAECONNRESET,
        }
    }
}

/// What a session tells the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The negotiation finished: the application's connect or accept completes (CONN-7).
    Negotiated,
    /// The negotiation failed; the connection is unusable.
    NegotiationFailed(SessionError),
    /// A send finished.
    Sent {
        /// The send.
        send: SendId,
        /// Its report, or its error.
        result: Result<SendReport, WsaError>,
    },
    /// Data (or the end of the stream, or an error) is there to receive.
    Readable,
    /// The session failed after the negotiation.
    Failed(SessionError),
}

/// What one outstanding overlapped call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A posted receive in message slot `slot`.
    Recv(usize),
    /// A control message going out of send slot `slot`, carrying part of an application
    /// send when `owner` says which.
    Send { slot: usize, owner: Option<SendId> },
    /// An RDMA operation of the outgoing write (`outgoing: true`) or incoming read transfer.
    Rdma { outgoing: bool, len: usize },
}

impl Op {
    const RECV: usize = 0;
    const SEND: usize = 1;
    const RDMA: usize = 2;

    /// Its map in `Session::order`.
    fn kind(self) -> usize {
        match self {
            Op::Recv(_) => Op::RECV,
            Op::Send { .. } => Op::SEND,
            Op::Rdma { .. } => Op::RDMA,
        }
    }
}

/// A queued application send.
struct AppSend {
    id: SendId,
    data: Buffer,
    len: usize,
    oob: bool,
    /// Bytes already put into messages.
    sent: usize,
    messages: u32,
    /// Messages still to complete before the send is done: an inline send's messages, or a
    /// written transfer's completion message.
    unacked: u32,
    /// How a transfer above the threshold travelled, once it did.
    rdma: Option<(DataPath, u32)>,
}

/// The sender's side of a transfer above the threshold.
struct Outgoing {
    send: AppSend,
    /// Where this transfer's piece of the send starts, and its length: a send larger than
    /// [`MAX_TRANSFER`] goes as several transfers.
    base: usize,
    piece: usize,
    /// Bytes of the piece that travel inline.
    inline: usize,
    read: bool,
    /// The offer or request went out.
    announced: bool,
    stage: OutStage,
    /// Control messages the transfer used, the peer's included.
    messages: u32,
    rdma_ops: u32,
}

enum OutStage {
    /// Registering the data for the peer to read; waiting for the descriptor.
    Registering,
    /// The offer (or the write request) is sent; waiting for the peer.
    Waiting { descriptor: Option<Vec<u8>> },
    /// Writing: the local registration and the target.
    Writing {
        handle: Option<MemoryHandle>,
        target: Vec<u8>,
        next: usize,
        in_flight: usize,
        failed: Option<WsaError>,
    },
}

/// The receiver's side of a transfer above the threshold.
struct Incoming {
    inline: Vec<u8>,
    len: usize,
    staging: Buffer,
    /// The staging buffer's local registration, if it has one (it stays with the buffer).
    local: Option<MemoryHandle>,
    read: bool,
    stage: InStage,
}

enum InStage {
    /// Waiting for the local registration of the staging buffer (read: the peer's
    /// descriptor waits here) or its RDMA registration (write).
    Registering { descriptor: Option<Vec<u8>> },
    /// Reading from the peer's descriptor.
    Reading {
        handle: MemoryHandle,
        descriptor: Vec<u8>,
        next: usize,
        in_flight: usize,
    },
    /// The write target is sent; waiting for the sender's completion.
    Targeted { descriptor: Vec<u8> },
}

/// A piece of the received stream.
struct Chunk {
    data: ChunkData,
    pos: usize,
    end: usize,
}

enum ChunkData {
    Owned(Vec<u8>),
    /// A staging buffer, returned to the cache when read.
    Staged(Buffer, Option<MemoryHandle>),
}

/// A control message waiting for a send slot and a credit.
enum Outbound {
    WriteTarget(Result<Vec<u8>, WsaError>),
    ReadDone(Result<u64, WsaError>),
    /// The sender's write completion, and the send it finishes once it went.
    WriteDone(Result<u64, WsaError>, Option<SendId>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the provider's three options.
    Probing,
    /// Registering the message buffers.
    Registering,
    /// Receives posted; the negotiation is under way.
    Negotiating,
    /// The stream is open.
    Open,
    /// Failed: nothing more is sent.
    Failed,
    /// The switch is closing the socket.
    Closing,
}

/// The sizes the provider answered (SESS-3) and the peer announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    max_msg: u32,
    max_rdma: u32,
    threshold: u32,
}

/// One SAN connection's session.
pub struct Session {
    socket: ProviderSocket,
    role: Role,
    entries: Entries,
    config: SessionConfig,
    serial: u64,
    next_op: u64,
    phase: Phase,
    error: Option<SessionError>,
    probed: Vec<Option<u32>>,
    limits: Limits,
    slot_size: usize,
    pool: Option<Buffer>,
    pool_handle: Option<MemoryHandle>,
    free_send: Vec<usize>,
    /// Bytes of application sends not finished (SessionConfig::send_queue).
    queued: usize,
    /// Memory of transfers that ended with a failure, kept until the socket is closed.
    doomed: Vec<Buffer>,
    /// Memory of finished sends the application may take back, and whether it was
    /// registered.
    reclaimable: Vec<(Buffer, bool)>,
    /// The calls under way, with the order they were made in.
    ops: HashMap<u64, (Op, u64)>,
    /// With `poll_completions`, the same calls in the order they were made, one map per kind
    /// (receives, message sends, RDMA operations): a poll round asks for the oldest receive
    /// and the oldest send only (see [`Session::poll_completions`]). Empty otherwise.
    order: [BTreeMap<u64, u64>; 3],
    posted: u64,
    /// The calls a `WSPGetOverlappedResult` is queued for (a set: a poll round over many
    /// calls under way stays linear).
    polling: HashSet<u64>,
    calls: VecDeque<(NextCall, Option<u64>)>,
    // The peer.
    peer: Option<Negotiation>,
    credits: u32,
    owed: u32,
    send_cap: usize,
    threshold: usize,
    max_rdma: usize,
    descriptor_len: usize,
    // Sending.
    sends: VecDeque<AppSend>,
    fin_queued: bool,
    fin_sent: bool,
    inline_active: Option<AppSend>,
    /// Inline sends whose messages all went, waiting for their last completions.
    acking: HashMap<SendId, AppSend>,
    /// The application send the next message belongs to.
    tagging: Option<SendId>,
    outgoing: Option<Outgoing>,
    outbound: VecDeque<Outbound>,
    // Receiving.
    rx: VecDeque<Chunk>,
    rx_bytes: usize,
    oob: Option<u8>,
    peer_fin: bool,
    recv_shut: bool,
    incoming: Option<Incoming>,
    staging: Vec<(Buffer, Option<MemoryHandle>)>,
    released: Vec<Buffer>,
    events: VecDeque<SessionEvent>,
    readable_said: bool,
    /// Control messages sent and received, RDMA operations made (for the report).
    counters: Counters,
    completed: u64,
}

/// What a session has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Application bytes sent.
    pub bytes_sent: u64,
    /// Application bytes received (delivered to the stream).
    pub bytes_received: u64,
    /// Control messages sent.
    pub messages_sent: u64,
    /// Control messages received.
    pub messages_received: u64,
    /// RDMA operations this side made.
    pub rdma_ops: u64,
    /// The credits the peer has given and this side not yet used (SESS-1): never more than
    /// the receives the peer posted.
    pub credits: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("socket", &self.socket)
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("credits", &self.credits)
            .field("owed", &self.owed)
            .finish_non_exhaustive()
    }
}

const OPT_NAMES: [i32; 3] = [SO_MAX_MSG_SIZE, SO_MAX_RDMA_SIZE, SO_RDMA_THRESHOLD_SIZE];

/// The most calls one drive of a session may make: every slot's call, the transfers' RDMA
/// operations in flight, and their registrations, with room to spare.
fn budget(config: &SessionConfig) -> usize {
    (config.receives as usize + config.sends as usize) * 4 + config.rdma_in_flight * 4 + 64
}

impl Session {
    /// A session on the connected provider socket `socket`; `serial` makes its overlapped ids
    /// unique in the switch (the high bits of each id).
    pub fn new(
        socket: ProviderSocket,
        role: Role,
        entries: Entries,
        config: SessionConfig,
        serial: u64,
    ) -> Self {
        let mut config = config;
        config.receives = config.receives.clamp(MIN_CREDITS, MAX_CREDITS);
        config.sends = config.sends.max(2);
        config.message_size = config.message_size.max(MIN_MESSAGE_SIZE);
        config.rdma_in_flight = config.rdma_in_flight.max(1);
        let mut s = Session {
            socket,
            role,
            entries,
            config,
            serial,
            next_op: 0,
            phase: Phase::Probing,
            error: None,
            probed: Vec::new(),
            limits: Limits {
                max_msg: u32::MAX,
                max_rdma: u32::MAX,
                threshold: DEFAULT_RDMA_THRESHOLD,
            },
            slot_size: 0,
            pool: None,
            pool_handle: None,
            free_send: Vec::new(),
            ops: HashMap::new(),
            order: Default::default(),
            posted: 0,
            queued: 0,
            doomed: Vec::new(),
            reclaimable: Vec::new(),
            polling: HashSet::new(),
            calls: VecDeque::new(),
            peer: None,
            credits: 0,
            owed: 0,
            send_cap: 0,
            threshold: 0,
            max_rdma: 0,
            descriptor_len: FIRST_DESCRIPTOR_LEN,
            sends: VecDeque::new(),
            fin_queued: false,
            fin_sent: false,
            inline_active: None,
            acking: HashMap::new(),
            tagging: None,
            outgoing: None,
            outbound: VecDeque::new(),
            rx: VecDeque::new(),
            rx_bytes: 0,
            oob: None,
            peer_fin: false,
            recv_shut: false,
            incoming: None,
            staging: Vec::new(),
            released: Vec::new(),
            events: VecDeque::new(),
            readable_said: false,
            counters: Counters::default(),
            completed: 0,
        };
        for name in OPT_NAMES {
            s.calls
                .push_back((NextCall::GetSockOpt { socket, name }, None));
        }
        s
    }

    /// The provider socket.
    pub fn socket(&self) -> ProviderSocket {
        self.socket
    }

    /// The serial in the high bits of the session's overlapped ids.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Whether the session polls for completions.
    pub fn polls(&self) -> bool {
        self.config.poll_completions
    }

    /// How many overlapped calls have completed so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Fails the session from outside (the provider went away, or a drive overran).
    pub fn abort(&mut self, error: SessionError) {
        self.fail(error);
    }

    /// Whether the negotiation finished and the stream is usable.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// The credits the peer has given and not yet used (SESS-1).
    pub fn credits(&self) -> u32 {
        self.credits
    }

    /// What the session has moved.
    pub fn counters(&self) -> Counters {
        Counters {
            credits: self.credits,
            ..self.counters
        }
    }

    /// The overlapped calls under way.
    pub fn pending_ops(&self) -> usize {
        self.ops.len()
    }

    /// The effective RDMA threshold, once negotiated.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The next event for the switch.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Buffers the session no longer uses that were registered with the provider: the
    /// switch calls every provider's MemoryRegistrationCacheCallback for each before it lets
    /// it go (MEM-2).
    pub fn take_released(&mut self) -> Vec<Buffer> {
        std::mem::take(&mut self.released)
    }

    /// Bytes waiting to be received.
    pub fn readable_bytes(&self) -> usize {
        self.rx_bytes
    }

    /// The memory the session holds: message buffers and staged data.
    pub fn footprint(&self) -> usize {
        self.pool.as_ref().map_or(0, Buffer::len)
            + self.staging.iter().map(|(b, _)| b.len()).sum::<usize>()
            + self.reclaimable.iter().map(|(b, _)| b.len()).sum::<usize>()
    }

    fn mint(&mut self) -> Overlapped {
        loop {
            self.next_op = (self.next_op + 1) & 0xFF_FFFF;
            let id = (self.serial << 24) | self.next_op;
            if !self.ops.contains_key(&id) {
                return Overlapped {
                    id,
                    poll_only: self.config.poll_completions,
                };
            }
        }
    }

    /// Queues RDMA operations (with the bytes each moves), each with a new overlapped id.
    fn post_rdma(&mut self, posts: Vec<(NextCall, usize)>, outgoing: bool) {
        for (mut call, len) in posts {
            let ov = self.mint();
            if let NextCall::Rdma { overlapped, .. } = &mut call {
                *overlapped = ov;
            }
            self.insert_op(ov.id, Op::Rdma { outgoing, len });
            self.calls.push_back((call, Some(ov.id)));
        }
    }

    fn insert_op(&mut self, id: u64, op: Op) {
        self.posted += 1;
        self.ops.insert(id, (op, self.posted));
        if self.config.poll_completions {
            self.order[op.kind()].insert(self.posted, id);
        }
    }

    fn take_op(&mut self, id: u64) -> Option<Op> {
        let (op, seq) = self.ops.remove(&id)?;
        self.order[op.kind()].remove(&seq);
        Some(op)
    }

    fn slot(&self, slot: usize, len: usize) -> MemoryRange {
        MemoryRange {
            buffer: self.pool.clone().unwrap_or_else(|| Buffer::zeroed(0)),
            offset: slot * self.slot_size,
            len,
        }
    }

    fn slot_buf(&self, slot: usize, len: usize) -> WsaBufEx {
        WsaBufEx {
            range: self.slot(slot, len),
            handle: self.pool_handle.unwrap_or(MemoryHandle(0)),
        }
    }

    fn post_recv(&mut self, slot: usize) {
        let ov = self.mint();
        self.insert_op(ov.id, Op::Recv(slot));
        let buffers = vec![self.slot_buf(slot, self.slot_size)];
        self.calls.push_back((
            NextCall::Recv {
                socket: self.socket,
                buffers,
                overlapped: ov,
            },
            Some(ov.id),
        ));
    }

    /// Writes `bytes` into a free send slot and queues its `WSPSend`; `false` when no slot is
    /// free.
    fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        let Some(slot) = self.free_send.pop() else {
            return false;
        };
        let range = self.slot(slot, bytes.len());
        if bytes.len() > self.slot_size || range.buffer.write(range.offset, bytes).is_err() {
            self.free_send.push(slot);
            return false;
        }
        self.post_send(slot, bytes.len());
        true
    }

    /// Queues the `WSPSend` of the first `len` bytes of send slot `slot`.
    fn post_send(&mut self, slot: usize, len: usize) {
        let ov = self.mint();
        self.insert_op(
            ov.id,
            Op::Send {
                slot,
                owner: self.tagging,
            },
        );
        let buffers = vec![self.slot_buf(slot, len)];
        self.calls.push_back((
            NextCall::Send {
                socket: self.socket,
                buffers,
                overlapped: ov,
            },
            Some(ov.id),
        ));
        self.counters.messages_sent += 1;
    }

    /// Whether the application's unread bytes keep the credits owed from being returned: a
    /// peer cannot make the switch buffer more than the receive window (plus what is already
    /// in flight) while the application does not read.
    fn withholding(&self) -> bool {
        self.rx_bytes > self.config.receive_window
    }

    /// Sends a control message, encoded straight into a send slot, if a slot and the credit
    /// allow: every message but a credit update keeps one credit back, so that an update can
    /// always go (SESS-1).
    fn send_message(&mut self, body: Body<'_>) -> bool {
        let reserve = if matches!(body, Body::Credit) { 1 } else { 2 };
        if self.credits < reserve {
            return false;
        }
        let returned = if self.withholding() { 0 } else { self.owed };
        let msg = Message {
            credits: returned,
            body,
        };
        let len = msg.encoded_len();
        let Some(pool) = self.pool.clone() else {
            return false;
        };
        if len > self.send_cap {
            return false;
        }
        let Some(slot) = self.free_send.pop() else {
            return false;
        };
        let start = slot * self.slot_size;
        let encoded = pool.with_mut(|b| {
            b.get_mut(start..start + len)
                .is_some_and(|out| msg.encode(out).is_ok())
        });
        if !encoded {
            self.free_send.push(slot);
            return false;
        }
        self.post_send(slot, len);
        self.credits -= 1;
        self.owed -= returned;
        true
    }

    /// Payload bytes one message carries besides `extra` bytes of its kind's fields.
    fn room(&self, extra: usize) -> usize {
        self.send_cap.saturating_sub(HEADER_SIZE + extra)
    }

    // ----- application side -----

    /// Queues `data` for sending; `oob` sends it as urgent data (SESS-4). The result comes as
    /// [`SessionEvent::Sent`].
    pub fn send(&mut self, id: SendId, data: Vec<u8>, oob: bool) -> Result<(), WsaError> {
        if self.error.is_some() {
            return Err(self.failure());
        }
        if self.phase != Phase::Open {
            return Err(WsaError::WSAENOTCONN);
        }
        if self.fin_queued {
            return Err(WsaError::WSAESHUTDOWN);
        }
        let len = data.len();
        if len == 0 {
            self.events.push_back(SessionEvent::Sent {
                send: id,
                result: Ok(SendReport {
                    bytes: 0,
                    path: DataPath::Inline,
                    messages: 0,
                    rdma_ops: 0,
                }),
            });
            return Ok(());
        }
        if self.queued > 0 && self.queued.saturating_add(len) > self.config.send_queue {
            return Err(WsaError::WSAEWOULDBLOCK);
        }
        self.queued += len;
        self.sends.push_back(AppSend {
            id,
            data: Buffer::from_vec(data),
            len,
            oob,
            sent: 0,
            messages: 0,
            unacked: 0,
            rdma: None,
        });
        self.pump();
        Ok(())
    }

    /// Receives into `buf`: the bytes received, 0 at the end of the stream, `WSAEWOULDBLOCK`
    /// when nothing is there yet.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, WsaError> {
        if self.recv_shut {
            return Err(WsaError::WSAESHUTDOWN);
        }
        let mut n = 0;
        while n < buf.len() {
            let Some(chunk) = self.rx.front_mut() else {
                break;
            };
            let take = (chunk.end - chunk.pos).min(buf.len() - n);
            let dst = &mut buf[n..n + take];
            match &chunk.data {
                ChunkData::Owned(v) => dst.copy_from_slice(&v[chunk.pos..chunk.pos + take]),
                ChunkData::Staged(b, _) => {
                    if b.read(chunk.pos, dst).is_err() {
                        break;
                    }
                }
            }
            chunk.pos += take;
            n += take;
            if chunk.pos == chunk.end
                && let Some(Chunk {
                    data: ChunkData::Staged(b, h),
                    ..
                }) = self.rx.pop_front()
            {
                self.return_staging(b, h);
            }
        }
        self.rx_bytes -= n;
        // Reading may bring the unread bytes back under the window: return what is owed.
        self.pump();
        if n > 0 || buf.is_empty() {
            if self.rx_bytes == 0 {
                self.readable_said = false;
            }
            return Ok(n);
        }
        self.readable_said = false;
        if self.peer_fin {
            return Ok(0);
        }
        if self.error.is_some() {
            return Err(self.failure());
        }
        Err(WsaError::WSAEWOULDBLOCK)
    }

    /// Receives the urgent byte (`MSG_OOB`), `WSAEINVAL` when there is none.
    pub fn recv_oob(&mut self) -> Result<u8, WsaError> {
        self.oob.take().ok_or(WsaError::WSAEINVAL)
    }

    /// Ends sending (the peer reads the end of the stream once everything queued arrived)
    /// and/or receiving, in the switch's own protocol: nothing is forwarded to the provider
    /// (SESS-6).
    pub fn shutdown(&mut self, sends: bool, receives: bool) -> Result<(), WsaError> {
        if self.phase != Phase::Open && self.error.is_none() {
            return Err(WsaError::WSAENOTCONN);
        }
        if receives {
            self.recv_shut = true;
            for c in std::mem::take(&mut self.rx) {
                if let ChunkData::Staged(b, h) = c.data {
                    self.return_staging(b, h);
                }
            }
            self.rx_bytes = 0;
        }
        if sends {
            self.fin_queued = true;
        }
        self.pump();
        Ok(())
    }

    fn failure(&self) -> WsaError {
        self.error
            .as_ref()
            .map_or(WsaError::WSAECONNRESET, SessionError::wsa)
    }

    // ----- switch side -----

    /// The completion of overlapped call `id` (from `WPUCompleteOverlappedRequest` or a poll):
    /// `Ok(bytes)` or its error. An id the session does not know is ignored.
    pub fn complete(&mut self, id: u64, result: Result<usize, WsaError>) -> bool {
        let Some(op) = self.take_op(id) else {
            return false;
        };
        self.on_complete(op, result);
        self.pump();
        true
    }

    /// Queues a `WSPGetOverlappedResult` for the calls under way that may have completed
    /// (SESS-5, polling mode): the oldest receive, the oldest message send and every RDMA
    /// operation. A stream socket's receives complete in the order they were posted and its
    /// sends in the order they were made, so while the oldest of a kind is under way the
    /// later ones are too; when a poll finds the oldest done, the next of its kind is polled
    /// in the same round. A round thus costs a provider call per completion, plus one for
    /// each of the two oldest and one per RDMA operation in flight (at most
    /// `SessionConfig::rdma_in_flight`), not one per call under way; and a later message is
    /// never taken before an earlier one.
    pub fn poll_completions(&mut self) {
        if !self.config.poll_completions {
            return;
        }
        let [recv, send, rdma] = &self.order;
        let mut due: Vec<(u64, u64)> = recv
            .first_key_value()
            .into_iter()
            .chain(send.first_key_value())
            .chain(rdma)
            .map(|(&seq, &id)| (seq, id))
            .collect();
        // In the order the calls were made.
        due.sort_unstable();
        for (_, id) in due {
            self.queue_poll(id);
        }
    }

    fn queue_poll(&mut self, id: u64) {
        if !self.polling.insert(id) {
            return;
        }
        self.calls.push_back((
            NextCall::GetOverlappedResult {
                socket: self.socket,
                overlapped: Overlapped {
                    id,
                    poll_only: true,
                },
            },
            Some(id),
        ));
    }

    /// The switch is closing the socket: releases the registrations no pending call uses
    /// (MEM-3). Drive the session once more, then close the provider socket, then call
    /// [`closed`](Self::closed).
    pub fn close(&mut self) {
        self.keep_deregistrations();
        self.polling.clear();
        self.phase = Phase::Closing;
        // Transfers received and not read yet: their staging buffers keep a registration no
        // call uses any more.
        let staged: Vec<MemoryHandle> = self
            .rx
            .iter_mut()
            .filter_map(|c| match &mut c.data {
                ChunkData::Staged(_, h) => h.take(),
                ChunkData::Owned(_) => None,
            })
            .collect();
        for h in staged {
            self.deregister(h);
        }
        // Cached staging buffers: no call uses them.
        for (b, h) in std::mem::take(&mut self.staging) {
            if let Some(h) = h {
                self.deregister(h);
            }
            self.released.push(b);
        }
        let rdma_busy = self
            .ops
            .values()
            .any(|(op, _)| matches!(op, Op::Rdma { outgoing: true, .. }));
        if let Some(out) = &self.outgoing {
            match &out.stage {
                OutStage::Waiting {
                    descriptor: Some(d),
                } => {
                    let d = d.clone();
                    self.deregister_rdma(d);
                }
                OutStage::Writing {
                    handle: Some(h), ..
                } if !rdma_busy => {
                    let h = *h;
                    self.deregister(h);
                }
                _ => {}
            }
        }
        if let Some(inc) = &self.incoming {
            match &inc.stage {
                InStage::Targeted { descriptor } => {
                    let (d, local) = (descriptor.clone(), inc.local);
                    self.deregister_rdma(d);
                    if let Some(h) = local {
                        self.deregister(h);
                    }
                }
                InStage::Reading {
                    handle, in_flight, ..
                } if *in_flight == 0 => {
                    let h = *handle;
                    self.deregister(h);
                }
                _ => {}
            }
        }
        // The message buffers are used by the posted receives; the provider releases that
        // registration with the socket (CLOSE-1). Without a pending call they go now.
        if self.ops.is_empty()
            && let Some(h) = self.pool_handle.take()
        {
            self.deregister(h);
        }
    }

    /// The provider socket is closed: every call still under way was aborted with it
    /// (CLOSE-1); pending sends fail with `WSA_OPERATION_ABORTED` and every buffer is
    /// released.
    pub fn closed(&mut self) {
        self.calls.clear();
        self.ops.clear();
        self.order = Default::default();
        self.polling.clear();
        self.fail_sends(WsaError::WSA_OPERATION_ABORTED);
        let doomed = std::mem::take(&mut self.doomed);
        self.released.extend(doomed);
        for (b, registered) in std::mem::take(&mut self.reclaimable) {
            if registered {
                self.released.push(b);
            }
        }
        if let Some(inc) = self.incoming.take() {
            self.released.push(inc.staging);
        }
        for c in std::mem::take(&mut self.rx) {
            if let ChunkData::Staged(b, _) = c.data {
                self.released.push(b);
            }
        }
        for (b, _) in std::mem::take(&mut self.staging) {
            self.released.push(b);
        }
        self.rx_bytes = 0;
        if let Some(p) = self.pool.take() {
            self.released.push(p);
        }
        self.pool_handle = None;
    }

    fn fail_sends(&mut self, error: WsaError) {
        let mut failed: Vec<SendId> = Vec::new();
        if let Some(s) = self.inline_active.take() {
            failed.push(s.id);
        }
        // The transfer under way ends here: its registration is released, its memory kept
        // until the socket is closed (a provider may still hold it).
        if let Some(out) = self.outgoing.take() {
            failed.push(out.send.id);
            let rdma_busy = self
                .ops
                .values()
                .any(|(op, _)| matches!(op, Op::Rdma { outgoing: true, .. }));
            match out.stage {
                OutStage::Waiting {
                    descriptor: Some(d),
                } => self.deregister_rdma(d),
                OutStage::Writing {
                    handle: Some(h), ..
                } if !rdma_busy => self.deregister(h),
                _ => {}
            }
            self.doomed.push(out.send.data);
        }
        let mut acking: Vec<AppSend> = self.acking.drain().map(|(_, s)| s).collect();
        acking.sort_unstable_by_key(|s| s.id);
        for s in acking {
            failed.push(s.id);
            // A written transfer's data was registered: MEM-2 before it goes.
            if s.rdma.is_some() {
                self.released.push(s.data);
            }
        }
        failed.extend(self.sends.drain(..).map(|s| s.id));
        self.queued = 0;
        for id in failed {
            self.events.push_back(SessionEvent::Sent {
                send: id,
                result: Err(error),
            });
        }
    }

    fn fail(&mut self, error: SessionError) {
        if matches!(self.phase, Phase::Failed | Phase::Closing) {
            return;
        }
        let negotiating = !matches!(self.phase, Phase::Open);
        self.phase = Phase::Failed;
        let wsa = error.wsa();
        self.error = Some(error.clone());
        self.fail_sends(wsa);
        self.keep_deregistrations();
        if negotiating {
            self.events
                .push_back(SessionEvent::NegotiationFailed(error));
        } else {
            self.events.push_back(SessionEvent::Failed(error));
            self.say_readable();
        }
    }

    /// Drops the calls still queued except the deregistrations: nothing more is sent or
    /// received, but what the session registered is still released (MEM-3).
    fn keep_deregistrations(&mut self) {
        let (ops, order, polling) = (&mut self.ops, &mut self.order, &mut self.polling);
        self.calls.retain(|(c, op)| {
            let keep = matches!(
                c,
                NextCall::DeregisterMemory { .. } | NextCall::DeregisterRdmaMemory { .. }
            );
            if !keep && let Some(id) = op {
                polling.remove(id);
                if let Some((op, seq)) = ops.remove(id) {
                    order[op.kind()].remove(&seq);
                }
            }
            keep
        });
    }

    fn say_readable(&mut self) {
        if !self.readable_said {
            self.readable_said = true;
            self.events.push_back(SessionEvent::Readable);
        }
    }

    fn deregister(&mut self, handle: MemoryHandle) {
        self.calls.push_back((
            NextCall::DeregisterMemory {
                entry: self.entries.deregister,
                socket: self.socket,
                handle,
            },
            None,
        ));
    }

    fn deregister_rdma(&mut self, descriptor: Vec<u8>) {
        self.calls.push_back((
            NextCall::DeregisterRdmaMemory {
                entry: self.entries.deregister_rdma,
                socket: self.socket,
                descriptor,
            },
            None,
        ));
    }

    fn register(&mut self, range: MemoryRange, access: MemoryAccess) {
        self.calls.push_back((
            NextCall::RegisterMemory {
                entry: self.entries.register,
                socket: self.socket,
                range,
                access,
            },
            None,
        ));
    }

    fn register_rdma(&mut self, range: MemoryRange, access: MemoryAccess) {
        self.calls.push_back((
            NextCall::RegisterRdmaMemory {
                entry: self.entries.register_rdma,
                socket: self.socket,
                range,
                access,
                descriptor_len: self.descriptor_len,
            },
            None,
        ));
    }

    fn return_staging(&mut self, buffer: Buffer, handle: Option<MemoryHandle>) {
        if self.staging.len() < self.config.cached_buffers && self.phase != Phase::Closing {
            self.staging.push((buffer, handle));
        } else {
            if let Some(h) = handle {
                self.deregister(h);
            }
            self.released.push(buffer);
        }
    }

    /// A staging buffer of at least `len` bytes (and at most twice that) from the cache,
    /// with its local registration: one registered as `local` asks if there is one, any
    /// other that fits if not, a new one otherwise.
    fn take_staging(&mut self, len: usize, local: bool) -> (Buffer, Option<MemoryHandle>) {
        let fits = |b: &Buffer| b.len() >= len && b.len() / 2 <= len.max(1);
        let found = self
            .staging
            .iter()
            .position(|(b, h)| fits(b) && h.is_some() == local)
            .or_else(|| self.staging.iter().position(|(b, _)| fits(b)));
        match found {
            Some(i) => self.staging.swap_remove(i),
            None => (Buffer::zeroed(len), None),
        }
    }

    /// The memory of finished sends, for the application to send from again instead of
    /// allocating (the last [`SessionConfig::cached_buffers`] kept), with whether each was
    /// registered: the switch puts those through MEM-2 before handing them over.
    pub fn reclaim(&mut self) -> Vec<(Buffer, bool)> {
        std::mem::take(&mut self.reclaimable)
    }

    /// Memory the application offers for the next transfers it receives: kept (unregistered)
    /// as a staging buffer while the cache has room, so a transfer lands in it and
    /// [`recv_piece`](Self::recv_piece) hands it back without a copy.
    pub fn provide_buffer(&mut self, buffer: Vec<u8>) {
        if self.staging.len() < self.config.cached_buffers
            && self.phase == Phase::Open
            && !buffer.is_empty()
        {
            self.staging.push((Buffer::from_vec(buffer), None));
        }
    }

    /// Takes the next received piece of the stream whole: a transfer's bytes in the buffer
    /// they arrived in (no copy; [`Piece::Staged`], whose registration is released first and
    /// which the switch puts through MEM-2 before handing it over), or inline bytes. An empty
    /// piece is the end of the stream.
    pub fn recv_piece(&mut self) -> Result<Piece, WsaError> {
        if self.recv_shut {
            return Err(WsaError::WSAESHUTDOWN);
        }
        let Some(chunk) = self.rx.pop_front() else {
            self.readable_said = false;
            if self.peer_fin {
                return Ok(Piece::Bytes(Vec::new()));
            }
            if self.error.is_some() {
                return Err(self.failure());
            }
            return Err(WsaError::WSAEWOULDBLOCK);
        };
        let n = chunk.end - chunk.pos;
        self.rx_bytes -= n;
        if self.rx_bytes == 0 {
            self.readable_said = false;
        }
        let piece = match chunk.data {
            ChunkData::Owned(mut v) => {
                v.truncate(chunk.end);
                if chunk.pos > 0 {
                    v.drain(..chunk.pos);
                }
                Piece::Bytes(v)
            }
            ChunkData::Staged(b, h) => {
                if let Some(h) = h {
                    self.deregister(h);
                }
                if chunk.pos == 0 {
                    Piece::Staged(b, n)
                } else {
                    let mut v = vec![0u8; n];
                    let copied = b.read(chunk.pos, &mut v);
                    self.return_staging(b, None);
                    copied.map_err(|_| WsaError::WSAEFAULT)?;
                    Piece::Bytes(v)
                }
            }
        };
        self.pump();
        Ok(piece)
    }

    // ----- answers -----

    fn on_answer(&mut self, call: NextCall, op: Option<u64>, answer: Answer) {
        if let Answer::Panicked(_) = answer {
            if let Some(id) = op {
                self.take_op(id);
                self.polling.remove(&id);
            }
            let error = SessionError::Provider {
                call: call_name(&call),
                error: WsaError::WSAENETDOWN,
            };
            return self.fail(error);
        }
        match (call, answer) {
            (NextCall::GetSockOpt { name, .. }, Answer::SockOpt(r)) => {
                let v = r.ok();
                self.probed.push(v);
                match name {
                    SO_MAX_MSG_SIZE => self.limits.max_msg = v.unwrap_or(u32::MAX),
                    SO_MAX_RDMA_SIZE => self.limits.max_rdma = v.unwrap_or(u32::MAX),
                    _ => self.limits.threshold = v.unwrap_or(DEFAULT_RDMA_THRESHOLD),
                }
                if self.probed.len() == OPT_NAMES.len() {
                    self.start_registering();
                }
            }
            (NextCall::RegisterMemory { range, .. }, Answer::Registered(r)) => {
                self.on_registered(range, r)
            }
            (NextCall::RegisterRdmaMemory { range, .. }, Answer::RdmaRegistered(r)) => {
                self.on_rdma_registered(range, r)
            }
            (NextCall::Send { .. } | NextCall::Recv { .. } | NextCall::Rdma { .. }, a) => {
                let Some(id) = op else { return };
                let result = match a {
                    Answer::Data(Ok(DataOutcome::Pending)) => return,
                    Answer::Data(Ok(DataOutcome::Done(n))) => Ok(n),
                    Answer::Data(Err(e)) => Err(e),
                    _ => Err(WsaError::WSAEINVAL),
                };
                if let Some(op) = self.take_op(id) {
                    self.on_complete(op, result);
                }
            }
            (NextCall::GetOverlappedResult { .. }, Answer::Overlapped(r)) => {
                let Some(id) = op else { return };
                self.polling.remove(&id);
                if r == Err(WsaError::WSA_IO_INCOMPLETE) {
                    return;
                }
                if let Some(op) = self.take_op(id) {
                    let kind = op.kind();
                    self.on_complete(op, r);
                    // The next of its kind may have completed too.
                    if kind != Op::RDMA
                        && !matches!(self.phase, Phase::Closing)
                        && let Some((_, &next)) = self.order[kind].first_key_value()
                    {
                        self.queue_poll(next);
                    }
                }
            }
            // Deregistrations: a failure leaves the provider holding memory the switch no
            // longer uses; nothing the session can do about it.
            _ => {}
        }
    }

    fn start_registering(&mut self) {
        let size = self
            .config
            .message_size
            .min(self.limits.max_msg)
            .min(u32::try_from(usize::MAX / 4).unwrap_or(u32::MAX));
        if size < MIN_MESSAGE_SIZE {
            return self.fail(SessionError::Provider {
                call: "WSPGetSockOpt",
                error: WsaError::WSAEMSGSIZE,
            });
        }
        self.slot_size = size as usize;
        let slots = (self.config.receives + self.config.sends) as usize;
        let pool = Buffer::zeroed(self.slot_size * slots);
        self.phase = Phase::Registering;
        self.register(MemoryRange::whole(&pool), MemoryAccess::READWRITE);
        self.pool = Some(pool);
    }

    fn on_registered(&mut self, range: MemoryRange, r: Result<MemoryHandle, WsaError>) {
        let is_pool = self.pool.as_ref().is_some_and(|p| p.same(&range.buffer));
        if is_pool {
            return match r {
                Ok(h) => {
                    self.pool_handle = Some(h);
                    self.start_negotiating();
                }
                Err(error) => self.fail(SessionError::Provider {
                    call: "WSPRegisterMemory",
                    error,
                }),
            };
        }
        // The source of an outgoing write.
        if let Some(out) = &mut self.outgoing
            && out.send.data.same(&range.buffer)
        {
            if let OutStage::Writing { handle, failed, .. } = &mut out.stage {
                match r {
                    Ok(h) => *handle = Some(h),
                    Err(_) => *failed = Some(WsaError::WSAENOBUFS),
                }
            }
            return self.drive_outgoing();
        }
        // The staging buffer of an incoming read.
        if let Some(inc) = &mut self.incoming
            && inc.staging.same(&range.buffer)
        {
            match r {
                Ok(h) => {
                    let descriptor = match &mut inc.stage {
                        InStage::Registering { descriptor } => descriptor.take(),
                        _ => None,
                    };
                    inc.local = Some(h);
                    match descriptor {
                        Some(descriptor) => {
                            inc.stage = InStage::Reading {
                                handle: h,
                                descriptor,
                                next: 0,
                                in_flight: 0,
                            }
                        }
                        None => {
                            inc.local = None;
                            self.deregister(h);
                        }
                    }
                }
                Err(_) => {
                    // SESS-2: a registration failure fails the transfer with WSAENOBUFS.
                    let inc = self.incoming.take();
                    if let Some(inc) = inc {
                        self.released.push(inc.staging);
                    }
                    self.outbound
                        .push_back(Outbound::ReadDone(Err(WsaError::WSAENOBUFS)));
                    return;
                }
            }
            return self.drive_incoming();
        }
        // Nobody wants it any more: undo it.
        if let Ok(h) = r {
            self.deregister(h);
            self.released.push(range.buffer);
        }
    }

    fn on_rdma_registered(
        &mut self,
        range: MemoryRange,
        r: Result<Vec<u8>, crate::provider::IoctlFailure>,
    ) {
        // A descriptor block too small: the provider said what it needs; ask again.
        let retry = match &r {
            Err(f)
                if f.error == WsaError::WSAEFAULT
                    && f.bytes_returned > self.descriptor_len
                    && f.bytes_returned <= MAX_DESCRIPTOR =>
            {
                Some(f.bytes_returned)
            }
            _ => None,
        };
        let r = match (retry, r) {
            (Some(n), _) => {
                self.descriptor_len = n;
                let access = access_for(self, &range);
                self.register_rdma(range, access);
                return;
            }
            (None, Ok(d)) if !d.is_empty() && d.len() <= MAX_DESCRIPTOR => Ok(d),
            (None, Ok(_)) => Err(WsaError::WSAEFAULT),
            (None, Err(f)) => Err(f.error),
        };
        if let Some(out) = &mut self.outgoing
            && out.send.data.same(&range.buffer)
            && matches!(out.stage, OutStage::Registering)
        {
            match r {
                Ok(d) => {
                    out.stage = OutStage::Waiting {
                        descriptor: Some(d),
                    };
                }
                Err(_) => {
                    // SESS-2: the send completes with WSAENOBUFS; nothing was sent.
                    let out = self.outgoing.take();
                    if let Some(out) = out {
                        self.finish_send(out.send, Err(WsaError::WSAENOBUFS), 0, None);
                    }
                    return;
                }
            }
            return self.drive_outgoing();
        }
        if let Some(inc) = &mut self.incoming
            && inc.staging.same(&range.buffer)
            && !inc.read
        {
            match r {
                Ok(d) => {
                    inc.stage = InStage::Targeted {
                        descriptor: d.clone(),
                    };
                    self.outbound.push_back(Outbound::WriteTarget(Ok(d)));
                }
                Err(_) => {
                    let inc = self.incoming.take();
                    if let Some(inc) = inc {
                        self.return_staging(inc.staging, inc.local);
                    }
                    self.outbound
                        .push_back(Outbound::WriteTarget(Err(WsaError::WSAENOBUFS)));
                }
            }
            return;
        }
        if let Ok(d) = r {
            self.deregister_rdma(d);
        }
    }

    fn start_negotiating(&mut self) {
        self.phase = Phase::Negotiating;
        let receives = self.config.receives as usize;
        for slot in 0..receives {
            self.post_recv(slot);
        }
        self.free_send = (receives..receives + self.config.sends as usize)
            .rev()
            .collect();
        if self.role == Role::Connector {
            self.send_negotiation(false);
        }
    }

    fn own_negotiation(&self, reply: bool) -> Negotiation {
        Negotiation {
            reply,
            rdma_read: self.entries.rdma_read.is_some(),
            credits: self.config.receives,
            buffer_size: self.slot_size as u32,
            // The message requires the threshold not to exceed the RDMA size: a provider that
            // prefers a threshold above its own RDMA limit gets the limit.
            rdma_threshold: self.limits.threshold.min(self.limits.max_rdma.max(1)),
            max_rdma_size: self.limits.max_rdma.max(1),
        }
    }

    fn send_negotiation(&mut self, reply: bool) {
        let bytes = self.own_negotiation(reply).encode();
        self.send_bytes(&bytes);
    }

    fn on_complete(&mut self, op: Op, result: Result<usize, WsaError>) {
        self.completed += 1;
        match op {
            Op::Recv(slot) => self.on_recv(slot, result),
            Op::Send { slot, owner } => {
                self.free_send.push(slot);
                if let Err(error) = result {
                    return self.fail(SessionError::Provider {
                        call: "WSPSend",
                        error,
                    });
                }
                if let Some(owner) = owner {
                    self.on_message_sent(owner);
                }
            }
            Op::Rdma { outgoing, len } => {
                self.counters.rdma_ops += 1;
                if outgoing {
                    if let Some(Outgoing {
                        stage:
                            OutStage::Writing {
                                in_flight, failed, ..
                            },
                        ..
                    }) = &mut self.outgoing
                    {
                        *in_flight -= 1;
                        if let Err(e) = result {
                            *failed = Some(e);
                        } else if result != Ok(len) {
                            *failed = Some(WsaError::WSAEFAULT);
                        }
                    }
                    self.drive_outgoing();
                } else {
                    if let Some(Incoming {
                        stage: InStage::Reading { in_flight, .. },
                        ..
                    }) = &mut self.incoming
                    {
                        *in_flight -= 1;
                    }
                    // A read that moved fewer bytes than asked for left the rest of the
                    // staging buffer unwritten: the transfer cannot be delivered.
                    let error = match result {
                        Err(e) => Some(e),
                        Ok(n) if n != len => Some(WsaError::WSAEFAULT),
                        Ok(_) => None,
                    };
                    if let Some(error) = error {
                        return self.fail(SessionError::Provider {
                            call: "WSPRdmaRead",
                            error,
                        });
                    }
                    self.drive_incoming();
                }
            }
        }
    }

    /// A message of send `owner` completed: an inline send whose messages all went and
    /// completed is done.
    fn on_message_sent(&mut self, owner: SendId) {
        if let Some(s) = self.inline_active.as_mut().filter(|s| s.id == owner) {
            s.unacked = s.unacked.saturating_sub(1);
            return;
        }
        let done = match self.acking.get_mut(&owner) {
            Some(s) => {
                s.unacked = s.unacked.saturating_sub(1);
                s.unacked == 0
            }
            None => false,
        };
        if done && let Some(s) = self.acking.remove(&owner) {
            let (messages, rdma) = (s.messages, s.rdma);
            self.finish_send(s, Ok(()), messages, rdma);
        }
    }

    fn finish_send(
        &mut self,
        send: AppSend,
        result: Result<(), WsaError>,
        messages: u32,
        rdma: Option<(DataPath, u32)>,
    ) {
        let (path, rdma_ops) = rdma.unwrap_or((DataPath::Inline, 0));
        let bytes = send.len;
        self.queued = self.queued.saturating_sub(bytes);
        if result.is_ok() {
            self.counters.bytes_sent += bytes as u64;
        }
        // The application may take the memory back for its next send (`reclaim`); a buffer
        // that was registered goes through MEM-2 before it leaves the switch either way.
        let registered = rdma.is_some();
        if result.is_ok() && self.reclaimable.len() < self.config.cached_buffers {
            self.reclaimable.push((send.data, registered));
        } else if registered {
            self.released.push(send.data);
        }
        self.events.push_back(SessionEvent::Sent {
            send: send.id,
            result: result.map(|()| SendReport {
                bytes,
                path,
                messages,
                rdma_ops,
            }),
        });
    }

    fn on_recv(&mut self, slot: usize, result: Result<usize, WsaError>) {
        let n = match result {
            Ok(n) => n,
            Err(_) if self.phase == Phase::Closing => return,
            Err(error) => {
                if self.peer_fin {
                    return;
                }
                return self.fail(SessionError::Provider {
                    call: "WSPRecv",
                    error,
                });
            }
        };
        let Some(pool) = self.pool.clone() else {
            return;
        };
        if n > self.slot_size {
            return self.fail(SessionError::Protocol(format!(
                "a receive completed with {n} bytes in a {} byte buffer",
                self.slot_size
            )));
        }
        let mut bytes = vec![0u8; n];
        if pool.read(slot * self.slot_size, &mut bytes).is_err() {
            return self.fail(SessionError::Protocol(format!(
                "a receive completed with {n} bytes in a {} byte buffer",
                self.slot_size
            )));
        }
        self.counters.messages_received += 1;
        match self.phase {
            Phase::Negotiating => {
                // The negotiation message's buffer is posted again without owing a credit:
                // the peer never counted it (ACCEPT-3).
                self.post_recv(slot);
                self.on_negotiation(&bytes);
            }
            Phase::Open | Phase::Failed => {
                self.post_recv(slot);
                self.owed += 1;
                if self.phase == Phase::Open {
                    self.on_message(&bytes);
                }
            }
            _ => {}
        }
    }

    fn on_negotiation(&mut self, bytes: &[u8]) {
        let peer = match Negotiation::decode(bytes) {
            Ok(p) => p,
            Err(e) => return self.fail(SessionError::Protocol(e.to_string())),
        };
        if peer.reply != (self.role == Role::Connector) {
            return self.fail(SessionError::Protocol(
                "a negotiation message from the wrong side".to_owned(),
            ));
        }
        if peer.credits < MIN_CREDITS {
            return self.fail(SessionError::Protocol(format!(
                "the peer posted {} receives, fewer than {MIN_CREDITS}",
                peer.credits
            )));
        }
        if peer.buffer_size < MIN_MESSAGE_SIZE {
            return self.fail(SessionError::Protocol(format!(
                "the peer's message buffers of {} bytes are smaller than {MIN_MESSAGE_SIZE}",
                peer.buffer_size
            )));
        }
        if self.role == Role::Acceptor {
            self.send_negotiation(true);
        }
        self.credits = peer.credits;
        self.send_cap = self.slot_size.min(peer.buffer_size as usize);
        // SESS-3: the lower of the two preferences, never below what one message carries
        // inline anyway.
        let own = self.own_negotiation(false);
        // SESS-3: the lower of the two preferences, but never below what one message carries
        // inline anyway. Message buffers too small for an offer with the largest descriptor
        // carry everything inline: an offer that does not fit could never be sent.
        let offer_room = self.room(8 + MAX_DESCRIPTOR);
        self.threshold = if offer_room == 0 {
            usize::MAX
        } else {
            (own.rdma_threshold.min(peer.rdma_threshold) as usize).max(offer_room)
        };
        self.max_rdma = (own.max_rdma_size.min(peer.max_rdma_size) as usize).max(1);
        self.peer = Some(peer);
        self.phase = Phase::Open;
        self.events.push_back(SessionEvent::Negotiated);
    }

    fn on_message(&mut self, bytes: &[u8]) {
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.fail(SessionError::Protocol(e.to_string())),
        };
        let limit = self.peer.map_or(0, |p| p.credits);
        match self.credits.checked_add(msg.credits) {
            Some(c) if c <= limit => self.credits = c,
            _ => {
                return self.fail(SessionError::Protocol(format!(
                    "{} credits returned on top of {}, more than the {limit} posted",
                    msg.credits, self.credits
                )));
            }
        }
        match msg.body {
            Body::Data(p) => self.deliver(p.to_vec()),
            Body::Urgent(p) => {
                // BSD rules: the last byte is the urgent byte, the rest is ordinary data
                // (SESS-4).
                if let Some((last, rest)) = p.split_last() {
                    if !rest.is_empty() {
                        self.deliver(rest.to_vec());
                    }
                    if !self.recv_shut {
                        self.oob = Some(*last);
                        self.counters.bytes_received += 1;
                        self.say_readable();
                    }
                }
            }
            Body::ReadOffer {
                total,
                descriptor,
                inline,
            } => {
                if self.entries.rdma_read.is_none() {
                    return self.fail(SessionError::Protocol(
                        "an RDMA read offer to a side without RdmaRead".to_owned(),
                    ));
                }
                let descriptor = descriptor.to_vec();
                self.start_incoming(total, inline.to_vec(), Some(descriptor));
            }
            Body::WriteRequest { total, inline } => {
                self.start_incoming(total, inline.to_vec(), None);
            }
            Body::WriteTarget(r) => {
                let r = r.map(<[u8]>::to_vec);
                self.on_write_target(r);
            }
            Body::RdmaDone(r) => self.on_read_done(r),
            Body::WriteDone(r) => self.on_write_done(r),
            Body::Credit => {}
            Body::Disconnect => {
                self.peer_fin = true;
                self.say_readable();
            }
        }
    }

    fn deliver(&mut self, data: Vec<u8>) {
        if self.recv_shut || data.is_empty() {
            return;
        }
        self.counters.bytes_received += data.len() as u64;
        self.rx_bytes += data.len();
        let end = data.len();
        self.rx.push_back(Chunk {
            data: ChunkData::Owned(data),
            pos: 0,
            end,
        });
        self.say_readable();
    }

    fn start_incoming(&mut self, total: u64, inline: Vec<u8>, descriptor: Option<Vec<u8>>) {
        if self.incoming.is_some() {
            return self.fail(SessionError::Protocol(
                "a second transfer while one is under way".to_owned(),
            ));
        }
        let Some(len) = usize::try_from(total)
            .ok()
            .filter(|t| *t <= MAX_TRANSFER)
            .and_then(|t| t.checked_sub(inline.len()))
            .filter(|l| *l > 0)
        else {
            return self.fail(SessionError::Protocol(format!(
                "a transfer of {total} bytes with {} inline",
                inline.len()
            )));
        };
        let read = descriptor.is_some();
        let (staging, handle) = self.take_staging(len, read);
        let range = MemoryRange {
            buffer: staging.clone(),
            offset: 0,
            len,
        };
        let stage = match (descriptor, handle) {
            // The registration cache had a registered buffer: read at once.
            (Some(descriptor), Some(handle)) => InStage::Reading {
                handle,
                descriptor,
                next: 0,
                in_flight: 0,
            },
            (Some(descriptor), None) => {
                self.register(range, MemoryAccess::WRITE);
                InStage::Registering {
                    descriptor: Some(descriptor),
                }
            }
            (None, _) => {
                self.register_rdma(range, MemoryAccess::WRITE);
                InStage::Registering { descriptor: None }
            }
        };
        self.incoming = Some(Incoming {
            inline,
            len,
            staging,
            local: handle,
            read,
            stage,
        });
        self.drive_incoming();
    }

    fn drive_incoming(&mut self) {
        let cap = self.config.rdma_in_flight;
        let max_rdma = self.max_rdma.max(1);
        let socket = self.socket;
        let Some(entry) = self.entries.rdma_read else {
            return;
        };
        let mut posts = Vec::new();
        let Some(inc) = &mut self.incoming else {
            return;
        };
        let InStage::Reading {
            handle,
            descriptor,
            next,
            in_flight,
        } = &mut inc.stage
        else {
            return;
        };
        while *next < inc.len && *in_flight < cap {
            let chunk = max_rdma.min(inc.len - *next);
            let Ok(offset) = u32::try_from(*next) else {
                break;
            };
            posts.push((
                NextCall::Rdma {
                    read: true,
                    entry,
                    socket,
                    local: vec![WsaBufEx {
                        range: MemoryRange {
                            buffer: inc.staging.clone(),
                            offset: *next,
                            len: chunk,
                        },
                        handle: *handle,
                    }],
                    target: descriptor.clone(),
                    target_offset: offset,
                    overlapped: Overlapped {
                        id: 0,
                        poll_only: false,
                    },
                },
                chunk,
            ));
            *next += chunk;
            *in_flight += 1;
        }
        let finished = *next >= inc.len && *in_flight == 0;
        self.post_rdma(posts, false);
        if finished && let Some(inc) = self.incoming.take() {
            let handle = match inc.stage {
                InStage::Reading { handle, .. } => Some(handle),
                _ => None,
            };
            let len = inc.len;
            self.deliver_transfer(inc.inline, inc.staging, handle, len);
            self.outbound.push_back(Outbound::ReadDone(Ok(len as u64)));
        }
    }

    /// Hands a finished transfer to the stream: the inline part, then the staged bytes.
    fn deliver_transfer(
        &mut self,
        inline: Vec<u8>,
        staging: Buffer,
        handle: Option<MemoryHandle>,
        len: usize,
    ) {
        self.deliver(inline);
        if self.recv_shut {
            return self.return_staging(staging, handle);
        }
        self.counters.bytes_received += len as u64;
        self.rx_bytes += len;
        self.rx.push_back(Chunk {
            data: ChunkData::Staged(staging, handle),
            pos: 0,
            end: len,
        });
        self.say_readable();
    }

    fn on_write_target(&mut self, r: Result<Vec<u8>, WsaError>) {
        let ok = matches!(
            &self.outgoing,
            Some(Outgoing {
                read: false,
                announced: true,
                stage: OutStage::Waiting { .. },
                ..
            })
        );
        if !ok {
            return self.fail(SessionError::Protocol(
                "a write target for no write request".to_owned(),
            ));
        }
        match r {
            Ok(target) => {
                let Some(out) = &mut self.outgoing else {
                    return;
                };
                out.messages += 1;
                out.stage = OutStage::Writing {
                    handle: None,
                    target,
                    next: 0,
                    in_flight: 0,
                    failed: None,
                };
                let range = MemoryRange {
                    buffer: out.send.data.clone(),
                    offset: out.base + out.inline,
                    len: out.piece - out.inline,
                };
                self.register(range, MemoryAccess::READ);
            }
            Err(_) => {
                // SESS-2: the receiver could not register its buffer.
                if let Some(out) = self.outgoing.take() {
                    let messages = out.messages + 1;
                    self.finish_send(out.send, Err(WsaError::WSAENOBUFS), messages, None);
                }
            }
        }
    }

    fn on_read_done(&mut self, r: Result<u64, WsaError>) {
        let Some(Outgoing {
            read: true,
            announced: true,
            stage: OutStage::Waiting {
                descriptor: Some(_),
            },
            ..
        }) = &self.outgoing
        else {
            return self.fail(SessionError::Protocol(
                "a read completion for no read offer".to_owned(),
            ));
        };
        let Some(out) = self.outgoing.take() else {
            return;
        };
        if let OutStage::Waiting {
            descriptor: Some(d),
        } = out.stage
        {
            self.deregister_rdma(d);
        }
        let rdma_len = out.piece - out.inline;
        let ops = out.rdma_ops + rdma_len.div_ceil(self.max_rdma.max(1)) as u32;
        let result = match r {
            Ok(n) if n == rdma_len as u64 => Ok(()),
            Ok(_) => Err(WsaError::WSAECONNRESET),
            Err(e) => Err(e),
        };
        let messages = out.messages + 1;
        let next = out.base + out.piece;
        if result.is_ok() && next < out.send.len {
            return self.start_piece(out.send, next, messages, ops);
        }
        self.finish_send(out.send, result, messages, Some((DataPath::RdmaRead, ops)));
    }

    fn on_write_done(&mut self, r: Result<u64, WsaError>) {
        let Some(Incoming {
            read: false,
            stage: InStage::Targeted { .. },
            ..
        }) = &self.incoming
        else {
            return self.fail(SessionError::Protocol(
                "a write completion for no write target".to_owned(),
            ));
        };
        let Some(inc) = self.incoming.take() else {
            return;
        };
        if let InStage::Targeted { descriptor } = inc.stage {
            self.deregister_rdma(descriptor);
        }
        match r {
            Ok(n) if n == inc.len as u64 => {
                self.deliver_transfer(inc.inline, inc.staging, inc.local, inc.len)
            }
            Ok(n) => self.fail(SessionError::Protocol(format!(
                "a write of {n} bytes into a target of {}",
                inc.len
            ))),
            Err(_) => self.return_staging(inc.staging, inc.local),
        }
    }

    /// Moves the outgoing transfer on as far as it goes.
    fn drive_outgoing(&mut self) {
        let Some(out) = &mut self.outgoing else {
            return;
        };
        match &mut out.stage {
            OutStage::Registering => {}
            OutStage::Waiting { descriptor } if !out.announced => {
                let total = out.piece as u64;
                let (start, end) = (out.base, out.base + out.inline);
                let inline = out.send.data.with(|d| d[start..end].to_vec());
                let body_desc = descriptor.clone();
                let sent = match &body_desc {
                    Some(d) => self.send_message(Body::ReadOffer {
                        total,
                        descriptor: d,
                        inline: &inline,
                    }),
                    None => self.send_message(Body::WriteRequest {
                        total,
                        inline: &inline,
                    }),
                };
                if sent && let Some(out) = &mut self.outgoing {
                    out.announced = true;
                    out.messages += 1;
                }
            }
            OutStage::Waiting { .. } => {}
            OutStage::Writing { .. } => self.drive_writes(),
        }
    }

    fn drive_writes(&mut self) {
        let cap = self.config.rdma_in_flight;
        let max_rdma = self.max_rdma.max(1);
        let socket = self.socket;
        let entry = self.entries.rdma_write;
        let mut posts = Vec::new();
        let Some(out) = &mut self.outgoing else {
            return;
        };
        let rdma_len = out.piece - out.inline;
        let start = out.base + out.inline;
        let OutStage::Writing {
            handle,
            target,
            next,
            in_flight,
            failed,
        } = &mut out.stage
        else {
            return;
        };
        if failed.is_none()
            && let Some(h) = *handle
        {
            while *next < rdma_len && *in_flight < cap {
                let chunk = max_rdma.min(rdma_len - *next);
                let Ok(offset) = u32::try_from(*next) else {
                    *failed = Some(WsaError::WSAEMSGSIZE);
                    break;
                };
                posts.push((
                    NextCall::Rdma {
                        read: false,
                        entry,
                        socket,
                        local: vec![WsaBufEx {
                            range: MemoryRange {
                                buffer: out.send.data.clone(),
                                offset: start + *next,
                                len: chunk,
                            },
                            handle: h,
                        }],
                        target: target.clone(),
                        target_offset: offset,
                        overlapped: Overlapped {
                            id: 0,
                            poll_only: false,
                        },
                    },
                    chunk,
                ));
                *next += chunk;
                *in_flight += 1;
                out.rdma_ops += 1;
            }
        }
        let done = *in_flight == 0 && (failed.is_some() || (*next >= rdma_len && handle.is_some()));
        self.post_rdma(posts, true);
        if !done {
            return;
        }
        let Some(out) = self.outgoing.take() else {
            return;
        };
        let OutStage::Writing { handle, failed, .. } = out.stage else {
            return;
        };
        if let Some(h) = handle {
            self.deregister(h);
        }
        // The sender checked the writes; the completion tells the receiver (SESS-2).
        let result = match failed {
            None => Ok(()),
            Some(e) if e == WsaError::WSAENOBUFS => Err(e),
            Some(e) => {
                self.outbound.push_back(Outbound::WriteDone(Err(e), None));
                let messages = out.messages + 1;
                self.finish_send(
                    out.send,
                    Err(e),
                    messages,
                    Some((DataPath::RdmaWrite, out.rdma_ops)),
                );
                return self.fail(SessionError::Provider {
                    call: "WSPRdmaWrite",
                    error: e,
                });
            }
        };
        let rdma_len = out.piece - out.inline;
        let messages = out.messages + 1;
        let rdma = Some((DataPath::RdmaWrite, out.rdma_ops));
        let next = out.base + out.piece;
        match result {
            // More of the send to go: the next piece follows the completion message.
            Ok(()) if next < out.send.len => {
                self.outbound
                    .push_back(Outbound::WriteDone(Ok(rdma_len as u64), None));
                self.start_piece(out.send, next, messages, out.rdma_ops);
            }
            // The send is done once the completion that hands the bytes to the receiver went
            // out: until then a failure still fails it.
            Ok(()) => {
                let mut send = out.send;
                send.messages = messages;
                send.unacked = 1;
                send.rdma = rdma;
                let id = send.id;
                self.acking.insert(id, send);
                self.outbound
                    .push_back(Outbound::WriteDone(Ok(rdma_len as u64), Some(id)));
            }
            Err(e) => {
                self.outbound.push_back(Outbound::WriteDone(Err(e), None));
                self.finish_send(out.send, Err(e), messages, rdma);
            }
        }
    }

    /// Sends what can go now: control answers first, then the application's bytes in order,
    /// then the end of the stream, then a credit update when enough credit is owed (SESS-1).
    fn pump(&mut self) {
        if self.phase != Phase::Open {
            return;
        }
        while let Some(ob) = self.outbound.front() {
            let sent = match ob {
                Outbound::WriteTarget(r) => {
                    let r = r.clone();
                    self.send_message(Body::WriteTarget(r.as_deref().map_err(|e| *e)))
                }
                Outbound::ReadDone(r) => {
                    let r = *r;
                    self.send_message(Body::RdmaDone(r))
                }
                Outbound::WriteDone(r, owner) => {
                    let (r, owner) = (*r, *owner);
                    self.tagging = owner;
                    let sent = self.send_message(Body::WriteDone(r));
                    self.tagging = None;
                    sent
                }
            };
            if !sent {
                break;
            }
            self.outbound.pop_front();
        }
        self.drive_outgoing();
        loop {
            if self.outgoing.is_some() {
                break;
            }
            if let Some(active) = &self.inline_active {
                if active.sent < active.len {
                    if self.send_inline_part() {
                        continue;
                    }
                    break;
                }
                // Every message of it went: it finishes when they complete, and the next
                // send may start meanwhile.
                if let Some(done) = self.inline_active.take() {
                    if done.unacked == 0 {
                        let messages = done.messages;
                        self.finish_send(done, Ok(()), messages, None);
                    } else {
                        self.acking.insert(done.id, done);
                    }
                }
                continue;
            }
            let Some(next) = self.sends.pop_front() else {
                break;
            };
            if next.oob || next.len <= self.threshold {
                self.inline_active = Some(next);
                continue;
            }
            self.start_piece(next, 0, 0, 0);
            break;
        }
        if self.fin_queued
            && !self.fin_sent
            && self.sends.is_empty()
            && self.inline_active.is_none()
            && self.outgoing.is_none()
            && self.send_message(Body::Disconnect)
        {
            self.fin_sent = true;
        }
        let update_at = (self.config.receives / 2).max(2);
        if self.owed >= update_at && !self.withholding() {
            self.send_message(Body::Credit);
        }
    }

    /// Starts the transfer of the piece of `send` at `base` (SESS-2): registers it for the peer
    /// to read, or asks the peer for a target to write into.
    fn start_piece(&mut self, send: AppSend, base: usize, messages: u32, rdma_ops: u32) {
        let read = self.peer.is_some_and(|p| p.rdma_read);
        let piece = (send.len - base).min(MAX_TRANSFER);
        // Room for the largest descriptor: the provider may ask for a larger block than the
        // one offered first.
        let extra = if read { 8 + MAX_DESCRIPTOR } else { 8 };
        // The RDMA part starts on a 256-byte boundary of the piece when the message has room
        // for that much inline: DMA engines prefer aligned transfers, and so does a copy (the
        // mock's RDMA), which slows down badly when source and target sit a few bytes apart
        // modulo a page.
        let room = self.room(extra);
        let room = if room >= 256 { room / 256 * 256 } else { room };
        let inline = room.min(piece - 1);
        let range = MemoryRange {
            buffer: send.data.clone(),
            offset: base + inline,
            len: piece - inline,
        };
        self.outgoing = Some(Outgoing {
            send,
            base,
            piece,
            inline,
            read,
            announced: false,
            stage: if read {
                OutStage::Registering
            } else {
                OutStage::Waiting { descriptor: None }
            },
            messages,
            rdma_ops,
        });
        if read {
            self.register_rdma(range, MemoryAccess::READ);
        }
        self.drive_outgoing();
    }

    /// Sends the next message of the inline send; `false` when it cannot go now.
    fn send_inline_part(&mut self) -> bool {
        let room = self.room(0);
        let Some(active) = &self.inline_active else {
            return false;
        };
        if room == 0 {
            return false;
        }
        let end = (active.sent + room).min(active.len);
        let part = active.data.with(|d| d[active.sent..end].to_vec());
        let last = end == active.len;
        self.tagging = Some(active.id);
        let sent = if active.oob && last {
            self.send_message(Body::Urgent(&part))
        } else {
            self.send_message(Body::Data(&part))
        };
        self.tagging = None;
        if sent && let Some(active) = &mut self.inline_active {
            active.sent = end;
            active.messages += 1;
            active.unacked += 1;
        }
        sent
    }
}

impl ProviderMachine for Session {
    fn next_call(&self) -> Option<NextCall> {
        self.calls.front().map(|(c, _)| c.clone())
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        let (call, op) = self.calls.pop_front().ok_or(Finished)?;
        self.on_answer(call, op, answer);
        self.pump();
        Ok(())
    }

    fn call_budget(&self) -> usize {
        budget(&self.config) + self.calls.len()
    }
}

/// The access an RDMA registration of `range` asks for: the sender's data is read by the peer,
/// a staging buffer is written by it.
fn access_for(s: &Session, range: &MemoryRange) -> MemoryAccess {
    match &s.outgoing {
        Some(out) if out.send.data.same(&range.buffer) => MemoryAccess::READ,
        _ => MemoryAccess::WRITE,
    }
}

fn call_name(call: &NextCall) -> &'static str {
    match call {
        NextCall::Send { .. } => "WSPSend",
        NextCall::Recv { .. } => "WSPRecv",
        NextCall::GetSockOpt { .. } => "WSPGetSockOpt",
        NextCall::GetOverlappedResult { .. } => "WSPGetOverlappedResult",
        NextCall::RegisterMemory { .. } => "WSPRegisterMemory",
        NextCall::RegisterRdmaMemory { .. } => "WSPRegisterRdmaMemory",
        NextCall::Rdma { read: true, .. } => "WSPRdmaRead",
        NextCall::Rdma { .. } => "WSPRdmaWrite",
        _ => "a provider call",
    }
}
