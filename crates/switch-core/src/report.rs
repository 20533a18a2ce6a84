//! What the switch reports: per provider, how far it got and why it stopped; diagnostics about
//! the catalog and the addresses.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use spi_types::{DecodeError, Guid, SanExtension, WinsockVersion, WsaError};

use crate::id::ProviderId;
use crate::routing::RouteDiagnostic;
use crate::trace::Call;

/// Where a provider stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderState {
    /// Initialization is under way (only seen in the middle of a step).
    Initializing,
    /// Every step succeeded; the provider serves its subnets.
    Ready,
    /// A step failed; the provider was dropped (and cleaned up if it had started).
    Rejected,
    /// In the catalog but not registered as a SAN provider: never started.
    Ignored,
    /// Left the catalog; takes no new connections and is cleaned up when its last one closes.
    Retiring,
    /// Left the catalog and was cleaned up.
    Retired,
}

impl ProviderState {
    /// The name used in reports (`"ready"`, `"rejected"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ProviderState::Initializing => "initializing",
            ProviderState::Ready => "ready",
            ProviderState::Rejected => "rejected",
            ProviderState::Ignored => "ignored",
            ProviderState::Retiring => "retiring",
            ProviderState::Retired => "retired",
        }
    }
}

impl fmt::Display for ProviderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a provider was rejected: the step, and what went wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider {provider} rejected at {step}: {cause}")]
pub struct Rejection {
    /// The provider's catalog name.
    pub provider: String,
    /// The call at which it stopped.
    pub step: Call,
    /// What went wrong.
    pub cause: RejectCause,
}

impl Rejection {
    /// The code reports use: a WSA name, or one of the switch's own (`"version_mismatch"`,
    /// `"missing_extension"`, `"address_list_invalid"`, `"provider_panicked"`, ...).
    pub fn code(&self) -> String {
        self.cause.code()
    }
}

/// What went wrong at a provider's step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RejectCause {
    /// The call failed with this error.
    #[error("the call failed with {0}")]
    Wsa(WsaError),
    /// The loader could not make a provider from the catalog entry.
    #[error("the provider could not be loaded: {0}")]
    LoadFailed(WsaError),
    /// `WSPStartupEx` succeeded but answered a version the switch cannot use.
    #[error("it answered version {answered}, the switch needs {required}")]
    VersionMismatch {
        /// What the provider answered in `WSPDATA.wVersion`.
        answered: WinsockVersion,
        /// What the switch needs.
        required: WinsockVersion,
    },
    /// A mandatory extension is missing.
    #[error("mandatory extension {extension} is missing ({reason})")]
    MissingExtension {
        /// The extension.
        extension: SanExtension,
        /// The provider's answer.
        reason: ExtensionFailure,
    },
    /// `WSPStartupEx` left entry points the switch calls empty in the procedure table.
    #[error("it left entry points the switch calls empty: {}", entry_points.join(", "))]
    MissingEntryPoint {
        /// Their names.
        entry_points: Vec<String>,
    },
    /// The address list could not be decoded.
    #[error("its address list is invalid: {0}")]
    AddressListInvalid(DecodeError),
    /// The provider kept answering `WSAEFAULT` to the address-list query.
    #[error(
        "it still asked for a larger address-list buffer after {attempts} attempts (last asked {needed} bytes)"
    )]
    AddressListRetriesExhausted {
        /// Queries made.
        attempts: u32,
        /// The last size asked for.
        needed: usize,
    },
    /// The provider asked for an address-list buffer larger than the switch allows.
    #[error(
        "it asked for an address-list buffer of {needed} bytes, more than the limit of {limit}"
    )]
    AddressListTooLarge {
        /// The size asked for.
        needed: usize,
        /// The switch's limit.
        limit: usize,
    },
    /// The provider answered an address-list query with a byte count larger than the buffer
    /// it was given.
    #[error(
        "it said it wrote {returned} bytes of address list into a buffer of {buffer_len} bytes"
    )]
    AddressListOverreported {
        /// The byte count it returned.
        returned: usize,
        /// The buffer's size.
        buffer_len: usize,
    },
    /// The provider panicked inside the call.
    #[error("the provider panicked: {0}")]
    Panicked(String),
    /// The switch's own sequence for the provider asked for more calls than it can
    /// legitimately make, and was stopped (a defect of the switch, isolated like a provider's).
    #[error("the switch's call sequence overran its budget of {calls} calls and was stopped")]
    SequenceOverrun {
        /// Calls made before it was stopped.
        calls: usize,
    },
}

impl RejectCause {
    /// The code reports use.
    pub fn code(&self) -> String {
        match self {
            RejectCause::Wsa(e) | RejectCause::LoadFailed(e) => wsa_name(*e),
            RejectCause::VersionMismatch { .. } => "version_mismatch".into(),
            RejectCause::MissingExtension { .. } => "missing_extension".into(),
            RejectCause::MissingEntryPoint { .. } => "missing_entry_point".into(),
            RejectCause::AddressListInvalid(_) => "address_list_invalid".into(),
            RejectCause::AddressListRetriesExhausted { .. } => {
                "address_list_retries_exhausted".into()
            }
            RejectCause::AddressListTooLarge { .. } => "address_list_too_large".into(),
            RejectCause::AddressListOverreported { .. } => "address_list_overreported".into(),
            RejectCause::Panicked(_) => "provider_panicked".into(),
            RejectCause::SequenceOverrun { .. } => "sequence_overrun".into(),
        }
    }

