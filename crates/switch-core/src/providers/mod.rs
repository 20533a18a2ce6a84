//! The providers' lifecycle: which providers the switch has, where each stands, and every
//! change of state (INIT, HOT-1, HOT-3, ADDR-1, CLOSE-2).
//!
//! ```text
//!                 registered           init ok
//!   (catalog) ──────────────► init ─────────────► Ready ◄──────────┐ back in the catalog
//!       │                      │                    │  │            │ before its last
//!       │ not registered       │ a step failed      │  │ left the   │ connection closed
//!       ▼                      ▼                    │  ▼ catalog    │
//!    Ignored               Rejected ◄── panic in ───┘  Retiring ────┘
//!       │                      │        a re-query       │ last connection closed
//!       │ left the catalog     │ left the catalog        ▼ (at once when it has none)
//!       └──────────────────────┴────────────────────► Retired ◄── shutdown
//! ```
//!
//! A slot's state is a [`SlotState`](slot::SlotState): the provider instance, its query socket
//! and its extension entry points exist only while it is `Ready` or `Retiring`, so a rejected or
//! retired provider cannot be called by construction. Every provider call goes through the
//! [`Executor`].

mod slot;

use std::collections::{HashMap, HashSet};

use std::net::IpAddr;

use spi_types::{Guid, SanExtension};

use crate::address::Requery;
use crate::call::ProviderMachine;
use crate::catalog::CatalogView;
use crate::executor::{Callee, Executor, Overrun, guarded};
use crate::id::ProviderId;
use crate::provider::{ExtensionHandle, ProviderLoader, ProviderSocket};
use crate::report::{Diagnostic, ProviderReport, ProviderState, RejectCause, Rejection};
use crate::routing::RouteInput;
use crate::startup::InitMachine;
use crate::teardown::Teardown;
use crate::trace::Call;

use slot::{Ended, Live, Slot, SlotState};

/// The switch errors a caller can meet outside initialization (which reports instead of
/// failing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    /// No provider has this id.
    #[error("{0} is not a provider of this switch")]
    UnknownProvider(ProviderId),
    /// The provider cannot take a new connection in its state.
    #[error("provider `{name}` is {state} and takes no new connections")]
    NotReady {
        /// The provider's name.
        name: String,
        /// Its state.
        state: ProviderState,
    },
    /// A connection was closed on a provider that has none open.
    #[error("provider `{0}` has no open connection to close")]
    NoConnection(String),
}

/// Every provider the switch has seen, in catalog order (a provider's id is its index).
#[derive(Default)]
pub(crate) struct Providers {
    slots: Vec<Slot>,
    /// The newest slot of each GUID. A GUID has at most one slot that is not retired, and it is
    /// the newest: a new slot is made only when the last one is retired.
    newest: HashMap<Guid, usize>,
}

impl Providers {
    /// Applies a fresh read of the catalog: retires providers that left it (HOT-3), then
    /// initializes registered providers that are not running, in catalog order (INIT, HOT-1).
    /// Linear in the number of providers.
    pub fn sync(
        &mut self,
        view: CatalogView,
        loader: &mut dyn ProviderLoader,
        exec: &mut Executor<'_>,
    ) {
        let san: HashSet<Guid> = view.san.iter().map(|d| d.entry.guid()).collect();
        let ignored: HashSet<Guid> = view.ignored.iter().map(|e| e.guid()).collect();

        // HOT-3: providers that left the catalog (or the registration list).
        for idx in 0..self.slots.len() {
            let guid = self.slots[idx].entry.guid();
            let slot = &mut self.slots[idx];
            match &slot.state {
                SlotState::Ready(_) if !san.contains(&guid) => self.retire(idx, exec),
                // A rejected provider that leaves is done with; if it comes back it is a new
                // provider and is initialized afresh.
                SlotState::Rejected(_) if !san.contains(&guid) => {
                    let SlotState::Rejected(ended) =
                        std::mem::replace(&mut slot.state, SlotState::Ignored)
                    else {
                        continue;
                    };
                    slot.state = SlotState::Retired(ended);
                }
                SlotState::Ignored if !ignored.contains(&guid) && !san.contains(&guid) => {
                    slot.state = SlotState::Retired(Ended::default());
                }
                _ => {}
            }
        }

        // INIT / HOT-1: registered providers not running yet, in catalog order.
        for detected in view.san {
            let guid = detected.entry.guid();
            match self.live_slot(guid) {
                Some(idx) => match &mut self.slots[idx].state {
                    SlotState::Ignored => {
                        self.slots[idx].name = detected.entry.name().into();
                        self.slots[idx].entry = detected.entry;
                        self.init(idx, loader, exec);
                    }
                    // Back before its last connection closed: it never stopped, so it serves
                    // again, with its addresses asked for anew.
                    state @ SlotState::Retiring(_) => {
                        let SlotState::Retiring(live) =
                            std::mem::replace(state, SlotState::Ignored)
                        else {
                            continue;
                        };
                        *state = SlotState::Ready(live);
                        self.requery(idx, exec);
                    }
                    _ => {}
                },
                None => {
                    let idx = self.push(detected.entry);
                    self.init(idx, loader, exec);
                }
            }
        }
        for entry in view.ignored {
            if self.live_slot(entry.guid()).is_none() {
                self.push(entry);
            }
        }
    }

