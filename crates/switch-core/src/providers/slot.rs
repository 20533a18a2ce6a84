//! One provider's place in the switch, and its lifecycle as a type: what a provider owns exists
//! only in the states where it is alive.

use std::net::IpAddr;

use spi_types::{SanExtension, WspData};

use crate::catalog::CatalogEntry;
use crate::id::ProviderId;
use crate::provider::{ExtensionHandle, ExtensionHandles, ProviderSocket, SanProvider};
use crate::report::{ExtensionSet, ProviderReport, ProviderState, Rejection};
use crate::startup::{InitFailure, Initialized};

/// A provider that started and serves (or still carries connections): it owns the provider
/// instance, its query socket, its extension entry points and its addresses.
pub(crate) struct Live {
    pub instance: Box<dyn SanProvider>,
    pub socket: ProviderSocket,
    pub data: WspData,
    pub handles: ExtensionHandles,
    pub addresses: Vec<IpAddr>,
    pub connections: usize,
}

impl Live {
    pub fn new(instance: Box<dyn SanProvider>, init: Initialized) -> Self {
        Live {
            instance,
            socket: init.socket,
            data: init.data,
            handles: init.handles,
            addresses: init.addresses,
            connections: 0,
        }
    }
}

/// What is kept of a provider that is no longer alive, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Ended {
    pub data: Option<WspData>,
    pub extensions: ExtensionSet,
    pub addresses: Vec<IpAddr>,
    pub rejection: Option<Rejection>,
    pub cleaned_up: bool,
}

impl Ended {
    pub fn from_failure(f: InitFailure) -> Self {
        Ended {
            data: f.data,
            extensions: f.extensions,
            addresses: f.addresses,
            rejection: Some(f.rejection),
            cleaned_up: f.cleaned_up,
        }
    }

    /// What is kept of `live` after its teardown.
    pub fn from_live(live: &Live, rejection: Option<Rejection>, cleaned_up: bool) -> Self {
        Ended {
            data: Some(live.data.clone()),
            extensions: live.handles.available(),
            addresses: live.addresses.clone(),
            rejection,
            cleaned_up,
        }
    }
}

/// Where a provider stands. Only `Ready` and `Retiring` own a provider instance.
pub(crate) enum SlotState {
    /// In the catalog, not registered as a SAN provider: never loaded.
    Ignored,
    /// Initialization failed, or it failed later; it was cleaned up if it had started.
    Rejected(Ended),
    /// Serves its subnets.
    Ready(Live),
    /// Left the catalog; carries its connections until the last closes.
    Retiring(Live),
    /// Done with: left the catalog (and was cleaned up), or the switch shut down.
    Retired(Ended),
}

/// The live part of a provider in `state`, if it has one (ready or retiring).
pub(crate) fn live_of(state: &mut SlotState) -> Option<&mut Live> {
    match state {
        SlotState::Ready(l) | SlotState::Retiring(l) => Some(l),
        _ => None,
    }
}

/// One provider the switch has seen.
pub(crate) struct Slot {
    pub id: ProviderId,
    /// The catalog entry's name, shared with every trace event of the provider.
    pub name: std::sync::Arc<str>,
    pub entry: CatalogEntry,
    pub state: SlotState,
}

impl Slot {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> ProviderState {
        match self.state {
            SlotState::Ignored => ProviderState::Ignored,
            SlotState::Rejected(_) => ProviderState::Rejected,
            SlotState::Ready(_) => ProviderState::Ready,
            SlotState::Retiring(_) => ProviderState::Retiring,
            SlotState::Retired(_) => ProviderState::Retired,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.state, SlotState::Ready(_))
    }

    /// The provider's live part, if it has one (ready or retiring).
    pub fn live(&self) -> Option<&Live> {
        match &self.state {
            SlotState::Ready(l) | SlotState::Retiring(l) => Some(l),
            _ => None,
        }
    }

    pub fn live_mut(&mut self) -> Option<&mut Live> {
        live_of(&mut self.state)
    }

    pub fn extension(&self, extension: SanExtension) -> Option<ExtensionHandle> {
        self.live()?.handles.get(extension)
    }

    pub fn report(&self) -> ProviderReport {
        let base = ProviderReport {
            id: self.id,
            name: self.name().to_owned(),
            guid: self.entry.guid(),
            state: self.state(),
            reason: None,
            version: None,
            high_version: None,
            description: None,
            extensions: ExtensionSet::default(),
            addresses: Vec::new(),
            connections: 0,
            cleaned_up: false,
        };
        match &self.state {
            SlotState::Ignored => base,
            SlotState::Ready(l) | SlotState::Retiring(l) => ProviderReport {
                version: Some(l.data.version),
                high_version: Some(l.data.high_version),
                description: Some(l.data.description.clone()),
                extensions: l.handles.available(),
                addresses: l.addresses.clone(),
                connections: l.connections,
                ..base
            },
            SlotState::Rejected(e) | SlotState::Retired(e) => ProviderReport {
                reason: e.rejection.clone(),
                version: e.data.as_ref().map(|d| d.version),
                high_version: e.data.as_ref().map(|d| d.high_version),
                description: e.data.as_ref().map(|d| d.description.clone()),
                extensions: e.extensions,
                addresses: e.addresses.clone(),
                cleaned_up: e.cleaned_up,
                ..base
            },
        }
    }
}