    /// The WSA error behind the cause, if there is one.
    pub fn wsa(&self) -> Option<WsaError> {
        match self {
            RejectCause::Wsa(e) | RejectCause::LoadFailed(e) => Some(*e),
            RejectCause::MissingExtension {
                reason: ExtensionFailure::Error(e),
                ..
            } => Some(*e),
            RejectCause::AddressListRetriesExhausted { .. }
            | RejectCause::AddressListTooLarge { .. } => Some(WsaError::WSAEFAULT),
            _ => None,
        }
    }
}

/// A WSA error's name, or its number when it has none.
pub fn wsa_name(e: WsaError) -> String {
    e.name().map_or_else(|| e.code().to_string(), str::to_owned)
}

/// Why an extension is not available.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExtensionFailure {
    /// The provider answered this error.
    #[error("{0}")]
    Error(WsaError),
    /// The provider answered success but wrote a null pointer or fewer bytes than a pointer.
    #[error("no entry point was returned")]
    NoEntryPoint,
}

/// Which extensions a provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtensionSet(u8);

impl ExtensionSet {
    fn bit(e: SanExtension) -> u8 {
        1 << SanExtension::ALL.iter().position(|x| *x == e).unwrap_or(0)
    }

    /// Whether `e` is supported.
    pub fn contains(self, e: SanExtension) -> bool {
        self.0 & Self::bit(e) != 0
    }

    /// Marks `e` supported.
    pub fn insert(&mut self, e: SanExtension) {
        self.0 |= Self::bit(e);
    }

    /// Every extension, with whether it is supported, in [`SanExtension::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = (SanExtension, bool)> {
        SanExtension::ALL
            .into_iter()
            .map(move |e| (e, self.contains(e)))
    }

    /// All seven.
    pub fn all() -> Self {
        ExtensionSet(0x7f)
    }
}

/// Something the switch noticed and reports without stopping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Diagnostic {
    /// A registration value names a GUID with no catalog entry.
    #[error("registration `{name}` names provider {guid}, which has no catalog entry; skipped")]
    RegistrationWithoutCatalogEntry {
        /// The value's name.
        name: String,
        /// The GUID it names.
        guid: Guid,
    },
    /// A registration value is not a 16-byte GUID.
    #[error("registration `{name}` holds {length} bytes, not a 16-byte GUID: {error}; skipped")]
    MalformedRegistration {
        /// The value's name.
        name: String,
        /// Its length.
        length: usize,
        /// What is wrong.
        error: DecodeError,
    },
    /// A registration value names the TCP/IP provider itself.
    #[error(
        "registration `{name}` names the TCP/IP provider, which is never a SAN provider; skipped"
    )]
    RegistrationNamesTcpip {
        /// The value's name.
        name: String,
    },
    /// A SAN provider's catalog entry lacks `PFL_HIDDEN`.
    #[error("catalog entry of SAN provider `{name}` ({guid}) lacks PFL_HIDDEN; used anyway")]
    ProviderNotHidden {
        /// The entry's name.
        name: String,
        /// Its GUID.
        guid: Guid,
    },
    /// The catalog has no TCP/IP entry; the built-in TCP/IP record was used.
    #[error(
        "the catalog has no TCP/IP provider entry; the built-in TCP/IP record was passed to WSPStartupEx"
    )]
    TcpipEntryMissing,
    /// A routing-table finding (duplicate address, subnet conflict, host route).
    #[error("{0}")]
    Route(RouteDiagnostic),
    /// Re-querying a ready provider's addresses failed; it keeps running but serves no subnet
    /// until a later query succeeds.
    #[error(
        "re-querying the addresses of `{provider}` failed ({cause}); it serves no subnet until a later query succeeds"
    )]
    AddressRequeryFailed {
        /// The provider.
        provider: String,
        /// What failed.
        cause: RejectCause,
    },
    /// A provider's `WSPCleanup` failed.
    #[error("WSPCleanup of `{provider}` failed with {error}")]
    CleanupFailed {
        /// The provider.
        provider: String,
        /// The error.
        error: WsaError,
    },
    /// A provider panicked in a call whose failure does not reject it further (closing its
    /// socket or cleaning it up); the panic's message is kept.
    #[error("`{provider}` panicked in {call}: {message}")]
    ProviderPanicked {
        /// The provider.
        provider: String,
        /// The call.
        call: Call,
        /// The panic's message.
        message: String,
    },
    /// A provider answered its address-list query with success and a byte count of 0; the
    /// switch decoded the whole buffer it had offered.
    #[error("`{provider}` returned 0 bytes for its address list; the whole buffer was decoded")]
    AddressListSizeMissing {
        /// The provider.
        provider: String,
    },
    /// A provider's optional extension is not available.
    #[error("`{provider}` does not provide optional extension {extension} ({reason})")]
    OptionalExtensionMissing {
        /// The provider.
        provider: String,
        /// The extension.
        extension: SanExtension,
        /// Its answer.
        reason: ExtensionFailure,
    },
}

