//! The report `wsd-sim run --format json` prints (`docs/scenario.md`).
//!
//! Every field named in the spec keeps exactly its name (they are *fixed*: scripts rely on
//! them); fields added here are marked "(ours)". Arrays are flat and every element carries
//! its `host`. The runner fills a [`Report`]; this module only defines and serialises it.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole report. `providers`, `routes` and `diagnostics` are the state after the last
/// step (the final state); `steps` holds each step's result at its point.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// (ours) Every host of the scenario, in file order, those without SAN providers included.
    pub hosts: Vec<String>,
    /// Every catalog entry of every host: how far it got.
    pub providers: Vec<ProviderReport>,
    /// The routing tables: subnet → SAN provider, per host.
    pub routes: Vec<Route>,
    /// What the switch noticed but survived.
    pub diagnostics: Vec<Diagnostic>,
    /// The scenario's steps with their results.
    pub steps: Vec<StepReport>,
    /// Every application connection end that was established, both ends of each connection.
    pub connections: Vec<ConnectionReport>,
    /// Every provider call, in order.
    pub trace: Vec<TraceEvent>,
    /// Counts.
    pub summary: Summary,
}

/// One provider (catalog entry) of one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderReport {
    /// The host.
    pub host: String,
    /// The provider's name.
    pub name: String,
    /// The provider GUID, `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}` (as Windows writes it).
    pub guid: String,
    /// Where it stands.
    pub state: ProviderState,
    /// Why it stopped, or null.
    pub reason: Option<ProviderReason>,
    /// The version the switch accepted: `"2.2"`, or null when the provider never answered
    /// one or answered one the switch cannot use (see `answered_version`).
    pub version: Option<String>,
    /// (ours) The version the provider answered in WSPDATA (`"major.minor"`), accepted or
    /// not, or null when its `WSPStartupEx` never succeeded.
    pub answered_version: Option<String>,
    /// Which SAN extensions it provides.
    pub extensions: ExtensionFlags,
    /// Its NIC addresses.
    pub addresses: Vec<String>,
}

/// A provider's state (*fixed* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// `"ready"`: serving.
    Ready,
    /// `"rejected"`: failed a step of initialisation.
    Rejected,
    /// `"ignored"`: a catalog entry not registered as a SAN provider.
    Ignored,
    /// `"retiring"`: left the catalog, connections still open.
    Retiring,
    /// `"retired"`: left the catalog and cleaned up.
    Retired,
}

/// Why a provider stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderReason {
    /// The call, as in `trace[].call`.
    pub step: String,
    /// A WSA name, or a code of the switch's own (`"version_mismatch"`,
    /// `"missing_extension"`, `"address_list_invalid"`, `"provider_panicked"`).
    pub code: String,
    /// A sentence.
    pub detail: String,
}

/// Which SAN extensions a provider provides (*fixed* names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExtensionFlags {
    /// WSPRegisterMemory.
    pub register_memory: bool,
    /// WSPDeregisterMemory.
    pub deregister_memory: bool,
    /// WSPRegisterRdmaMemory.
    pub register_rdma_memory: bool,
    /// WSPDeregisterRdmaMemory.
    pub deregister_rdma_memory: bool,
    /// WSPRdmaWrite.
    pub rdma_write: bool,
    /// WSPRdmaRead.
    pub rdma_read: bool,
    /// WSPMemoryRegistrationCacheCallback.
    pub memory_registration_cache_callback: bool,
}

/// One routing-table entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The host.
    pub host: String,
    /// The subnet, `"10.1.0.0/16"`.
    pub subnet: String,
    /// The SAN provider serving it.
    pub provider: String,
}

/// Something the switch noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The host.
    pub host: String,
    /// The provider concerned, or null.
    pub provider: Option<String>,
    /// What it is: the *fixed* codes `registration_without_catalog_entry`,
    /// `malformed_registration`, `provider_not_hidden`, `duplicate_address`,
    /// `subnet_conflict`, `host_route`, and the switch's own (`optional_extension_missing`,
    /// `cleanup_failed`, `address_requery_failed`, `tcpip_entry_missing`, `unusable_address`).
    pub code: String,
    /// A sentence.
    pub detail: String,
}

