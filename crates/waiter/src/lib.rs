//! # wsd-waiter: a ready-made waiter for embedders on std threads
//!
//! The switch core is sans-IO: it never blocks and starts no thread (rule INIT-5). When a
//! connect has to wait for a provider, the core emits [`SwitchEvent::Watch`] from
//! `Switch::poll` and later [`SwitchEvent::Unwatch`]; the platform must watch that event and
//! report it back with `Switch::handle_event` once it is signalled. On Windows the event is an
//! event object the provider sets with `SetEvent`, and the waiter is a thread blocked in
//! `WaitForMultipleObjects`.
//!
//! This crate is that waiter for an embedder that runs on std threads. Its thread is the
//! **embedder's** thread, created when the embedder calls [`Waiter::new`]: the core stays
//! thread-free, exactly as INIT-5 asks.
//!
//! - [`Signals`] stands for the platform's event objects: a cloneable, thread-safe registry in
//!   which a provider (any thread) sets an event with [`Signals::signal`].
//! - [`Waiter`] owns one background thread that sleeps on a condition variable (no polling)
//!   until an event it watches is signalled, and sends that event down a
//!   [`std::sync::mpsc::Receiver`] handed out by [`Waiter::new`]. The embedder receives from it
//!   on the thread that owns the `Switch` and calls `Switch::handle_event`.
//!
//! Delivery goes through a channel rather than a callback so that no embedder code ever runs
//! on the waiter's thread or under its lock, and the `Switch` (which is not shared between
//! threads) stays on the embedder's own thread.
//!
//! ## Semantics
//!
//! Events behave like Windows **auto-reset** event objects:
//!
//! - [`Signals::signal`] sets an event. Setting an event that is already set changes nothing
//!   (it answers `false`): signals coalesce until the event is delivered or reset.
//! - A set event that some waiter watches is delivered **once**: the waiter resets it and sends
//!   its handle. A later signal sets it again and is delivered again. So the number of
//!   deliveries of a watched event equals the number of `signal` calls that answered `true`
//!   (minus any signal discarded by [`Signals::reset`] or [`Waiter::unwatch`]).
//! - A signal on an event nobody watches **stays set**, and is delivered as soon as a waiter
//!   watches the event.
//! - [`Waiter::unwatch`] of a set, not yet delivered event **discards** that signal: the event
//!   is reset and never delivered. This holds also for an event the waiter did not watch, but
//!   not for one another waiter watches, which `unwatch` leaves alone. The waiter sends under
//!   its lock, so a signal is either in the channel before `unwatch` returns or never sent. (A
//!   handle sent before the `unwatch` may still be waiting in the channel; the switch ignores
//!   an event it no longer waits for.)
//! - [`Signals::reset`] clears a set event without delivering it.
//! - One event is watched by at most one waiter of a [`Signals`]; several waiters may share one
//!   `Signals` and watch different events.
//! - Events are delivered in the order they became ready (signalled while watched, or watched
//!   while set).
//!
//! Every operation is constant time except [`Waiter::unwatch`] and [`Signals::reset`] of an
//! event that is ready but not yet delivered, which are linear in that waiter's ready events,
//! and [`Waiter::shutdown`], linear in its watched events.
//!
//! ## Shutting down
//!
//! [`Waiter::shutdown`] (or dropping the [`Waiter`]) wakes the thread, stops it and joins it,
//! even while it is blocked. Its watches are released; events that are set stay set in the
//! [`Signals`]. After that the [`Receiver`] reports disconnection once it is drained. A waiter
//! whose receiver has been dropped keeps resetting the events it delivers; the handles are
//! discarded.
//!
//! ## Example
//!
//! A provider thread signals an event; the waiter delivers it to the embedder:
//!
//! ```
//! use std::thread;
//! use std::time::Duration;
//!
//! use switch_core::provider::EventHandle;
//! use wsd_waiter::{Signals, Waiter};
//!
//! let signals = Signals::new();
//! let (waiter, events) = Waiter::new(signals.clone());
//!
//! // What the embedder does with `SwitchEvent::Watch(ev)` (or `waiter.apply(&event)`).
//! let ev = EventHandle(7);
//! waiter.watch(ev);
//!
//! // The provider, on a thread of its own, sets the event (`SetEvent` on Windows).
//! let provider = thread::spawn(move || {
//!     signals.signal(ev);
//! });
//!
//! // The embedder's loop: wait (bounded), then `switch.handle_event(&mut tcp, got)`.
//! let got = events
//!     .recv_timeout(Duration::from_secs(5))
//!     .expect("the waiter delivers the signalled event");
//! assert_eq!(got, ev);
//!
//! provider.join().unwrap();
//! waiter.shutdown(); // wakes, stops and joins the waiter's thread
//! ```
//!
//! With a `Switch`, the embedder hands every event of `Switch::poll` to [`Waiter::apply`]
//! (which takes the `Watch` and `Unwatch` events and ignores the others), and calls
//! `switch.handle_event(&mut tcp, handle)` for each handle it receives.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use switch_core::connection::SwitchEvent;
use switch_core::provider::EventHandle;