    /// Queries every ready provider's addresses again (ADDR-1).
    pub fn requery_ready(&mut self, exec: &mut Executor<'_>) {
        for idx in 0..self.slots.len() {
            if self.slots[idx].is_ready() {
                self.requery(idx, exec);
            }
        }
    }

    /// Records a new SAN connection (or connect attempt) on `provider`: it must be alive. A
    /// retiring provider still counts the attempts that were under way when it left.
    pub fn connection_opened(&mut self, provider: ProviderId) -> Result<(), SwitchError> {
        let slot = self.slot_mut(provider)?;
        match &mut slot.state {
            SlotState::Ready(live) | SlotState::Retiring(live) => {
                live.connections += 1;
                Ok(())
            }
            _ => Err(SwitchError::NotReady {
                name: slot.name().to_owned(),
                state: slot.state(),
            }),
        }
    }

    /// Records that a SAN connection on `provider` closed; a retiring provider whose last
    /// connection this was is taken down now (HOT-3).
    pub fn connection_closed(
        &mut self,
        provider: ProviderId,
        exec: &mut Executor<'_>,
    ) -> Result<(), SwitchError> {
        let slot = self.slot_mut(provider)?;
        let name = slot.name().to_owned();
        let live = slot
            .live_mut()
            .filter(|l| l.connections > 0)
            .ok_or(SwitchError::NoConnection(name))?;
        live.connections -= 1;
        if live.connections == 0 && slot.state() == ProviderState::Retiring {
            self.take_down(provider.0 as usize, None, exec);
        }
        Ok(())
    }

    /// Takes down every provider that is alive (CLOSE-2).
    pub fn shutdown(&mut self, exec: &mut Executor<'_>) {
        for idx in 0..self.slots.len() {
            if self.slots[idx].live().is_some() {
                self.take_down(idx, None, exec);
            }
        }
    }