/// One step and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The host it ran on.
    pub host: String,
    /// The op (`"connect"`, `"explain"`, …).
    pub op: String,
    /// What it acted on: the destination, the listen address, the provider, the id.
    pub target: String,
    /// `"san:<provider>"`, `"tcp"`, `"error:<WSA name>"` (connect, explain); `"ok"` or
    /// `"error:<…>"` (the others).
    pub result: String,
    /// Why (connect and explain), or null.
    pub reason: Option<StepReason>,
    /// For listen: where it listens (`"tcp"`, `"san:<provider>"`); absent for other ops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<String>>,
    /// For send: how the bytes travelled (`path`, `messages`, `rdma_ops`, at this level in the
    /// JSON); absent for other ops.
    #[serde(flatten)]
    pub send: Option<SendFields>,
    /// (ours) For send and shutdown: what the application at the other end of the connection
    /// read after the step, and whether it was what was sent; absent for other ops, null when
    /// the other end has no application socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<Option<Received>>,
    /// (ours) The step's `expect`, or null.
    pub expected: Option<String>,
    /// (ours) false when `expected` is given and differs from `result`.
    pub ok: bool,
    /// (ours) The line of the step in the scenario file.
    pub line: usize,
}

/// The fields of a send step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendFields {
    /// How the bytes travelled (*fixed* values): `"inline"`, `"rdma_read"`, `"rdma_write"` or
    /// `"tcp"`; null when the send failed.
    pub path: Option<String>,
    /// The control messages the send used (0 on TCP); null when the send failed.
    pub messages: Option<u32>,
    /// The RDMA operations the send used (0 on TCP and inline); null when the send failed.
    pub rdma_ops: Option<u32>,
    /// (ours) How many bytes the application sent (the step's `bytes`).
    pub bytes: u64,
    /// (ours) Whether they were urgent data (the step's `oob`).
    pub oob: bool,
    /// (ours) The connection's `id`.
    pub connection: String,
    /// (ours) The host of the other end, or null when no end of the connection is there.
    pub to: Option<String>,
}

/// (ours) What the application at the other end of a connection read after a send or a
/// shutdown step: everything there was to read (ordinary bytes until `WSAEWOULDBLOCK`, then
/// the urgent byte), each byte checked against what the sender sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// The host of that end.
    pub host: String,
    /// Ordinary bytes read.
    pub bytes: u64,
    /// Urgent bytes read (`MSG_OOB`): 0 or 1.
    pub urgent: u64,
    /// Whether a read answered the end of the stream (0 bytes).
    pub end_of_stream: bool,
    /// Whether every byte read is the byte sent at that place of the stream, none is missing
    /// and none is extra: false means the step's result is `"error:corrupted"`.
    pub intact: bool,
    /// What went wrong, or what else happened (bytes discarded after a shutdown of
    /// receiving), or null.
    pub detail: Option<String>,
}

/// One end of an application connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    /// The host of this end.
    pub host: String,
    /// The connect step's `id`, or a generated `c<n>`; both ends share it.
    pub id: String,
    /// This end's address.
    pub local: String,
    /// The other end's address.
    pub remote: String,
    /// `"san:<provider>"` or `"tcp"`.
    pub via: String,
    /// The connect's reason; for the accepting end, the listener's.
    pub reason: StepReason,
    /// `"open"` or `"closed"`.
    pub state: String,
    /// Bytes this end's application sent (the switch's count, kept after the close).
    pub bytes_sent: u64,
    /// Bytes this end received (the switch's count, kept after the close).
    pub bytes_received: u64,
    /// (ours) The index in `steps` of the connect step that made the connection.
    pub step: usize,
}

/// Why a connect or explain went where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReason {
    /// The reason code.
    pub code: ReasonCode,
    /// The WSA error involved (`san_connect_failed`, `san_connect_fatal`, …), or null.
    pub wsa: Option<String>,
    /// A sentence.
    pub detail: String,
}