/// The name of a waiter's thread.
pub const THREAD_NAME: &str = "wsd-waiter";

/// A waiter's id inside its [`Signals`].
type WaiterId = u64;

/// The platform's event objects: a cloneable, thread-safe registry of set events.
///
/// Clones share the same events. A provider sets an event with [`signal`](Self::signal) from
/// any thread; the [`Waiter`]s attached to this registry deliver the events they watch. See the
/// [crate documentation](crate#semantics) for the semantics.
#[derive(Clone, Default)]
pub struct Signals {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Events that are set and not yet delivered.
    set: HashSet<EventHandle>,
    /// Which waiter watches each watched event.
    owner: HashMap<EventHandle, WaiterId>,
    /// The live waiters.
    waiters: HashMap<WaiterId, Slot>,
    next_waiter: WaiterId,
}

/// One waiter's part of the shared state.
struct Slot {
    /// Wakes this waiter's thread; used only with [`Shared::state`].
    wake: Arc<Condvar>,
    /// The events it watches.
    watched: HashSet<EventHandle>,
    /// Watched events that are set, in the order they became ready. Invariant: `e` is here
    /// exactly when `e` is in `State::set` and `State::owner[e]` is this waiter.
    ready: VecDeque<EventHandle>,
}

impl State {
    /// The slot of the waiter that watches `event`, if any.
    fn watcher_of(&mut self, event: EventHandle) -> Option<&mut Slot> {
        let id = *self.owner.get(&event)?;
        self.waiters.get_mut(&id)
    }

    /// Queues `event` on its watcher, if it has one, and wakes that watcher.
    fn make_ready(&mut self, event: EventHandle) {
        if let Some(slot) = self.watcher_of(event) {
            slot.ready.push_back(event);
            slot.wake.notify_one();
        }
    }

