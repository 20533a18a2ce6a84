//! The switch's up-call table: the socket handles providers create, and the completions they
//! post.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use spi_types::WsaError;

use crate::provider::{Overlapped, SwitchSocket, Upcalls};

/// A completion a provider posted through `WPUCompleteOverlappedRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The switch socket it belongs to.
    pub socket: SwitchSocket,
    /// The request.
    pub overlapped: Overlapped,
    /// Its error, `None` for success.
    pub error: Option<WsaError>,
    /// Bytes transferred.
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct Handles {
    next: u64,
    open: BTreeMap<u64, (u32, u64)>,
    completions: VecDeque<Completion>,
}

/// What the table calls when a completion arrives.
type Notify = Arc<dyn Fn() + Send + Sync>;

/// The switch's [`Upcalls`] implementation: a handle table and a queue of completions, which
/// the embedding platform drains with [`UpcallTable::take_completions`] (through
/// `Switch::handle_completions`). A provider may post completions from its own threads;
/// [`set_notify`](UpcallTable::set_notify) lets the platform's loop wake up when one comes.
#[derive(Default)]
pub struct UpcallTable {
    inner: Mutex<Handles>,
    notify: Mutex<Option<Notify>>,
}

impl std::fmt::Debug for UpcallTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpcallTable")
            .field("inner", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl UpcallTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Handles> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert or remove), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many switch socket handles are open.
    pub fn open_handles(&self) -> usize {
        self.lock().open.len()
    }

    /// Calls `notify` each time a provider posts a completion, after it is queued, on the
    /// provider's thread: a platform's loop uses it to wake up and call
    /// `Switch::handle_completions` instead of polling. It must not call back into the switch
    /// (the switch may be in the middle of a provider call on another thread).
    pub fn set_notify(&self, notify: impl Fn() + Send + Sync + 'static) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(notify));
    }

    /// How many completions wait to be taken: when not zero, the platform calls
    /// `Switch::handle_completions`.
    pub fn pending(&self) -> usize {
        self.lock().completions.len()
    }

    /// The completions posted since the last call, oldest first.
    pub fn take_completions(&self) -> Vec<Completion> {
        self.lock().completions.drain(..).collect()
    }
}

impl Upcalls for UpcallTable {
    fn create_socket_handle(
        &self,
        catalog_entry_id: u32,
        context: u64,
    ) -> Result<SwitchSocket, WsaError> {
        let mut h = self.lock();
        h.next = h.next.checked_add(1).ok_or(WsaError::WSAENOBUFS)?;
        let id = h.next;
        h.open.insert(id, (catalog_entry_id, context));
        Ok(SwitchSocket(id))
    }

    fn close_socket_handle(&self, socket: SwitchSocket) -> Result<(), WsaError> {
        self.lock()
            .open
            .remove(&socket.0)
            .map(|_| ())
            .ok_or(WsaError::WSAENOTSOCK)
    }

    fn query_socket_handle_context(&self, socket: SwitchSocket) -> Result<u64, WsaError> {
        self.lock()
            .open
            .get(&socket.0)
            .map(|(_, ctx)| *ctx)
            .ok_or(WsaError::WSAENOTSOCK)
    }

    fn complete_overlapped_request(
        &self,
        socket: SwitchSocket,
        overlapped: Overlapped,
        error: Option<WsaError>,
        bytes: usize,
    ) -> Result<(), WsaError> {
        {
            let mut h = self.lock();
            if !h.open.contains_key(&socket.0) {
                return Err(WsaError::WSAEINVAL);
            }
            h.completions.push_back(Completion {
                socket,
                overlapped,
                error,
                bytes,
            });
        }
        // Outside the table's lock, so the notified platform may take the completions at once.
        let notify = self
            .notify
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(n) = notify {
            n();
        }
        Ok(())
    }
}
