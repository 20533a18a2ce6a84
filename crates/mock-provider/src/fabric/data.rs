//! The SAN data path of the fabric: messages between the two ends of a connection, the
//! completions of overlapped requests, RDMA registrations and transfers, and the count of
//! memory-access violations (see the [fabric documentation](super)).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use spi_types::{MemoryAccess, WsaError};
use switch_core::memory::{Buffer, MemoryRange, WsaBufEx};
use switch_core::provider::{Overlapped, ProviderSocket, SwitchSocket, Upcalls};

use super::{SanKey, State};
use crate::fabric::SanAttachment;

/// The size of the descriptor RegisterRdmaMemory writes: the registration's fabric-wide id, a
/// check value and its length, each a little-endian `u64`.
pub const RDMA_DESCRIPTOR_LEN: usize = 24;

/// Where a completion goes when the request is not `poll_only`: the provider's up-call table
/// and its switch handle of the socket.
#[derive(Clone)]
pub(crate) struct Notify {
    /// The up-call table the provider was started with.
    pub(crate) upcalls: Arc<dyn Upcalls>,
    /// The switch's handle of the socket.
    pub(crate) socket: SwitchSocket,
}

/// An overlapped request: `notify` is `None` exactly when the switch polls.
pub(crate) struct Request {
    /// The request.
    pub(crate) overlapped: Overlapped,
    /// Where its completion goes, unless it is polled.
    pub(crate) notify: Option<Notify>,
}

/// A `WPUCompleteOverlappedRequest` to make once the fabric's lock is released.
pub(crate) struct Upcall {
    notify: Notify,
    overlapped: Overlapped,
    result: Result<usize, WsaError>,
}

impl Upcall {
    /// Makes the up-call (its answer changes nothing for the provider).
    pub(crate) fn deliver(self) {
        let (error, bytes) = match self.result {
            Ok(n) => (None, n),
            Err(e) => (Some(e), 0),
        };
        self.notify
            .upcalls
            .complete_overlapped_request(self.notify.socket, self.overlapped, error, bytes)
            .ok();
    }
}

/// A receive waiting for a message.
struct PostedRecv {
    request: Request,
    target: MemoryRange,
}

/// A SAN socket's data state.
#[derive(Default)]
pub(super) struct DataEnd {
    /// The other end of its connection, once connected.
    pub(super) peer: Option<SanKey>,
    /// The peer closed: sends, receives and RDMA fail with `WSAECONNRESET`.
    reset: bool,
    /// Receives posted and not yet matched, oldest first.
    recvs: VecDeque<PostedRecv>,
    /// Messages that arrived with no receive posted, oldest first.
    held: VecDeque<Vec<u8>>,
    /// Polled requests: `None` while under way, then the result until it is read once.
    polled: HashMap<u64, Option<Result<usize, WsaError>>>,
}

impl DataEnd {
    /// Refuses a polled request whose id is still under way on the socket.
    fn begin(&self, request: &Request) -> Result<(), WsaError> {
        if request.notify.is_none() && matches!(self.polled.get(&request.overlapped.id), Some(None))
        {
            return Err(WsaError::WSAEINVAL);
        }
        Ok(())
    }

    /// Completes `request`: stored for polling, or an up-call to make.
    fn complete(
        &mut self,
        request: Request,
        result: Result<usize, WsaError>,
        out: &mut Vec<Upcall>,
    ) {
        match request.notify {
            Some(notify) => out.push(Upcall {
                notify,
                overlapped: request.overlapped,
                result,
            }),
            None => {
                self.polled.insert(request.overlapped.id, Some(result));
            }
        }
    }

    /// A message for this end: into the oldest posted receive, or held.
    fn arrive(&mut self, message: Vec<u8>, out: &mut Vec<Upcall>) {
        match self.recvs.pop_front() {
            Some(r) => self.deliver(r, &message, out),
            None => self.held.push_back(message),
        }
    }

    /// Completes receive `r` with `message`: `WSAEMSGSIZE` (the message dropped) when it does
    /// not fit.
    fn deliver(&mut self, r: PostedRecv, message: &[u8], out: &mut Vec<Upcall>) {
        let result = if message.len() > r.target.len {
            Err(WsaError::WSAEMSGSIZE)
        } else {
            r.target
                .buffer
                .write(r.target.offset, message)
                .map(|()| message.len())
                .map_err(|_| WsaError::WSAEFAULT)
        };
        self.complete(r.request, result, out);
    }

    /// Fails every posted receive with `error`.
    fn fail_recvs(&mut self, error: WsaError, out: &mut Vec<Upcall>) {
        while let Some(r) = self.recvs.pop_front() {
            self.complete(r.request, Err(error), out);
        }
    }
}

/// An RDMA registration: memory of `owner` exposed to the peer of its connection.
pub(super) struct RdmaReg {
    pub(super) owner: SanKey,
    range: MemoryRange,
    access: MemoryAccess,
    check: u64,
}