    /// Takes `event` off its watcher's ready queue, if it is there.
    fn unready(&mut self, event: EventHandle) {
        if let Some(slot) = self.watcher_of(event) {
            slot.ready.retain(|&e| e != event);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code that can panic runs under this lock, so the state is consistent even if a
        // thread did panic while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Signals {
    /// A registry with no event set and no waiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `event` (what a provider does with `SetEvent`). Answers `true` if the event was not
    /// set, `false` if it already was (the signals coalesce). A watched event is then delivered
    /// by its waiter; an unwatched one stays set until it is watched or reset.
    pub fn signal(&self, event: EventHandle) -> bool {
        let mut state = self.shared.lock();
        if !state.set.insert(event) {
            return false;
        }
        state.make_ready(event);
        true
    }

    /// Clears `event` without delivering it (`ResetEvent`). Answers whether it was set.
    pub fn reset(&self, event: EventHandle) -> bool {
        let mut state = self.shared.lock();
        if !state.set.remove(&event) {
            return false;
        }
        state.unready(event);
        true
    }

    /// Whether `event` is set: signalled and neither delivered, discarded nor reset yet.
    pub fn is_set(&self, event: EventHandle) -> bool {
        self.shared.lock().set.contains(&event)
    }

    /// Whether some waiter of this registry watches `event`.
    pub fn is_watched(&self, event: EventHandle) -> bool {
        self.shared.lock().owner.contains_key(&event)
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Signals")
            .field("set", &state.set.len())
            .field("watched", &state.owner.len())
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// A waiter: one background std thread that delivers the signalled events it watches.
///
/// Made with [`Waiter::new`], which also returns the [`Receiver`] the events arrive on. The
/// methods take `&self`, so the embedder may share the waiter (for example in an `Arc`) between
/// the thread that polls the switch and others. [`shutdown`](Self::shutdown) or dropping the
/// waiter stops and joins the thread.
pub struct Waiter {
    signals: Signals,
    id: WaiterId,
    thread: Option<JoinHandle<()>>,
}

impl Waiter {
    /// Attaches a waiter to `signals` and starts its thread. Returns the waiter and the
    /// receiving end of its deliveries.
    ///
    /// # Panics
    ///
    /// If the operating system cannot create the thread, like [`std::thread::spawn`]; see
    /// [`try_new`](Self::try_new).
    pub fn new(signals: Signals) -> (Waiter, Receiver<EventHandle>) {
        Self::try_new(signals).expect("failed to spawn the waiter thread")
    }

    /// Like [`new`](Self::new), but answers the error if the thread cannot be created.
    pub fn try_new(signals: Signals) -> io::Result<(Waiter, Receiver<EventHandle>)> {
        let (tx, rx) = mpsc::channel();
        let wake = Arc::new(Condvar::new());
        let id = {
            let mut state = signals.shared.lock();
            let id = state.next_waiter;
            state.next_waiter += 1;
            state.waiters.insert(
                id,
                Slot {
                    wake: Arc::clone(&wake),
                    watched: HashSet::new(),
                    ready: VecDeque::new(),
                },
            );
            id
        };
        let shared = Arc::clone(&signals.shared);
        let spawned = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || run(&shared, id, &wake, &tx));
        match spawned {
            Ok(thread) => Ok((
                Waiter {
                    signals,
                    id,
                    thread: Some(thread),
                },
                rx,
            )),
            Err(e) => {
                signals.shared.lock().waiters.remove(&id);
                Err(e)
            }
        }
    }

    /// Watches `event`. If it is already set, it is delivered at once. Answers `true` if the
    /// waiter now watches it and did not before; `false` if it already did, or if another
    /// waiter of the same [`Signals`] watches it (that one keeps it).
    pub fn watch(&self, event: EventHandle) -> bool {
        let mut state = self.signals.shared.lock();
        if state.owner.contains_key(&event) {
            return false;
        }
        let Some(slot) = state.waiters.get_mut(&self.id) else {
            return false;
        };
        slot.watched.insert(event);
        state.owner.insert(event, self.id);
        if state.set.contains(&event) {
            state.make_ready(event);
        }
        true
    }

    /// Stops watching `event` and discards a signal of it that is set and not yet delivered:
    /// the event is reset (also when this waiter did not watch it). An event another waiter
    /// watches is left alone. Answers `true` if this waiter watched it.
    pub fn unwatch(&self, event: EventHandle) -> bool {
        let mut state = self.signals.shared.lock();
        match state.owner.get(&event) {
            Some(&id) if id != self.id => return false,
            Some(_) => {}
            None => {
                state.set.remove(&event);
                return false;
            }
        }
        if state.set.remove(&event) {
            state.unready(event);
        }
        state.owner.remove(&event);
        if let Some(slot) = state.waiters.get_mut(&self.id) {
            slot.watched.remove(&event);
        }
        true
    }

    /// Hands a switch event on: [`SwitchEvent::Watch`] is [`watch`](Self::watch),
    /// [`SwitchEvent::Unwatch`] is [`unwatch`](Self::unwatch), anything else is left to the
    /// embedder. Answers `true` if the event was a `Watch` or an `Unwatch`.
    pub fn apply(&self, event: &SwitchEvent) -> bool {
        match *event {
            SwitchEvent::Watch(handle) => {
                self.watch(handle);
                true
            }
            SwitchEvent::Unwatch(handle) => {
                self.unwatch(handle);
                true
            }
            _ => false,
        }
    }

    /// Whether this waiter watches `event`.
    pub fn is_watching(&self, event: EventHandle) -> bool {
        self.signals.shared.lock().owner.get(&event) == Some(&self.id)
    }

    /// How many events this waiter watches.
    pub fn watched(&self) -> usize {
        self.signals
            .shared
            .lock()
            .waiters
            .get(&self.id)
            .map_or(0, |slot| slot.watched.len())
    }

    /// The registry this waiter is attached to.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Stops the thread, even if it is blocked, and joins it. The watches are released; set
    /// events stay set. Dropping the waiter does the same.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        {
            let mut state = self.signals.shared.lock();
            if let Some(slot) = state.waiters.remove(&self.id) {
                for event in &slot.watched {
                    state.owner.remove(event);
                }
                // The thread sees its slot gone and returns.
                slot.wake.notify_one();
            }
        }
        // The thread runs no foreign code, so it cannot have panicked; nothing to report.
        let _ = thread.join();
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("id", &self.id)
            .field("watched", &self.watched())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// The waiter's thread: deliver ready events, sleep when there are none, return when the slot
/// is gone.
fn run(shared: &Shared, id: WaiterId, wake: &Condvar, tx: &Sender<EventHandle>) {
    let mut state = shared.lock();
    loop {
        let Some(slot) = state.waiters.get_mut(&id) else {
            return;
        };
        match slot.ready.pop_front() {
            Some(event) => {
                // Auto-reset: delivering consumes the signal. Sending under the lock makes a
                // delivery and an `unwatch` ordered; an unbounded send never blocks. A dropped
                // receiver only means nobody listens any more.
                state.set.remove(&event);
                let _ = tx.send(event);
            }
            None => state = wake.wait(state).unwrap_or_else(PoisonError::into_inner),
        }
    }
}