/// Reason codes of connect and explain (*fixed*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The destination is in a SAN subnet.
    RouteMatch,
    /// No SAN subnet holds the destination.
    NoRoute,
    /// Datagram, raw and multicast sockets always use TCP/IP.
    SocketKind,
    /// The matching provider is not ready.
    ProviderNotReady,
    /// A recent failure to that destination sends it to TCP.
    NegativeCache,
    /// The companion socket could not be created, bound or configured.
    CompanionSocketFailed,
    /// The SAN connect failed; fell back to TCP.
    SanConnectFailed,
    /// The SAN connect failed with an error TCP would meet too (CONN-4): no fallback.
    SanConnectFatal,
    /// The SAN connect took longer than the SAN deadline; TCP was used.
    SanDeadline,
    /// (ours) The provider was taken down while the SAN connect was under way.
    ProviderGone,
    /// (ours) The SAN connection was established but its session negotiation failed; no
    /// fallback (CONN-5).
    SessionFailed,
}

impl ReasonCode {
    /// The code's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            ReasonCode::RouteMatch => "route_match",
            ReasonCode::NoRoute => "no_route",
            ReasonCode::SocketKind => "socket_kind",
            ReasonCode::ProviderNotReady => "provider_not_ready",
            ReasonCode::NegativeCache => "negative_cache",
            ReasonCode::CompanionSocketFailed => "companion_socket_failed",
            ReasonCode::SanConnectFailed => "san_connect_failed",
            ReasonCode::SanConnectFatal => "san_connect_fatal",
            ReasonCode::SanDeadline => "san_deadline",
            ReasonCode::ProviderGone => "provider_gone",
            ReasonCode::SessionFailed => "session_failed",
        }
    }
}

/// One provider call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// The host.
    pub host: String,
    /// The provider called.
    pub provider: String,
    /// The call, as `switch_core::trace::Call` displays it (*fixed* names).
    pub call: String,
    /// `"ok"`, a WSA name, or `"panic"`.
    pub result: String,
    /// The call's arguments (an object), or null. `WSPStartupEx`: `version` and
    /// `protocol_info`; the address-list query: `buffer_len` and `needed` (the size the
    /// provider asked for with WSAEFAULT, or null); calls with an address: `address`;
    /// `WSPListen`: `backlog`.
    pub args: Option<serde_json::Value>,
    /// (ours) The index in `steps[]` of the step during which the call was made, or null for
    /// the host's initialization.
    pub step: Option<usize>,
}

/// Counts: over all hosts (the *fixed* fields), and per host (`per_host`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Providers per state; every state present, zeros included.
    pub providers: StateCounts,
    /// The steps' counts (`connects`, `reasons`, `explains`, `explain_reasons`, at this
    /// level in the JSON).
    #[serde(flatten)]
    pub steps: StepCounts,
    /// The send steps' counts (`bytes_per_path`, `sends`, at this level in the JSON).
    #[serde(flatten)]
    pub data: DataCounts,
    /// (ours) The same counts for each host, in the order of the report's `hosts`.
    pub per_host: Vec<HostSummary>,
}

/// Send steps per result, and the bytes they moved per path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataCounts {
    /// (ours: the spec names no field) Bytes moved by the send steps that succeeded, per
    /// `path`; every path present, zeros included.
    pub bytes_per_path: PathBytes,
    /// (ours) Send steps per result (`"ok"`, `"error:<WSA name>"`, `"error:corrupted"`).
    pub sends: BTreeMap<String, u32>,
}

impl DataCounts {
    /// Counts one send step of result `result` that moved `bytes` bytes along `path` (none
    /// when it failed).
    pub fn add(&mut self, result: &str, path: Option<&str>, bytes: u64) {
        *self.sends.entry(result.to_owned()).or_default() += 1;
        if result != "ok" {
            return;
        }
        let slot = match path {
            Some("inline") => &mut self.bytes_per_path.inline,
            Some("rdma_read") => &mut self.bytes_per_path.rdma_read,
            Some("rdma_write") => &mut self.bytes_per_path.rdma_write,
            Some("tcp") => &mut self.bytes_per_path.tcp,
            _ => return,
        };
        *slot += bytes;
    }
}