/// The check value of registration `id` (a mix of its id, address and length, so a descriptor
/// made up or damaged does not name a registration by chance).
fn check_value(id: u64, addr: u64, len: usize) -> u64 {
    // splitmix64 of the three.
    let mut z = id
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(addr.rotate_left(17))
        .wrapping_add(len as u64)
        ^ 0x5744_5344_4D4F_434B;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The registration id, check value and length of a descriptor of the right size.
fn decode_descriptor(d: &[u8]) -> Option<(u64, u64, u64)> {
    if d.len() != RDMA_DESCRIPTOR_LEN {
        return None;
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    Some((word(0), word(1), word(2)))
}

/// Which way an RDMA transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RdmaDirection {
    /// RdmaWrite: local memory into the peer's.
    Write,
    /// RdmaRead: the peer's memory into local memory.
    Read,
}

impl State {
    fn violation(&mut self) {
        self.mem_violations += 1;
    }

    /// The connected endpoint `key` and its peer; `WSAENOTSOCK`, `WSAENOTCONN`.
    fn data_end(&mut self, key: SanKey) -> Result<(&mut DataEnd, SanKey), WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        let peer = ep.data.peer.ok_or(WsaError::WSAENOTCONN)?;
        Ok((&mut ep.data, peer))
    }

    fn san_send(
        &mut self,
        key: SanKey,
        message: Vec<u8>,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        let (end, peer) = self.data_end(key)?;
        end.begin(&request)?;
        if end.reset {
            return Err(WsaError::WSAECONNRESET);
        }
        let total = message.len();
        let mut out = Vec::new();
        // A peer closes only through san_close, which resets this end first.
        let p = self.san.get_mut(&peer).ok_or(WsaError::WSAECONNRESET)?;
        p.data.arrive(message, &mut out);
        if let Some(ep) = self.san.get_mut(&key) {
            ep.data.complete(request, Ok(total), &mut out);
        }
        Ok(out)
    }

    fn san_recv(
        &mut self,
        key: SanKey,
        target: MemoryRange,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        let (end, _) = self.data_end(key)?;
        end.begin(&request)?;
        let mut out = Vec::new();
        let r = PostedRecv { request, target };
        if let Some(message) = end.held.pop_front() {
            // Messages that arrived before the peer closed are still delivered.
            end.deliver(r, &message, &mut out);
        } else if end.reset {
            return Err(WsaError::WSAECONNRESET);
        } else {
            if r.request.notify.is_none() {
                end.polled.insert(r.request.overlapped.id, None);
            }
            end.recvs.push_back(r);
        }
        Ok(out)
    }

    fn san_poll(&mut self, key: SanKey, overlapped: Overlapped) -> Result<usize, WsaError> {
        let ep = self.san.get_mut(&key).ok_or(WsaError::WSAENOTSOCK)?;
        match ep.data.polled.get(&overlapped.id) {
            None => Err(WsaError::WSAEINVAL),
            Some(None) => Err(WsaError::WSA_IO_INCOMPLETE),
            Some(Some(_)) => ep
                .data
                .polled
                .remove(&overlapped.id)
                .flatten()
                .unwrap_or(Err(WsaError::WSAEINVAL)),
        }
    }

    fn rdma_register(
        &mut self,
        key: SanKey,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> Result<[u8; RDMA_DESCRIPTOR_LEN], WsaError> {
        let (end, _) = self.data_end(key)?;
        if end.reset {
            return Err(WsaError::WSAECONNRESET);
        }
        self.next_rdma += 1;
        let id = self.next_rdma;
        let check = check_value(id, range.addr(), range.len);
        self.rdma.insert(
            id,
            RdmaReg {
                owner: key,
                range: range.clone(),
                access,
                check,
            },
        );
        let mut d = [0u8; RDMA_DESCRIPTOR_LEN];
        d[0..8].copy_from_slice(&id.to_le_bytes());
        d[8..16].copy_from_slice(&check.to_le_bytes());
        d[16..24].copy_from_slice(&(range.len as u64).to_le_bytes());
        Ok(d)
    }

    /// The live registration `descriptor` names, if it is well formed.
    fn rdma_named(&self, descriptor: &[u8]) -> Option<(u64, &RdmaReg)> {
        let (id, check, len) = decode_descriptor(descriptor)?;
        self.rdma
            .get(&id)
            .filter(|r| r.check == check && r.range.len as u64 == len)
            .map(|r| (id, r))
    }

    fn rdma_deregister(&mut self, key: SanKey, descriptor: &[u8]) -> Result<(), WsaError> {
        if !self.san.contains_key(&key) {
            return Err(WsaError::WSAENOTSOCK);
        }
        let id = match self.rdma_named(descriptor) {
            Some((id, r)) if r.owner == key => id,
            _ => return Err(WsaError::WSAEINVAL),
        };
        self.rdma.remove(&id);
        Ok(())
    }

    fn rdma_transfer(
        &mut self,
        key: SanKey,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        direction: RdmaDirection,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        let (end, peer) = self.data_end(key)?;
        end.begin(&request)?;
        if end.reset {
            // The peer closed, and its registrations with it: whatever the descriptor, it
            // names nothing live any more.
            self.violation();
            return Err(WsaError::WSAECONNRESET);
        }
        let total: usize = local.iter().map(|b| b.range.len).sum();
        let (range, access) = match self.rdma_named(target) {
            Some((_, r)) if r.owner == peer => (r.range.clone(), r.access),
            _ => {
                self.violation();
                return Err(WsaError::WSAEINVAL);
            }
        };
        let start = target_offset as usize;
        if start.checked_add(total).is_none_or(|end| end > range.len) {
            self.violation();
            return Err(WsaError::WSAEFAULT);
        }
        let need = match direction {
            RdmaDirection::Write => MemoryAccess::WRITE,
            RdmaDirection::Read => MemoryAccess::READ,
        };
        if !access.contains(need) {
            self.violation();
            return Err(WsaError::WSAEACCES);
        }
        let mut at = range.offset + start;
        let mut result = Ok(total);
        for b in local {
            let copied = match direction {
                RdmaDirection::Write => Buffer::copy(
                    &b.range.buffer,
                    b.range.offset,
                    &range.buffer,
                    at,
                    b.range.len,
                ),
                RdmaDirection::Read => Buffer::copy(
                    &range.buffer,
                    at,
                    &b.range.buffer,
                    b.range.offset,
                    b.range.len,
                ),
            };
            if copied.is_err() {
                // Every range was checked; should a buffer have changed, the request fails.
                result = Err(WsaError::WSAEFAULT);
                break;
            }
            at += b.range.len;
        }
        let mut out = Vec::new();
        if let Some(ep) = self.san.get_mut(&key) {
            ep.data.complete(request, result, &mut out);
        }
        Ok(out)
    }

    /// The data side of `WSPCloseSocket` (CLOSE-1), for the endpoint `key` just removed: its
    /// pending receives are aborted, the peer's fail with `WSAECONNRESET` and the peer is
    /// reset, its RDMA registrations are dropped. Answers the up-calls to make.
    pub(super) fn close_data(&mut self, key: SanKey, data: &mut DataEnd) -> Vec<Upcall> {
        let mut out = Vec::new();
        data.fail_recvs(WsaError::WSA_OPERATION_ABORTED, &mut out);
        if let Some(peer) = data.peer
            && let Some(p) = self.san.get_mut(&peer)
            && p.data.peer == Some(key)
        {
            p.data.reset = true;
            p.data.fail_recvs(WsaError::WSAECONNRESET, &mut out);
        }
        self.rdma.retain(|_, r| r.owner != key);
        out
    }

    /// Drops every RDMA registration of `provider`'s sockets (the provider is gone).
    pub(super) fn drop_rdma_of(&mut self, provider: usize) {
        self.rdma.retain(|_, r| r.owner.provider != provider);
    }
}

impl SanAttachment {
    /// Counts a refused memory access (MEM-1).
    pub(crate) fn violation(&self) {
        self.fabric.lock().violation();
    }

    /// `WSPSend` of `message`, once the provider checked its buffers.
    pub(crate) fn send(
        &self,
        socket: ProviderSocket,
        message: Vec<u8>,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        self.fabric
            .lock()
            .san_send(self.key(socket), message, request)
    }

    /// `WSPRecv` into `target`, once the provider checked it.
    pub(crate) fn recv(
        &self,
        socket: ProviderSocket,
        target: MemoryRange,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        self.fabric
            .lock()
            .san_recv(self.key(socket), target, request)
    }

    /// `WSPGetOverlappedResult` of a polled request.
    pub(crate) fn poll(
        &self,
        socket: ProviderSocket,
        overlapped: Overlapped,
    ) -> Result<usize, WsaError> {
        self.fabric.lock().san_poll(self.key(socket), overlapped)
    }

    /// RegisterRdmaMemory, once the provider checked its arguments: the descriptor.
    pub(crate) fn register_rdma(
        &self,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> Result<[u8; RDMA_DESCRIPTOR_LEN], WsaError> {
        self.fabric
            .lock()
            .rdma_register(self.key(socket), range, access)
    }

    /// DeregisterRdmaMemory.
    pub(crate) fn deregister_rdma(
        &self,
        socket: ProviderSocket,
        descriptor: &[u8],
    ) -> Result<(), WsaError> {
        self.fabric
            .lock()
            .rdma_deregister(self.key(socket), descriptor)
    }

    /// RdmaWrite or RdmaRead, once the provider checked the local buffers.
    pub(crate) fn rdma(
        &self,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        direction: RdmaDirection,
        request: Request,
    ) -> Result<Vec<Upcall>, WsaError> {
        self.fabric.lock().rdma_transfer(
            self.key(socket),
            local,
            target,
            target_offset,
            direction,
            request,
        )
    }
}