/// Which provider a diagnostic is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject<'a> {
    /// None in particular (the catalog, the TCP/IP provider).
    None,
    /// The provider with this catalog name.
    Name(&'a str),
    /// The provider with this id (routing findings; the one a user would look at first: the
    /// later listing of a duplicate, the loser of a conflict).
    Id(ProviderId),
}

impl Diagnostic {
    /// Which provider the diagnostic is about.
    pub fn subject(&self) -> Subject<'_> {
        match self {
            Diagnostic::RegistrationWithoutCatalogEntry { .. }
            | Diagnostic::MalformedRegistration { .. }
            | Diagnostic::RegistrationNamesTcpip { .. }
            | Diagnostic::TcpipEntryMissing => Subject::None,
            Diagnostic::ProviderNotHidden { name, .. } => Subject::Name(name),
            Diagnostic::AddressRequeryFailed { provider, .. }
            | Diagnostic::CleanupFailed { provider, .. }
            | Diagnostic::ProviderPanicked { provider, .. }
            | Diagnostic::AddressListSizeMissing { provider }
            | Diagnostic::OptionalExtensionMissing { provider, .. } => Subject::Name(provider),
            Diagnostic::Route(r) => Subject::Id(match r {
                RouteDiagnostic::HostRoute { provider, .. }
                | RouteDiagnostic::UnusableAddress { provider, .. } => *provider,
                RouteDiagnostic::DuplicateAddress { second, .. } => *second,
                RouteDiagnostic::SubnetConflict { loser, .. } => *loser,
            }),
        }
    }

    /// The report code (`"registration_without_catalog_entry"`, `"malformed_registration"`,
    /// `"provider_not_hidden"`, `"duplicate_address"`, `"subnet_conflict"`, `"host_route"`, and
    /// the switch's own `"registration_names_tcpip"`, `"tcpip_entry_missing"`,
    /// `"address_requery_failed"`, `"cleanup_failed"`, `"provider_panicked"`,
    /// `"address_list_size_missing"`, `"optional_extension_missing"`, `"unusable_address"`).
    pub fn code(&self) -> &'static str {
        match self {
            Diagnostic::RegistrationWithoutCatalogEntry { .. } => {
                "registration_without_catalog_entry"
            }
            Diagnostic::MalformedRegistration { .. } => "malformed_registration",
            Diagnostic::RegistrationNamesTcpip { .. } => "registration_names_tcpip",
            Diagnostic::ProviderNotHidden { .. } => "provider_not_hidden",
            Diagnostic::TcpipEntryMissing => "tcpip_entry_missing",
            Diagnostic::Route(r) => r.code(),
            Diagnostic::AddressRequeryFailed { .. } => "address_requery_failed",
            Diagnostic::CleanupFailed { .. } => "cleanup_failed",
            Diagnostic::ProviderPanicked { .. } => "provider_panicked",
            Diagnostic::AddressListSizeMissing { .. } => "address_list_size_missing",
            Diagnostic::OptionalExtensionMissing { .. } => "optional_extension_missing",
        }
    }
}

/// One provider as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    /// The switch's id (catalog order).
    pub id: ProviderId,
    /// The catalog entry's name.
    pub name: String,
    /// The provider GUID.
    pub guid: Guid,
    /// Where it stands.
    pub state: ProviderState,
    /// Why it was rejected, if it was.
    pub reason: Option<Rejection>,
    /// The version it answered, once started.
    pub version: Option<WinsockVersion>,
    /// The highest version it said it supports, once started.
    pub high_version: Option<WinsockVersion>,
    /// Its description, once started.
    pub description: Option<String>,
    /// The extensions it provides.
    pub extensions: ExtensionSet,
    /// Its NIC addresses.
    pub addresses: Vec<IpAddr>,
    /// SAN connections it carries now.
    pub connections: usize,
    /// Whether `WSPCleanup` has been called.
    pub cleaned_up: bool,
}

/// A route of the table, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteReport {
    /// The subnet.
    pub subnet: IpNet,
    /// The provider serving it.
    pub provider: ProviderId,
}

/// The switch's state after initialization or a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwitchReport {
    /// Every provider the switch has seen, in catalog order (ignored entries included).
    pub providers: Vec<ProviderReport>,
    /// The routing table's routes.
    pub routes: Vec<RouteReport>,
    /// Everything noticed so far, oldest first.
    pub diagnostics: Vec<Diagnostic>,
}

impl SwitchReport {
    /// The provider with this catalog name.
    pub fn provider(&self, name: &str) -> Option<&ProviderReport> {
        self.providers.iter().find(|p| p.name == name)
    }
}