/// Bytes per send path (the *fixed* path names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PathBytes {
    /// Inside the session's control messages.
    pub inline: u64,
    /// By RDMA read (the first part inline).
    pub rdma_read: u64,
    /// By RDMA write (the first part inline).
    pub rdma_write: u64,
    /// Through TCP/IP.
    pub tcp: u64,
}

/// Connect and explain steps per result and per reason code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepCounts {
    /// Connect steps per result (`"tcp"`, `"san:<provider>"`, `"error:<WSA name>"`); empty
    /// while the runner makes no connects. Explain steps are not counted here.
    pub connects: BTreeMap<String, u32>,
    /// Connect steps per reason code.
    pub reasons: BTreeMap<ReasonCode, u32>,
    /// (ours) Explain steps per result (`"tcp"`, `"san:<provider>"`): decisions, not
    /// connections.
    pub explains: BTreeMap<String, u32>,
    /// (ours) Explain steps per reason code.
    pub explain_reasons: BTreeMap<ReasonCode, u32>,
}

impl StepCounts {
    /// Counts one step of result `result` and reason `code`: a connect (`connect`), or an
    /// explain.
    pub fn add(&mut self, connect: bool, result: &str, code: ReasonCode) {
        let (results, reasons) = if connect {
            (&mut self.connects, &mut self.reasons)
        } else {
            (&mut self.explains, &mut self.explain_reasons)
        };
        *results.entry(result.to_owned()).or_default() += 1;
        *reasons.entry(code).or_default() += 1;
    }
}

/// (ours) The counts of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostSummary {
    /// The host.
    pub host: String,
    /// Its providers per state.
    pub providers: StateCounts,
    /// Its steps' counts (flattened, as in [`Summary`]).
    #[serde(flatten)]
    pub steps: StepCounts,
    /// Its send steps' counts (flattened, as in [`Summary`]): the sends made from this host.
    #[serde(flatten)]
    pub data: DataCounts,
}

/// Providers per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// `ready`.
    pub ready: u32,
    /// `rejected`.
    pub rejected: u32,
    /// `ignored`.
    pub ignored: u32,
    /// `retiring`.
    pub retiring: u32,
    /// `retired`.
    pub retired: u32,
}

