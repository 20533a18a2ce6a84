//! A mock provider's local memory registrations and its registration cache (MEM-1, MEM-2).
//!
//! A local registration (`WSPRegisterMemory`) belongs to one provider instance and one of its
//! sockets; a data call's buffer is usable only inside a live registration of that socket with
//! the access the call needs. Deregistering does not forget the memory at once: the
//! registration moves into the instance's cache, keyed by its address range, still holding its
//! [`Buffer`](switch_core::memory::Buffer) (the memory stays pinned), until
//! MemoryRegistrationCacheCallback names a range overlapping it or the provider cleans up.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use spi_types::{MemoryAccess, WsaError};
use switch_core::memory::{MemoryHandle, MemoryRange, WsaBufEx};
use switch_core::provider::ProviderSocket;

/// Tags of instances not (yet) attached to a fabric: far above any fabric index, so their
/// handles never meet an attached instance's.
static UNATTACHED_TAG: AtomicU64 = AtomicU64::new(1 << 20);

/// One provider instance's registrations, shared with the fabric for its statistics.
pub(crate) type SharedRegistry = Arc<Mutex<Registry>>;

/// A live local registration.
struct LocalReg {
    socket: ProviderSocket,
    range: MemoryRange,
    access: MemoryAccess,
}

/// A provider instance's local registrations and cache.
pub(crate) struct Registry {
    /// The instance's part of every handle, so handles of different instances differ.
    tag: u64,
    next: u64,
    local: HashMap<MemoryHandle, LocalReg>,
    /// Deregistered ranges, by (address, length); the range keeps its buffer alive.
    cache: BTreeMap<(u64, usize), MemoryRange>,
}

impl Registry {
    /// An empty registry with a process-unique tag.
    pub(crate) fn shared() -> SharedRegistry {
        Arc::new(Mutex::new(Registry {
            tag: UNATTACHED_TAG.fetch_add(1, Ordering::Relaxed),
            next: 0,
            local: HashMap::new(),
            cache: BTreeMap::new(),
        }))
    }

    /// Locks a shared registry (every update is complete at each step, so a poisoned lock is
    /// still usable).
    pub(crate) fn lock(r: &SharedRegistry) -> MutexGuard<'_, Registry> {
        r.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the tag of handles made from now on (a fabric gives its instances small,
    /// deterministic tags).
    pub(crate) fn set_tag(&mut self, tag: u64) {
        self.tag = tag;
    }

    /// Registers `range` for `socket`: a fresh non-zero handle.
    pub(crate) fn register(
        &mut self,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> MemoryHandle {
        self.next += 1;
        let handle = MemoryHandle((self.tag << 40) | (self.next & ((1 << 40) - 1)));
        self.local.insert(
            handle,
            LocalReg {
                socket,
                range: range.clone(),
                access,
            },
        );
        handle
    }

    /// Deregisters `handle` of `socket` into the cache; `WSAEINVAL` for a handle unknown or of
    /// another socket.
    pub(crate) fn deregister(
        &mut self,
        socket: ProviderSocket,
        handle: MemoryHandle,
    ) -> Result<(), WsaError> {
        match self.local.get(&handle) {
            Some(r) if r.socket == socket => {}
            _ => return Err(WsaError::WSAEINVAL),
        }
        if let Some(r) = self.local.remove(&handle) {
            self.cache.insert((r.range.addr(), r.range.len), r.range);
        }
        Ok(())
    }

    /// Every registration of `socket` goes into the cache (the socket closed).
    pub(crate) fn release_socket(&mut self, socket: ProviderSocket) {
        let handles: Vec<MemoryHandle> = self
            .local
            .iter()
            .filter(|(_, r)| r.socket == socket)
            .map(|(h, _)| *h)
            .collect();
        for h in handles {
            if let Some(r) = self.local.remove(&h) {
                self.cache.insert((r.range.addr(), r.range.len), r.range);
            }
        }
    }

    /// Whether every buffer lies in a live registration of `socket`, named by its handle, of
    /// the same buffer, with `need` among its access rights.
    pub(crate) fn covers(
        &self,
        socket: ProviderSocket,
        bufs: &[WsaBufEx],
        need: MemoryAccess,
    ) -> bool {
        bufs.iter().all(|b| {
            let Some(r) = self.local.get(&b.handle) else {
                return false;
            };
            let (Some(end), Some(reg_end)) = (
                b.range.offset.checked_add(b.range.len),
                r.range.offset.checked_add(r.range.len),
            ) else {
                return false;
            };
            r.socket == socket
                && r.access.contains(need)
                && r.range.buffer.same(&b.range.buffer)
                && b.range.check().is_ok()
                && b.range.offset >= r.range.offset
                && end <= reg_end
        })
    }

    /// MemoryRegistrationCacheCallback: drops every cached registration overlapping the `size`
    /// bytes at `address`; `WSAEINVAL` when none did.
    pub(crate) fn cache_callback(&mut self, address: u64, size: usize) -> Result<(), WsaError> {
        let end = address.saturating_add(size as u64);
        let before = self.cache.len();
        self.cache.retain(|&(a, len), _| {
            // An empty registration counts as its first byte.
            let a_end = a.saturating_add((len as u64).max(1));
            !(a < end && address < a_end)
        });
        if self.cache.len() < before {
            Ok(())
        } else {
            Err(WsaError::WSAEINVAL)
        }
    }

    /// Forgets the cache (the provider cleaned up).
    pub(crate) fn drop_cache(&mut self) {
        self.cache.clear();
    }

    /// How many live local registrations there are.
    pub(crate) fn local_count(&self) -> usize {
        self.local.len()
    }

    /// The cached ranges, by address.
    pub(crate) fn cached_ranges(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.cache.keys().copied()
    }
}
