//! The catalog: installed protocol entries plus the SAN registration list, and how the switch
//! reads them (INIT-1).

use std::collections::BTreeSet;

use spi_types::{
    AddressFamily, Guid, Protocol, ProtocolInfo, ProviderFlags, SanRegistration, SocketType,
    TCPIP_PROVIDER_GUID,
};

use crate::report::Diagnostic;

/// One installed protocol entry (what `WSCEnumProtocols` returns for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The entry's protocol-info record; `provider_id` is the provider's GUID.
    pub info: ProtocolInfo,
}

impl CatalogEntry {
    /// The provider GUID.
    pub fn guid(&self) -> Guid {
        self.info.provider_id
    }

    /// The entry's name (`szProtocol`).
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Whether the entry carries `PFL_HIDDEN`.
    pub fn is_hidden(&self) -> bool {
        self.info.provider_flags.contains(ProviderFlags::HIDDEN)
    }
}

/// Where the switch reads the catalog from: on Windows `WSCEnumProtocols` and the
/// "TCP on SAN" registry key; in tests and the simulator a mock.
pub trait Catalog {
    /// Every installed protocol entry, hidden ones included, in catalog order.
    fn entries(&self) -> Vec<CatalogEntry>;

    /// The values of the SAN registration list.
    fn san_registrations(&self) -> Vec<SanRegistration>;

    /// A number that changes whenever the entries or the registrations change (on Windows, one
    /// more each time `WSAProviderConfigChange` signals). The switch re-reads the catalog when
    /// it differs from the one it last saw.
    fn generation(&self) -> u64;
}

/// A SAN provider detected in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedProvider {
    /// The first catalog entry with the provider's GUID.
    pub entry: CatalogEntry,
}

/// What one read of the catalog found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogView {
    /// The TCP/IP provider's record, if the catalog has one.
    pub tcpip: Option<ProtocolInfo>,
    /// Registered SAN providers, in catalog order, one per GUID.
    pub san: Vec<DetectedProvider>,
    /// Catalog entries (one per GUID, in catalog order) that are not registered as SAN
    /// providers, the TCP/IP provider's own entries excepted.
    pub ignored: Vec<CatalogEntry>,
    /// What was wrong or noteworthy.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the catalog as INIT-1 says: the TCP/IP provider's record first (the entry with its GUID
/// for AF_INET, SOCK_STREAM, IPPROTO_TCP), then the SAN providers: entries whose GUID is in the
/// registration list.
///
/// Decisions where the documentation is silent:
/// - a provider with several entries (for example one per address family) is one provider,
///   described by its first entry in catalog order;
/// - a registration value that is not 16 bytes is reported (`malformed_registration`) and
///   skipped; one whose GUID has no entry is reported (`registration_without_catalog_entry`)
///   and skipped; the same GUID registered twice counts once;
/// - an entry without `PFL_HIDDEN` is still used and reported (`provider_not_hidden`);
/// - a registration naming the TCP/IP provider's own GUID is reported
///   (`registration_names_tcpip`) and skipped: TCP/IP is never started as a SAN provider.
pub fn read_catalog(catalog: &dyn Catalog) -> CatalogView {
    let entries = catalog.entries();
    let mut view = CatalogView {
        tcpip: entries
            .iter()
            .find(|e| {
                e.guid() == TCPIP_PROVIDER_GUID
                    && e.info.address_family == AddressFamily::INET
                    && e.info.socket_type == SocketType::STREAM
                    && e.info.protocol == Protocol::TCP
            })
            .map(|e| e.info.clone()),
        ..CatalogView::default()
    };

    let mut registered = BTreeSet::new();
    for reg in catalog.san_registrations() {
        match reg.provider_guid() {
            Ok(guid) if guid == TCPIP_PROVIDER_GUID => {
                view.diagnostics
                    .push(Diagnostic::RegistrationNamesTcpip { name: reg.name });
            }
            Ok(guid) => {
                if !entries.iter().any(|e| e.guid() == guid) {
                    view.diagnostics
                        .push(Diagnostic::RegistrationWithoutCatalogEntry {
                            name: reg.name,
                            guid,
                        });
                } else {
                    registered.insert(guid);
                }
            }
            Err(error) => view.diagnostics.push(Diagnostic::MalformedRegistration {
                name: reg.name,
                length: reg.data.len(),
                error,
            }),
        }
    }

    let mut seen = BTreeSet::new();
    for entry in entries {
        let guid = entry.guid();
        if guid == TCPIP_PROVIDER_GUID || !seen.insert(guid) {
            continue;
        }
        if registered.contains(&guid) {
            if !entry.is_hidden() {
                view.diagnostics.push(Diagnostic::ProviderNotHidden {
                    name: entry.name().to_owned(),
                    guid,
                });
            }
            view.san.push(DetectedProvider { entry });
        } else {
            view.ignored.push(entry);
        }
    }
    view
}