impl StateCounts {
    /// Adds one provider in `state`.
    pub fn add(&mut self, state: ProviderState) {
        let c = match state {
            ProviderState::Ready => &mut self.ready,
            ProviderState::Rejected => &mut self.rejected,
            ProviderState::Ignored => &mut self.ignored,
            ProviderState::Retiring => &mut self.retiring,
            ProviderState::Retired => &mut self.retired,
        };
        *c += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    fn sample() -> Report {
        let mut summary = Summary::default();
        summary.data.add("ok", Some("inline"), 100);
        summary.data.add("error:WSAENOBUFS", None, 1048576);
        summary.providers.add(ProviderState::Ready);
        summary.providers.add(ProviderState::Rejected);
        summary.steps.add(false, "san:ibal", ReasonCode::RouteMatch);
        Report {
            hosts: vec!["alpha".into(), "beta".into()],
            connections: Vec::new(),
            providers: vec![
                ProviderReport {
                    host: "alpha".into(),
                    name: "ibal".into(),
                    guid: "c5a8f3e2-4b1d-5e6f-9a7b-3c2d1e0f4a5b".into(),
                    state: ProviderState::Ready,
                    reason: None,
                    version: Some("2.2".into()),
                    answered_version: Some("2.2".into()),
                    extensions: ExtensionFlags {
                        register_memory: true,
                        rdma_read: true,
                        ..ExtensionFlags::default()
                    },
                    addresses: vec!["10.1.2.5".into()],
                },
                ProviderReport {
                    host: "alpha".into(),
                    name: "flaky".into(),
                    guid: "00000000-0000-0000-0000-000000000001".into(),
                    state: ProviderState::Rejected,
                    reason: Some(ProviderReason {
                        step: "WSPStartupEx".into(),
                        code: "WSASYSNOTREADY".into(),
                        detail: "startup failed".into(),
                    }),
                    version: None,
                    answered_version: None,
                    extensions: ExtensionFlags::default(),
                    addresses: vec![],
                },
            ],
            routes: vec![Route {
                host: "alpha".into(),
                subnet: "10.1.2.0/24".into(),
                provider: "ibal".into(),
            }],
            diagnostics: vec![Diagnostic {
                host: "alpha".into(),
                provider: None,
                code: "registration_without_catalog_entry".into(),
                detail: "stale".into(),
            }],
            steps: vec![
                StepReport {
                    host: "alpha".into(),
                    op: "explain".into(),
                    target: "10.1.2.9:5000".into(),
                    result: "san:ibal".into(),
                    reason: Some(StepReason {
                        code: ReasonCode::RouteMatch,
                        wsa: None,
                        detail: "10.1.2.0/24".into(),
                    }),
                    listeners: None,
                    send: None,
                    received: None,
                    expected: Some("san:ibal".into()),
                    ok: true,
                    line: 40,
                },
                StepReport {
                    host: "beta".into(),
                    op: "listen".into(),
                    target: "0.0.0.0:5000".into(),
                    result: "ok".into(),
                    reason: None,
                    listeners: Some(vec!["tcp".into(), "san:ibal".into()]),
                    send: None,
                    received: None,
                    expected: None,
                    ok: true,
                    line: 44,
                },
                StepReport {
                    host: "alpha".into(),
                    op: "send".into(),
                    target: "fast: 100 bytes".into(),
                    result: "ok".into(),
                    reason: None,
                    listeners: None,
                    send: Some(SendFields {
                        path: Some("inline".into()),
                        messages: Some(1),
                        rdma_ops: Some(0),
                        bytes: 100,
                        oob: false,
                        connection: "fast".into(),
                        to: Some("beta".into()),
                    }),
                    received: Some(Some(Received {
                        host: "beta".into(),
                        bytes: 100,
                        urgent: 0,
                        end_of_stream: false,
                        intact: true,
                        detail: None,
                    })),
                    expected: None,
                    ok: true,
                    line: 50,
                },
                StepReport {
                    host: "alpha".into(),
                    op: "send".into(),
                    target: "fast: 1048576 bytes".into(),
                    result: "error:WSAENOBUFS".into(),
                    reason: None,
                    listeners: None,
                    send: Some(SendFields {
                        path: None,
                        messages: None,
                        rdma_ops: None,
                        bytes: 1048576,
                        oob: false,
                        connection: "fast".into(),
                        to: Some("beta".into()),
                    }),
                    received: Some(None),
                    expected: None,
                    ok: true,
                    line: 55,
                },
            ],
            trace: vec![TraceEvent {
                host: "alpha".into(),
                provider: "ibal".into(),
                call: "WSPStartupEx".into(),
                result: "ok".into(),
                args: Some(json!({"version": "2.2", "protocol_info": "tcpip"})),
                step: None,
            }],
            summary,
        }
    }

    #[test]
    fn report_serialises_with_the_fixed_field_names() {
        let v = serde_json::to_value(sample()).unwrap_or(Value::Null);
        assert_eq!(
            keys(&v),
            [
                "connections",
                "diagnostics",
                "hosts",
                "providers",
                "routes",
                "steps",
                "summary",
                "trace"
            ]
        );
        let p = &v["providers"][0];
        assert_eq!(
            keys(p),
            [
                "addresses",
                "answered_version",
                "extensions",
                "guid",
                "host",
                "name",
                "reason",
                "state",
                "version"
            ]
        );
        assert_eq!(p["state"], "ready");
        assert_eq!(p["reason"], Value::Null);
        assert_eq!(p["version"], "2.2");
        assert_eq!(
            keys(&p["extensions"]),
            [
                "deregister_memory",
                "deregister_rdma_memory",
                "memory_registration_cache_callback",
                "rdma_read",
                "rdma_write",
                "register_memory",
                "register_rdma_memory"
            ]
        );
        let q = &v["providers"][1];
        assert_eq!(q["state"], "rejected");
        assert_eq!(q["version"], Value::Null);
        assert_eq!(keys(&q["reason"]), ["code", "detail", "step"]);
        assert_eq!(q["reason"]["code"], "WSASYSNOTREADY");
        assert_eq!(keys(&v["routes"][0]), ["host", "provider", "subnet"]);
        assert_eq!(v["routes"][0]["subnet"], "10.1.2.0/24");
        let d = &v["diagnostics"][0];
        assert_eq!(keys(d), ["code", "detail", "host", "provider"]);
        assert_eq!(d["code"], "registration_without_catalog_entry");
        assert_eq!(d["provider"], Value::Null);
        let s = &v["steps"][0];
        for k in ["host", "op", "target", "result", "reason"] {
            assert!(s.get(k).is_some(), "steps[0] lacks {k}");
        }
        assert!(s.get("listeners").is_none());
        // Only send steps have the send fields, only send and shutdown steps `received`.
        for k in ["path", "messages", "rdma_ops", "received"] {
            assert!(s.get(k).is_none(), "an explain step has {k}");
        }
        let send = &v["steps"][2];
        assert_eq!(send["path"], "inline");
        assert_eq!(send["messages"], 1);
        assert_eq!(send["rdma_ops"], 0);
        assert_eq!(
            keys(&send["received"]),
            [
                "bytes",
                "detail",
                "end_of_stream",
                "host",
                "intact",
                "urgent"
            ]
        );
        // A failed send has the fixed fields, null.
        let failed = &v["steps"][3];
        for k in ["path", "messages", "rdma_ops", "received"] {
            assert_eq!(failed.get(k), Some(&Value::Null), "{k}");
        }
        assert_eq!(keys(&s["reason"]), ["code", "detail", "wsa"]);
        assert_eq!(s["reason"]["code"], "route_match");
        assert_eq!(v["steps"][1]["listeners"], json!(["tcp", "san:ibal"]));
        assert_eq!(v["steps"][1]["reason"], Value::Null);
        let t = &v["trace"][0];
        assert_eq!(
            keys(t),
            ["args", "call", "host", "provider", "result", "step"]
        );
        assert_eq!(t["args"]["version"], "2.2");
        let sum = &v["summary"];
        assert_eq!(
            sum["providers"],
            json!({"ready": 1, "rejected": 1, "ignored": 0, "retiring": 0, "retired": 0})
        );
        assert_eq!(
            keys(sum),
            [
                "bytes_per_path",
                "connects",
                "explain_reasons",
                "explains",
                "per_host",
                "providers",
                "reasons",
                "sends"
            ]
        );
        // Every path, zeros included; failed sends move nothing.
        assert_eq!(
            sum["bytes_per_path"],
            json!({"inline": 100, "rdma_read": 0, "rdma_write": 0, "tcp": 0})
        );
        assert_eq!(sum["sends"], json!({"ok": 1, "error:WSAENOBUFS": 1}));
        assert_eq!(sum["connects"], json!({}));
        assert_eq!(sum["reasons"], json!({}));
        assert_eq!(sum["explains"]["san:ibal"], 1);
        assert_eq!(sum["explain_reasons"]["route_match"], 1);
    }

    #[test]
    fn every_fixed_code_serialises_to_its_spec_name() {
        let reasons = [
            ReasonCode::RouteMatch,
            ReasonCode::NoRoute,
            ReasonCode::SocketKind,
            ReasonCode::ProviderNotReady,
            ReasonCode::NegativeCache,
            ReasonCode::CompanionSocketFailed,
            ReasonCode::SanConnectFailed,
            ReasonCode::SanConnectFatal,
            ReasonCode::SanDeadline,
        ];
        for r in reasons {
            assert_eq!(serde_json::to_value(r).ok(), Some(json!(r.name())));
        }
        let states = [
            (ProviderState::Ready, "ready"),
            (ProviderState::Rejected, "rejected"),
            (ProviderState::Ignored, "ignored"),
            (ProviderState::Retiring, "retiring"),
            (ProviderState::Retired, "retired"),
        ];
        for (s, name) in states {
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(name)));
        }
    }
}
