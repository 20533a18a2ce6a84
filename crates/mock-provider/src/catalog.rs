//! A mock catalog and a loader that makes mock providers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use spi_types::address_list::PointerWidth;
use spi_types::{Guid, ProtocolInfo, ProviderFlags, SanRegistration, WsaError};
use switch_core::catalog::{Catalog, CatalogEntry};
use switch_core::provider::{ProviderLoader, SanProvider};

use crate::config::MockConfig;
use crate::fabric::{Fabric, FabricError};
use crate::provider::{CallLog, MockProvider, SharedConfig};

/// A catalog held in memory. Every change moves its generation on, as
/// `WSAProviderConfigChange` would signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockCatalog {
    entries: Vec<CatalogEntry>,
    registrations: Vec<SanRegistration>,
    generation: u64,
}

impl MockCatalog {
    /// A catalog with the TCP/IP provider's entry (catalog entry id 1001), as every Windows
    /// host has.
    pub fn with_tcpip() -> Self {
        MockCatalog {
            entries: vec![CatalogEntry {
                info: ProtocolInfo::tcpip(1001),
            }],
            registrations: Vec::new(),
            generation: 1,
        }
    }

    /// An empty catalog (not even TCP/IP).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Installs a SAN provider's entry (hidden or not) and, if `registered`, its registration
    /// value.
    pub fn install(&mut self, name: &str, guid: Guid, hidden: bool, registered: bool) -> &mut Self {
        let mut info = ProtocolInfo::san_provider(guid, name);
        info.catalog_entry_id = 1001 + self.entries.len() as u32;
        if !hidden {
            info.provider_flags.remove(ProviderFlags::HIDDEN);
        }
        self.entries.push(CatalogEntry { info });
        if registered {
            self.registrations.push(SanRegistration::new(name, guid));
        }
        self.generation += 1;
        self
    }

    /// Installs the provider a configuration describes: hidden and registered.
    pub fn install_mock(&mut self, config: &MockConfig) -> &mut Self {
        self.install(&config.name, config.guid, true, true)
    }

    /// Adds an entry as it is.
    pub fn add_entry(&mut self, entry: CatalogEntry) -> &mut Self {
        self.entries.push(entry);
        self.generation += 1;
        self
    }

    /// Adds a registration value with any data (malformed ones included).
    pub fn add_registration(&mut self, name: &str, data: Vec<u8>) -> &mut Self {
        self.registrations.push(SanRegistration {
            name: name.to_owned(),
            data,
        });
        self.generation += 1;
        self
    }

    /// Removes a provider's entries and its registration values.
    pub fn remove(&mut self, guid: Guid) -> &mut Self {
        self.entries.retain(|e| e.guid() != guid);
        self.registrations
            .retain(|r| r.provider_guid().ok() != Some(guid));
        self.generation += 1;
        self
    }
}

impl Catalog for MockCatalog {
    fn entries(&self) -> Vec<CatalogEntry> {
        self.entries.clone()
    }

    fn san_registrations(&self) -> Vec<SanRegistration> {
        self.registrations.clone()
    }

    fn generation(&self) -> u64 {
        self.generation
    }
}

/// Makes mock providers for catalog entries, by GUID, all logging into one [`CallLog`]. The
/// configurations stay shared with the loader, so a test can change a provider the switch
/// already holds (for example its addresses, before an address change).
///
/// Attached to a host of a [`Fabric`] ([`attach`](Self::attach)), every provider it makes is
/// attached to that host, and the addresses of every configuration it holds belong to the
/// host (loaded or not: the NIC is there).
#[derive(Debug, Default)]
pub struct MockLoader {
    configs: BTreeMap<Guid, SharedConfig>,
    log: CallLog,
    width: PointerWidth,
    load_errors: BTreeMap<Guid, WsaError>,
    fabric: Option<(Fabric, usize)>,
}

impl MockLoader {
    /// A loader with no provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the provider `config` describes.
    pub fn add(&mut self, config: MockConfig) -> &mut Self {
        let guid = config.guid;
        let shared = Arc::new(Mutex::new(config));
        if let Some((fabric, host)) = &self.fabric {
            // The host was checked when the loader was attached.
            fabric.add_host_config(*host, &shared).ok();
        }
        self.configs.insert(guid, shared);
        self
    }

    /// Attaches the loader to `host` of `fabric`: the providers it holds and will hold belong
    /// to the host, and every provider it makes from now on is attached to it (see
    /// [`MockProvider::attach`]). A loader is attached once.
    pub fn attach(&mut self, fabric: &Fabric, host: usize) -> Result<&mut Self, FabricError> {
        if self.fabric.is_some() {
            return Err(FabricError::AlreadyAttached);
        }
        fabric.check_host(host)?;
        for config in self.configs.values() {
            fabric.add_host_config(host, config)?;
        }
        self.fabric = Some((fabric.clone(), host));
        Ok(self)
    }

    /// The fabric and host it is attached to, if any.
    pub fn attachment(&self) -> Option<(&Fabric, usize)> {
        self.fabric.as_ref().map(|(f, h)| (f, *h))
    }

    /// Makes loading `guid` fail with `error` (a DLL that cannot be loaded).
    pub fn fail_load(&mut self, guid: Guid, error: WsaError) -> &mut Self {
        self.load_errors.insert(guid, error);
        self
    }

    /// Makes the mocks write 32-bit layouts.
    pub fn set_pointer_width(&mut self, width: PointerWidth) -> &mut Self {
        self.width = width;
        self
    }

    /// The log every mock writes to.
    pub fn log(&self) -> &CallLog {
        &self.log
    }

    /// The shared configuration of `guid`.
    pub fn config(&self, guid: Guid) -> Option<SharedConfig> {
        self.configs.get(&guid).cloned()
    }

    /// Changes the addresses of `guid`'s provider; answers whether it exists.
    pub fn set_addresses(&self, guid: Guid, addresses: Vec<IpAddr>) -> bool {
        match self.configs.get(&guid) {
            Some(c) => {
                c.lock().unwrap_or_else(|p| p.into_inner()).addresses = addresses;
                true
            }
            None => false,
        }
    }
}

impl ProviderLoader for MockLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        let guid = entry.guid();
        if let Some(e) = self.load_errors.get(&guid) {
            return Err(*e);
        }
        let config = self
            .configs
            .get(&guid)
            .cloned()
            .ok_or(WsaError::WSAEPROVIDERFAILEDINIT)?;
        let mut mock = MockProvider::shared(config, self.log.clone(), self.width);
        if let Some((fabric, host)) = &self.fabric {
            mock.attach(fabric, *host)
                .map_err(|_| WsaError::WSAEPROVIDERFAILEDINIT)?;
        }
        Ok(Box::new(mock))
    }
}