    /// What the routing table is built from: every ready provider and its addresses.
    pub fn route_inputs(&self) -> Vec<RouteInput<'_>> {
        self.slots
            .iter()
            .filter_map(|s| match &s.state {
                SlotState::Ready(l) => Some(RouteInput {
                    provider: s.id,
                    addresses: &l.addresses,
                }),
                _ => None,
            })
            .collect()
    }

    /// Drives `machine` on the live provider `p`; `None` when `p` is not alive.
    pub fn drive_on(
        &mut self,
        p: ProviderId,
        machine: &mut dyn ProviderMachine,
        exec: &mut Executor<'_>,
    ) -> Option<Result<usize, Overrun>> {
        let slot = self.slots.get_mut(p.0 as usize)?;
        let callee = Callee {
            id: slot.id,
            name: &slot.name,
        };
        let live = slot::live_of(&mut slot.state)?;
        let driven = exec.drive(callee, live.instance.as_mut(), machine);
        // A panic in a call of a serving provider fails that call (the machine treats it as
        // an error); it is reported with its message, and the provider goes on serving.
        if let Some((call, message)) = exec.journal.last_panic.take() {
            exec.journal.note(Diagnostic::ProviderPanicked {
                provider: slot.name.to_string(),
                call,
                message,
            });
        }
        Some(driven)
    }

    /// Closes a connection's socket on provider `p` and counts the connection closed; a
    /// retiring provider whose last connection this was is taken down (HOT-3).
    pub fn close_socket(&mut self, p: ProviderId, socket: ProviderSocket, exec: &mut Executor<'_>) {
        self.close_only(p, socket, exec);
        let _ = self.connection_closed(p, exec);
    }

    /// Closes a socket of provider `p` (a listening socket, or one of a connection that is
    /// counted elsewhere), through the executor. Nothing to do when `p` is not alive.
    pub fn close_only(&mut self, p: ProviderId, socket: ProviderSocket, exec: &mut Executor<'_>) {
        let Some(slot) = self.slots.get(p.0 as usize) else {
            return;
        };
        let mut close = Teardown::new(slot.name(), Some(socket), false);
        if self.drive_on(p, &mut close, exec).is_some() {
            exec.journal.note_all(close.take_diagnostics());
        }
    }

    /// The alive providers (ready or retiring) that have `extension`, with its entry point.
    pub fn alive_with(&self, extension: SanExtension) -> Vec<(ProviderId, ExtensionHandle)> {
        self.slots
            .iter()
            .filter(|s| s.live().is_some())
            .filter_map(|s| s.extension(extension).map(|h| (s.id, h)))
            .collect()
    }

    /// Whether provider `p` is alive (ready or retiring).
    pub fn is_alive(&self, p: ProviderId) -> bool {
        self.slots
            .get(p.0 as usize)
            .is_some_and(|s| s.live().is_some())
    }

    /// The ready providers that the catalog `view` no longer registers: they are about to
    /// retire.
    pub fn leaving(&self, view: &CatalogView) -> Vec<ProviderId> {
        let san: HashSet<Guid> = view.san.iter().map(|d| d.entry.guid()).collect();
        self.slots
            .iter()
            .filter(|s| s.is_ready() && !san.contains(&s.entry.guid()))
            .map(|s| s.id)
            .collect()
    }

    /// The address of provider `p` to bind a companion socket to for a connect to `dest`: the
    /// provider's address that shares the longest prefix with `dest`, in `dest`'s family.
    pub fn local_address_for(&self, p: ProviderId, dest: IpAddr) -> Option<IpAddr> {
        let live = self.slots.get(p.0 as usize)?.live()?;
        live.addresses
            .iter()
            .filter(|a| a.is_ipv4() == dest.is_ipv4())
            .max_by_key(|a| common_prefix(**a, dest))
            .copied()
    }

    /// Whether provider `p`'s catalog entry promises QoS (`XP1_QOS_SUPPORTED`).
    pub fn takes_qos(&self, p: ProviderId) -> bool {
        self.slots
            .get(p.0 as usize)
            .is_some_and(|s| crate::connection::takes_qos(s.entry.info.service_flags1))
    }

    pub fn ready_ids(&self) -> Vec<ProviderId> {
        self.slots
            .iter()
            .filter(|s| s.is_ready())
            .map(|s| s.id)
            .collect()
    }

    pub fn is_ready(&self, p: ProviderId) -> bool {
        self.slots.get(p.0 as usize).is_some_and(Slot::is_ready)
    }

    pub fn extension(&self, p: ProviderId, extension: SanExtension) -> Option<ExtensionHandle> {
        self.slots.get(p.0 as usize)?.extension(extension)
    }

    pub fn by_guid(&self, guid: Guid) -> Option<ProviderId> {
        self.newest.get(&guid).map(|&i| self.slots[i].id)
    }

    pub fn reports(&self) -> Vec<ProviderReport> {
        self.slots.iter().map(Slot::report).collect()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    fn slot_mut(&mut self, p: ProviderId) -> Result<&mut Slot, SwitchError> {
        self.slots
            .get_mut(p.0 as usize)
            .ok_or(SwitchError::UnknownProvider(p))
    }

    /// The slot of `guid` that is not retired: there is at most one.
    fn live_slot(&self, guid: Guid) -> Option<usize> {
        self.newest
            .get(&guid)
            .copied()
            .filter(|&i| !matches!(self.slots[i].state, SlotState::Retired(_)))
    }

    /// Adds a slot for `entry`, ignored until initialized; answers its index.
    fn push(&mut self, entry: crate::catalog::CatalogEntry) -> usize {
        let idx = self.slots.len();
        self.newest.insert(entry.guid(), idx);
        self.slots.push(Slot {
            id: ProviderId(idx as u32),
            name: entry.name().into(),
            entry,
            state: SlotState::Ignored,
        });
        idx
    }

    /// Loads and initializes the provider of slot `idx` (INIT-2..INIT-4).
    fn init(&mut self, idx: usize, loader: &mut dyn ProviderLoader, exec: &mut Executor<'_>) {
        let slot = &mut self.slots[idx];
        let callee = Callee {
            id: slot.id,
            name: &slot.name,
        };
        let loaded = match guarded(|| loader.load(&slot.entry)) {
            Ok(r) => r.map_err(RejectCause::LoadFailed),
            Err(msg) => Err(RejectCause::Panicked(msg)),
        };
        let mut instance = match loaded {
            Ok(i) => i,
            Err(cause) => {
                let rejection = Rejection {
                    provider: callee.name.to_string(),
                    step: Call::StartupEx,
                    cause,
                };
                slot.state = SlotState::Rejected(Ended {
                    rejection: Some(rejection),
                    ..Ended::default()
                });
                return;
            }
        };
        let mut machine = InitMachine::new(&slot.name, exec.env.width);
        // A machine that overruns its budget is given up on, then its teardown is driven; a
        // teardown that overruns too is given up on for good. Nothing here can loop.
        for _ in 0..2 {
            match exec.drive(callee, instance.as_mut(), &mut machine) {
                Ok(_) => break,
                Err(overrun) => machine.abandon(overrun),
            }
        }
        // A panic during initialization is the rejection's cause (or a teardown diagnostic).
        exec.journal.last_panic = None;
        let outcome = machine.finish();
        exec.journal.note_all(outcome.diagnostics);
        slot.state = match outcome.result {
            Ok(init) => SlotState::Ready(Live::new(instance, init)),
            // A rejected provider was cleaned up (if it had started) and is dropped.
            Err(failure) => SlotState::Rejected(Ended::from_failure(failure)),
        };
    }

    /// HOT-3: a provider that left the catalog is taken down at once when it carries no
    /// connection, and retires when its last one closes otherwise.
    fn retire(&mut self, idx: usize, exec: &mut Executor<'_>) {
        let slot = &mut self.slots[idx];
        let Some(connections) = slot.live().map(|l| l.connections) else {
            return;
        };
        if connections == 0 {
            self.take_down(idx, None, exec);
        } else if let SlotState::Ready(live) =
            std::mem::replace(&mut slot.state, SlotState::Ignored)
        {
            slot.state = SlotState::Retiring(live);
        }
    }

    /// Closes the query socket of a live provider and calls `WSPCleanup` once, through the
    /// executor. With a `rejection` it ends rejected (a panic while serving), otherwise retired.
    fn take_down(&mut self, idx: usize, rejection: Option<Rejection>, exec: &mut Executor<'_>) {
        let slot = &mut self.slots[idx];
        let state = std::mem::replace(&mut slot.state, SlotState::Ignored);
        let mut live = match state {
            SlotState::Ready(l) | SlotState::Retiring(l) => l,
            other => {
                slot.state = other;
                return;
            }
        };
        let callee = Callee {
            id: slot.id,
            name: &slot.name,
        };
        let mut teardown = Teardown::new(&slot.name, Some(live.socket), true);
        if let Err(overrun) = exec.drive(callee, live.instance.as_mut(), &mut teardown) {
            tracing::error!(provider = &*slot.name, %overrun, "provider teardown stopped");
        }
        exec.journal.note_all(teardown.take_diagnostics());
        exec.journal.last_panic = None;
        let rejected = rejection.is_some();
        let mut ended = Ended::from_live(&live, rejection, teardown.cleaned_up());
        if rejected {
            ended.addresses.clear();
            live.addresses.clear();
        }
        slot.state = if rejected {
            SlotState::Rejected(ended)
        } else {
            SlotState::Retired(ended)
        };
    }

    /// Re-queries the addresses of a live provider (ADDR-1). A failure keeps it running with no
    /// address (`address_requery_failed`); a panic rejects it and takes it down.
    fn requery(&mut self, idx: usize, exec: &mut Executor<'_>) {
        let slot = &mut self.slots[idx];
        let callee = Callee {
            id: slot.id,
            name: &slot.name,
        };
        let Some(live) = slot::live_of(&mut slot.state) else {
            return;
        };
        let mut machine = Requery::new(live.socket, exec.env.width);
        let driven = exec.drive(callee, live.instance.as_mut(), &mut machine);
        // A panic here is the re-query's outcome (the provider is rejected below).
        exec.journal.last_panic = None;
        let outcome = match driven {
            Ok(calls) => {
                if machine.query().answered_without_size() {
                    exec.journal.note(Diagnostic::AddressListSizeMissing {
                        provider: callee.name.to_string(),
                    });
                }
                machine
                    .finish()
                    .unwrap_or(Err(RejectCause::SequenceOverrun { calls }))
            }
            Err(overrun) => Err(RejectCause::SequenceOverrun {
                calls: overrun.calls,
            }),
        };
        let name = callee.name.to_string();
        match outcome {
            Ok(list) => live.addresses = list,
            Err(cause @ RejectCause::Panicked(_)) => {
                let rejection = Rejection {
                    provider: name,
                    step: Call::AddressListQuery,
                    cause,
                };
                self.take_down(idx, Some(rejection), exec);
            }
            Err(cause) => {
                live.addresses.clear();
                exec.journal.note(Diagnostic::AddressRequeryFailed {
                    provider: name,
                    cause,
                });
            }
        }
    }
}

/// How many leading bits `a` and `b` share (0 across families).
fn common_prefix(a: IpAddr, b: IpAddr) -> u32 {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
        _ => 0,
    }
}
