//! The scenario parser: TOML text → spanned TOML tree (`toml::de::DeTable`) → [`Scenario`],
//! collecting every error with its key and line instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use mock_provider::guid_for_name;
use spi_types::WinsockVersion;
use switch_core::SocketKind;
use toml::de::{DeTable, DeValue};

use super::error::{ErrorKind, ScenarioError, ScenarioErrors};
use super::model::{
    Action, AddressChange, ConnectResult, Host, ListenResult, MAX_SEND_BYTES, MIN_RDMA_SIZE, Op,
    ProviderSpec, RawAddressList, Registration, RegistrationValue, Scenario, Step, SwitchSettings,
};
use super::values::{
    AddressListFault, BindAddr, ExtensionAnswers, Outcome, Profile, ShutdownHow, check_name,
    parse_address_fault, parse_base, parse_call, parse_extension, parse_guid, parse_hex,
    parse_interface, parse_ip, parse_socket_addr, parse_socket_kind, parse_version, parse_wsa,
    truncate,
};

/// The keys of the top level.
pub(crate) const ROOT_KEYS: &[&str] = &["host", "step"];
/// The keys of a `[[host]]`.
pub(crate) const HOST_KEYS: &[&str] = &["name", "interfaces", "provider", "registration", "switch"];
/// The keys of a `[host.switch]`.
pub(crate) const SWITCH_KEYS: &[&str] =
    &["negative_cache_ms", "san_deadline_ms", "receive_buffers"];
/// The keys of a `[[host.provider]]`.
pub(crate) const PROVIDER_KEYS: &[&str] = &[
    "name",
    "guid",
    "registered",
    "hidden",
    "installed",
    "profile",
    "fabric",
    "startup",
    "version",
    "description",
    "socket",
    "addresses",
    "address_list_fault",
    "address_list_raw",
    "extensions",
    "panic_at",
    "cleanup",
    "connect_errors",
    "connect_delay_ms",
    "max_msg_size",
    "max_rdma_size",
    "rdma_threshold",
    "register_memory",
    "register_rdma_memory",
    "library",
];
/// The provider keys that describe the mock's behaviour: errors beside `library`.
pub(crate) const MOCK_KEYS: &[&str] = &[
    "profile",
    "startup",
    "version",
    "description",
    "socket",
    "addresses",
    "address_list_fault",
    "address_list_raw",
    "extensions",
    "panic_at",
    "cleanup",
    "connect_errors",
    "connect_delay_ms",
    "max_msg_size",
    "max_rdma_size",
    "rdma_threshold",
    "register_memory",
    "register_rdma_memory",
];
/// The keys of a `[[host.registration]]`.
pub(crate) const REGISTRATION_KEYS: &[&str] = &["name", "guid", "hex"];
/// The keys of `address_list_raw`.
pub(crate) const RAW_KEYS: &[&str] = &["base", "hex"];
/// The keys of a `[[step]]`, all ops together.
pub(crate) const STEP_KEYS: &[&str] = &[
    "op",
    "host",
    "to",
    "from",
    "kind",
    "address",
    "backlog",
    "accept",
    "provider",
    "addresses",
    "interfaces",
    "id",
    "expect",
    "bytes",
    "oob",
    "how",
    "ms",
];

/// Which step ops [`parse_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ops {
    /// Only the ops the runner supports ([`Op::is_supported`]): a step of another op is an
    /// [`ErrorKind::UnsupportedOp`] error on its `op` key. What `check` and `run` accept, so
    /// that a file `check` passes is a file `run` runs.
    Supported,
    /// Every op of the file format, each step fully validated. What `explain` reads: it skips
    /// the steps the runner does not support.
    All,
}

/// Parses and validates a scenario for the runner: [`parse_with`] with [`Ops::Supported`].
/// On failure, every error found, sorted by line.
pub fn parse(src: &str) -> Result<Scenario, ScenarioErrors> {
    parse_with(src, Ops::Supported)
}

/// Parses and validates a scenario, accepting the step ops `ops` says. On failure, every
/// error found, sorted by line. A relative `library` path is taken from the current
/// directory: [`parse_in`] with an empty directory.
pub fn parse_with(src: &str, ops: Ops) -> Result<Scenario, ScenarioErrors> {
    parse_in(src, ops, Path::new(""))
}

/// Parses and validates the scenario of a file in directory `dir` (the empty path for the
/// current directory), accepting the step ops `ops` says: a relative `library` path is joined
/// to `dir`, and the file it names must be there (a regular file; it is not opened). On
/// failure, every error found, sorted by line.
pub fn parse_in(src: &str, ops: Ops, dir: &Path) -> Result<Scenario, ScenarioErrors> {
    let mut p = Parser {
        src,
        ops,
        dir,
        libraries: Vec::new(),
        line_starts: line_starts(src),
        errors: Vec::new(),
    };
    let scenario = p.document();
    match scenario {
        Some(s) if p.errors.is_empty() => Ok(s),
        _ => {
            let mut errors = p.errors;
            errors.sort_by_key(|e| e.line);
            Err(ScenarioErrors(errors))
        }
    }
}

/// A table with its path (for error keys) and its span (for missing-key errors).
struct Table<'t, 'i> {
    t: &'t DeTable<'i>,
    path: String,
    span: Range<usize>,
}

/// A value found under a key.
struct Item<'t, 'i> {
    key: String,
    span: Range<usize>,
    value: &'t DeValue<'i>,
}

impl<'t, 'i> Table<'t, 'i> {
    fn item(&self, key: &str) -> Option<Item<'t, 'i>> {
        self.t.get(key).map(|v| Item {
            key: join(&self.path, key),
            span: v.span(),
            value: v.get_ref(),
        })
    }

    fn has(&self, key: &str) -> bool {
        self.t.contains_key(key)
    }

    fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

/// `path.key`, quoting a key that is not a bare TOML key.
fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

struct Parser<'s> {
    src: &'s str,
    /// Which step ops are accepted.
    ops: Ops,
    /// The directory relative `library` paths are joined to.
    dir: &'s Path,
    /// The `library` files met so far: (file identity, entry key path, line of `library`).
    libraries: Vec<(PathBuf, String, usize)>,
    /// The byte offset at which each line starts (0 first), for [`Parser::line`].
    line_starts: Vec<usize>,
    errors: Vec<ScenarioError>,
}

/// The byte offset of the start of every line of `src`: 0, and one past each `\n`.
fn line_starts(src: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

impl Parser<'_> {
    /// The line (from 1) of byte `offset`: a binary search of the line starts.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    fn error(&mut self, span: &Range<usize>, key: String, kind: ErrorKind) {
        let line = self.line(span.start);
        self.errors.push(ScenarioError { line, key, kind });
    }

    fn document(&mut self) -> Option<Scenario> {
        let src = self.src;
        let parsed = std::panic::catch_unwind(|| DeTable::parse_recoverable(src));
        let (root, syntax) = match parsed {
            Ok(r) => r,
            Err(_) => {
                self.errors.push(ScenarioError {
                    line: 1,
                    key: String::new(),
                    kind: ErrorKind::Syntax("the TOML parser failed on this text".to_owned()),
                });
                return None;
            }
        };
        if !syntax.is_empty() {
            for e in syntax {
                let line = e.span().map_or(1, |s| self.line(s.start));
                self.errors.push(ScenarioError {
                    line,
                    key: String::new(),
                    kind: ErrorKind::Syntax(e.message().trim().to_owned()),
                });
            }
            return None;
        }
        let root = Table {
            t: root.get_ref(),
            path: String::new(),
            span: root.span(),
        };
        self.unknown_keys(&root, ROOT_KEYS);

        let mut hosts: Vec<Host> = Vec::new();
        match root.item("host") {
            Some(it) => {
                for tab in self.tables(&it) {
                    let h = self.host(&tab);
                    if let Some(first) = hosts
                        .iter()
                        .find(|q| !h.name.is_empty() && q.name == h.name)
                    {
                        let kind = ErrorKind::DuplicateHost {
                            name: h.name.clone(),
                            first_line: first.line,
                        };
                        self.error(&name_span(&tab), tab.key("name"), kind);
                    }
                    hosts.push(h);
                }
                if hosts.is_empty() && self.errors.is_empty() {
                    self.error(&it.span, it.key, ErrorKind::NoHosts);
                }
            }
            None => self.error(&root.span, "host".to_owned(), ErrorKind::NoHosts),
        }

        let mut steps = Vec::new();
        if let Some(it) = root.item("step") {
            let mut ids: HashMap<String, IdDef> = HashMap::new();
            for tab in self.tables(&it) {
                if let Some(s) = self.step(&tab, &hosts, &mut ids) {
                    steps.push(s);
                }
            }
        }
        Some(Scenario { hosts, steps })
    }

    fn unknown_keys(&mut self, tab: &Table<'_, '_>, allowed: &[&str]) {
        for (k, _) in tab.t.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                self.error(
                    &k.span(),
                    join(&tab.path, name),
                    ErrorKind::UnknownKey {
                        expected: allowed.join(", "),
                    },
                );
            }
        }
    }

    fn wrong_type(&mut self, it: &Item<'_, '_>, expected: &'static str) {
        self.error(
            &it.span,
            it.key.clone(),
            ErrorKind::WrongType {
                expected,
                found: it.value.type_str(),
            },
        );
    }

    /// The tables of an array of tables (`[[x]]` or `x = [{…}]`), with paths `x[i]`.
    fn tables<'t, 'i>(&mut self, it: &Item<'t, 'i>) -> Vec<Table<'t, 'i>> {
        let Some(arr) = it.value.as_array() else {
            self.wrong_type(it, "an array of tables ([[…]])");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, v) in arr.iter().enumerate() {
            let key = format!("{}[{i}]", it.key);
            match v.get_ref().as_table() {
                Some(t) => out.push(Table {
                    t,
                    path: key,
                    span: v.span(),
                }),
                None => self.error(
                    &v.span(),
                    key,
                    ErrorKind::WrongType {
                        expected: "a table",
                        found: v.get_ref().type_str(),
                    },
                ),
            }
        }
        out
    }

    fn string<'t>(&mut self, it: &Item<'t, '_>) -> Option<&'t str> {
        let s = it.value.as_str();
        if s.is_none() {
            self.wrong_type(it, "a string");
        }
        s
    }

    /// A name: a non-empty string without control characters ([`check_name`]).
    fn nonempty_string(&mut self, it: &Item<'_, '_>) -> Option<String> {
        let s = self.string(it)?;
        if s.is_empty() {
            self.error(&it.span, it.key.clone(), ErrorKind::Empty);
            return None;
        }
        if let Err(kind) = check_name(s) {
            self.error(&it.span, it.key.clone(), kind);
            return None;
        }
        Some(s.to_owned())
    }

    /// The text of `span` as written in the file, shortened for messages.
    fn source_text(&self, span: &Range<usize>) -> String {
        truncate(self.src.get(span.clone()).unwrap_or_default())
    }

    /// Whether the key whose span is `span` is followed by a `.` in the file: a dotted key
    /// (`a.b = 1`), which TOML reads as nested tables.
    fn dotted_after(&self, span: &Range<usize>) -> bool {
        self.src
            .get(span.end..)
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('.'))
    }

    fn boolean(&mut self, it: &Item<'_, '_>) -> Option<bool> {
        let b = it.value.as_bool();
        if b.is_none() {
            self.wrong_type(it, "a boolean");
        }
        b
    }

    fn integer(&mut self, it: &Item<'_, '_>) -> Option<i64> {
        let Some(i) = it.value.as_integer() else {
            self.wrong_type(it, "an integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    &it.span,
                    it.key.clone(),
                    ErrorKind::OutOfRange {
                        value: i.to_string(),
                        range: "a 64-bit integer",
                    },
                );
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        it: &Item<'_, '_>,
        f: impl FnOnce(&str) -> Result<T, ErrorKind>,
    ) -> Option<T> {
        let s = self.string(it)?;
        match f(s) {
            Ok(v) => Some(v),
            Err(kind) => {
                self.error(&it.span, it.key.clone(), kind);
                None
            }
        }
    }

    /// An array of strings, each parsed by `f`; bad elements are reported and left out.
    fn list<T>(
        &mut self,
        it: &Item<'_, '_>,
        f: impl Fn(&str) -> Result<T, ErrorKind>,
    ) -> Option<Vec<T>> {
        let Some(arr) = it.value.as_array() else {
            self.wrong_type(it, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(arr.len());
        for (i, v) in arr.iter().enumerate() {
            let el = Item {
                key: format!("{}[{i}]", it.key),
                span: v.span(),
                value: v.get_ref(),
            };
            if let Some(x) = self.parsed(&el, &f) {
                out.push(x);
            }
        }
        Some(out)
    }

    fn get_parsed<T>(
        &mut self,
        tab: &Table<'_, '_>,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, ErrorKind>,
    ) -> Option<T> {
        let it = tab.item(key)?;
        self.parsed(&it, f)
    }

    fn get_bool(&mut self, tab: &Table<'_, '_>, key: &str) -> Option<bool> {
        let it = tab.item(key)?;
        self.boolean(&it)
    }

    fn get_list<T>(
        &mut self,
        tab: &Table<'_, '_>,
        key: &str,
        f: impl Fn(&str) -> Result<T, ErrorKind>,
    ) -> Option<Vec<T>> {
        let it = tab.item(key)?;
        self.list(&it, f)
    }

    fn get_name(&mut self, tab: &Table<'_, '_>, key: &str) -> Option<String> {
        let it = tab.item(key)?;
        self.nonempty_string(&it)
    }

    /// A required non-empty string; reports a missing key at the table's header.
    fn required_name(&mut self, tab: &Table<'_, '_>, key: &str) -> Option<String> {
        if !tab.has(key) {
            self.error(&tab.span, tab.key(key), ErrorKind::Missing);
            return None;
        }
        self.get_name(tab, key)
    }

    fn host(&mut self, tab: &Table<'_, '_>) -> Host {
        self.unknown_keys(tab, HOST_KEYS);
        let name = self.required_name(tab, "name").unwrap_or_default();
        let interfaces = self
            .get_list(tab, "interfaces", parse_interface)
            .unwrap_or_default();
        let mut providers: Vec<ProviderSpec> = Vec::new();
        if let Some(it) = tab.item("provider") {
            for ptab in self.tables(&it) {
                let Some(p) = self.provider(&ptab) else {
                    continue;
                };
                if let Some(first) = providers.iter().find(|q| q.name == p.name) {
                    let kind = ErrorKind::DuplicateProvider {
                        name: p.name.clone(),
                        first_line: first.line,
                    };
                    self.error(&name_span(&ptab), ptab.key("name"), kind);
                } else if let Some(first) = providers.iter().find(|q| q.guid == p.guid) {
                    let kind = ErrorKind::DuplicateGuid {
                        guid: p.guid.to_string(),
                        other: first.name.clone(),
                        first_line: first.line,
                    };
                    let span = ptab.item("guid").map_or(ptab.span.clone(), |i| i.span);
                    self.error(&span, ptab.key("guid"), kind);
                }
                providers.push(p);
            }
        }
        let mut registrations: Vec<Registration> = Vec::new();
        if let Some(it) = tab.item("registration") {
            for rtab in self.tables(&it) {
                let Some(r) = self.registration(&rtab) else {
                    continue;
                };
                if let Some(first) = registrations.iter().find(|q| q.name == r.name) {
                    let kind = ErrorKind::DuplicateRegistration {
                        name: r.name.clone(),
                        first_line: first.line,
                    };
                    self.error(&name_span(&rtab), rtab.key("name"), kind);
                }
                registrations.push(r);
            }
        }
        let switch = tab
            .item("switch")
            .map(|it| self.switch_settings(&it))
            .unwrap_or_default();
        Host {
            name,
            interfaces,
            providers,
            registrations,
            switch,
            line: self.line(tab.span.start),
        }
    }

    /// An optional non-negative integer key, at most `max`.
    fn get_u64(
        &mut self,
        tab: &Table<'_, '_>,
        key: &str,
        max: u64,
        range: &'static str,
    ) -> Option<u64> {
        self.get_u64_in(tab, key, 0, max, range)
    }

    /// An optional integer key from `min` to `max`.
    fn get_u64_in(
        &mut self,
        tab: &Table<'_, '_>,
        key: &str,
        min: u64,
        max: u64,
        range: &'static str,
    ) -> Option<u64> {
        let it = tab.item(key)?;
        let v = self.integer(&it)?;
        match u64::try_from(v) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    &it.span,
                    it.key.clone(),
                    ErrorKind::OutOfRange {
                        value: v.to_string(),
                        range,
                    },
                );
                None
            }
        }
    }

    fn switch_settings(&mut self, it: &Item<'_, '_>) -> SwitchSettings {
        let Some(t) = it.value.as_table() else {
            self.wrong_type(it, "a table [host.switch]");
            return SwitchSettings::default();
        };
        let tab = Table {
            t,
            path: it.key.clone(),
            span: it.span.clone(),
        };
        self.unknown_keys(&tab, SWITCH_KEYS);
        const DAY: u64 = 86_400_000;
        SwitchSettings {
            negative_cache_ms: self
                .get_u64(&tab, "negative_cache_ms", DAY, "0 to 86400000 (a day)")
                .unwrap_or(0),
            san_deadline_ms: self
                .get_u64(&tab, "san_deadline_ms", DAY, "0 to 86400000 (a day)")
                .unwrap_or(0),
            receive_buffers: self
                .get_u64(&tab, "receive_buffers", 4096, "1 to 4096")
                .filter(|n| *n > 0)
                .map(|n| n as u32),
        }
    }

    fn provider(&mut self, tab: &Table<'_, '_>) -> Option<ProviderSpec> {
        self.unknown_keys(tab, PROVIDER_KEYS);
        let name = self.required_name(tab, "name");
        let guid = self.get_parsed(tab, "guid", parse_guid);
        let registered = self.get_bool(tab, "registered").unwrap_or(true);
        let hidden = self.get_bool(tab, "hidden").unwrap_or(true);
        let installed = self.get_bool(tab, "installed").unwrap_or(true);
        let profile = self
            .get_parsed(tab, "profile", str::parse::<Profile>)
            .unwrap_or_default();
        let fabric = self
            .get_name(tab, "fabric")
            .unwrap_or_else(|| "san0".to_owned());
        let startup = self
            .get_parsed(tab, "startup", Outcome::parse)
            .unwrap_or(Outcome::Ok);
        let version = self
            .get_parsed(tab, "version", parse_version)
            .unwrap_or(WinsockVersion::V2_2);
        let description = self.get_parsed(tab, "description", |s| Ok(s.to_owned()));
        let socket = self
            .get_parsed(tab, "socket", Outcome::parse)
            .unwrap_or(Outcome::Ok);
        let addresses = self
            .get_list(tab, "addresses", parse_ip)
            .unwrap_or_default();
        let address_list_fault = self
            .get_parsed(tab, "address_list_fault", parse_address_fault)
            .unwrap_or(AddressListFault::None);
        let address_list_raw = tab.item("address_list_raw").and_then(|it| self.raw(&it));
        if address_list_raw.is_some()
            && address_list_fault != AddressListFault::None
            && let Some(it) = tab.item("address_list_fault")
        {
            self.error(&it.span, it.key, ErrorKind::RawWithFault);
        }
        let extensions = tab
            .item("extensions")
            .map(|it| self.extensions(&it))
            .unwrap_or_default();
        let panic_at = self.get_parsed(tab, "panic_at", parse_call);
        let cleanup = self
            .get_parsed(tab, "cleanup", Outcome::parse)
            .unwrap_or(Outcome::Ok);
        let connect_errors = tab
            .item("connect_errors")
            .map(|it| self.connect_errors(&it))
            .unwrap_or_default();
        let connect_delay_ms = self
            .get_u64(tab, "connect_delay_ms", 86_400_000, "0 to 86400000 (a day)")
            .unwrap_or(0);
        // The socket options the session asks for (SESS-3); defaults as mock-provider's.
        let mut size = |key: &str, min: u64, range: &'static str, default: u32| {
            self.get_u64_in(tab, key, min, u64::from(u32::MAX), range)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(default)
        };
        let max_msg_size = size("max_msg_size", 0, "0 to 4294967295", 65536);
        let max_rdma_size = size(
            "max_rdma_size",
            MIN_RDMA_SIZE.into(),
            "1024 to 4294967295",
            1_048_576,
        );
        let rdma_threshold = size("rdma_threshold", 0, "0 to 4294967295", 8192);
        let register_memory = self
            .get_parsed(tab, "register_memory", Outcome::parse)
            .unwrap_or(Outcome::Ok);
        let register_rdma_memory = self
            .get_parsed(tab, "register_rdma_memory", Outcome::parse)
            .unwrap_or(Outcome::Ok);
        let library = self.library(tab);
        let name = name?;
        Some(ProviderSpec {
            guid: guid.unwrap_or_else(|| guid_for_name(&name)),
            name,
            registered,
            hidden,
            installed,
            profile,
            fabric,
            startup,
            version,
            description,
            socket,
            addresses,
            address_list_fault,
            address_list_raw,
            extensions,
            panic_at,
            cleanup,
            connect_errors,
            connect_delay_ms,
            max_msg_size,
            max_rdma_size,
            rdma_threshold,
            register_memory,
            register_rdma_memory,
            library,
            line: self.line(tab.span.start),
        })
    }

    /// `library`: the file, resolved against the scenario's directory and checked to be a
    /// regular file, used by no other entry; every mock-behaviour key beside it is an error.
    fn library(&mut self, tab: &Table<'_, '_>) -> Option<PathBuf> {
        let it = tab.item("library")?;
        let library_line = self.line(it.span.start);
        for (k, _) in tab.t.iter() {
            let name: &str = k.get_ref();
            if MOCK_KEYS.contains(&name) {
                self.error(
                    &k.span(),
                    tab.key(name),
                    ErrorKind::MockKeyWithLibrary { library_line },
                );
            }
        }
        let given = self.string(&it)?;
        if given.is_empty() {
            self.error(&it.span, it.key, ErrorKind::Empty);
            return None;
        }
        let path = resolve_library(self.dir, Path::new(given));
        let shown = path.display().to_string();
        let why = match std::fs::metadata(&path) {
            Err(e) => Some(e.to_string()),
            Ok(m) if m.is_dir() => Some("it is a directory, not a shared object".to_owned()),
            Ok(m) if !m.is_file() => Some("it is not a regular file".to_owned()),
            Ok(_) => None,
        };
        if let Some(why) = why {
            self.error(&it.span, it.key, ErrorKind::BadLibrary { path: shown, why });
            return None;
        }
        // The same file under another name (a link, `./x` and `x`) is the same instance.
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some((_, other, line)) = self.libraries.iter().find(|(p, _, _)| *p == identity) {
            let kind = ErrorKind::SharedLibrary {
                path: shown,
                other: other.clone(),
                line: *line,
            };
            self.error(&it.span, it.key, kind);
            return None;
        }
        self.libraries
            .push((identity, tab.path.clone(), library_line));
        Some(path)
    }

    fn raw(&mut self, it: &Item<'_, '_>) -> Option<RawAddressList> {
        let Some(t) = it.value.as_table() else {
            self.wrong_type(it, "a table { base = \"0x…\", hex = \"…\" }");
            return None;
        };
        let tab = Table {
            t,
            path: it.key.clone(),
            span: it.span.clone(),
        };
        self.unknown_keys(&tab, RAW_KEYS);
        for key in RAW_KEYS {
            if !tab.has(key) {
                self.error(&tab.span, tab.key(key), ErrorKind::Missing);
            }
        }
        let base = self.get_parsed(&tab, "base", parse_base);
        let bytes = self.get_parsed(&tab, "hex", parse_hex);
        Some(RawAddressList {
            base: base?,
            bytes: bytes?,
        })
    }

    fn extensions(&mut self, it: &Item<'_, '_>) -> ExtensionAnswers {
        let mut answers = ExtensionAnswers::default();
        let Some(t) = it.value.as_table() else {
            self.wrong_type(it, "a table of extension name = \"ok\" or WSA name");
            return answers;
        };
        for (k, v) in t.iter() {
            let name: &str = k.get_ref();
            let key = join(&it.key, name);
            let ext = match parse_extension(name) {
                Ok(e) => Some(e),
                Err(kind) => {
                    self.error(&k.span(), key.clone(), kind);
                    None
                }
            };
            let value = Item {
                key,
                span: v.span(),
                value: v.get_ref(),
            };
            let outcome = self.parsed(&value, Outcome::parse);
            if let (Some(e), Some(o)) = (ext, outcome) {
                answers.set(e, o);
            }
        }
        answers
    }

    fn connect_errors(&mut self, it: &Item<'_, '_>) -> BTreeMap<std::net::IpAddr, super::WsaError> {
        let mut out = BTreeMap::new();
        let Some(t) = it.value.as_table() else {
            self.wrong_type(it, "a table of \"remote IP\" = WSA name");
            return out;
        };
        for (k, v) in t.iter() {
            let name: &str = k.get_ref();
            if v.get_ref().is_table() && self.dotted_after(&k.span()) {
                // `10.1.2.9 = "…"` unquoted: TOML reads the nested keys 10, 1, 2, 9. Each
                // leaf is reported under the whole key the user wrote.
                let mut leaves = Vec::new();
                self.dotted_leaves(vec![name.to_owned()], k.span(), v, &mut leaves);
                for (parts, key_span, leaf) in leaves {
                    let whole = parts.join(".");
                    let kind = match parse_ip(&whole) {
                        Ok(_) => ErrorKind::UnquotedAddressKey {
                            key: whole.clone(),
                            parts: parts.join(", "),
                            value: self.source_text(&leaf),
                        },
                        Err(kind) => kind,
                    };
                    self.error(&key_span, join(&it.key, &whole), kind);
                }
                continue;
            }
            let key = join(&it.key, name);
            let ip = match parse_ip(name) {
                Ok(ip) => Some(ip),
                Err(kind) => {
                    self.error(&k.span(), key.clone(), kind);
                    None
                }
            };
            let value = Item {
                key,
                span: v.span(),
                value: v.get_ref(),
            };
            let err = self.parsed(&value, parse_wsa);
            if let (Some(ip), Some(e)) = (ip, err) {
                out.insert(ip, e);
            }
        }
        out
    }

    /// The leaves under a dotted key: each with the key's parts from `parts` down, the span
    /// of its last part (whose line is the leaf's: the parts before it may be shared with
    /// other leaves on other lines) and the span of its value. Descends only through dotted
    /// parts (`a.b.c`), not into a table written as a value (`a = { … }`), which is a leaf.
    fn dotted_leaves(
        &self,
        parts: Vec<String>,
        key_span: Range<usize>,
        v: &toml::Spanned<DeValue<'_>>,
        out: &mut Vec<(Vec<String>, Range<usize>, Range<usize>)>,
    ) {
        let Some(t) = v.get_ref().as_table() else {
            out.push((parts, key_span, v.span()));
            return;
        };
        if t.is_empty() {
            out.push((parts, key_span, v.span()));
            return;
        }
        for (k, child) in t.iter() {
            let mut p = parts.clone();
            p.push(k.get_ref().to_string());
            if child.get_ref().is_table() && self.dotted_after(&k.span()) {
                self.dotted_leaves(p, k.span(), child, out);
            } else {
                out.push((p, k.span(), child.span()));
            }
        }
    }

    fn registration(&mut self, tab: &Table<'_, '_>) -> Option<Registration> {
        self.unknown_keys(tab, REGISTRATION_KEYS);
        let name = self.required_name(tab, "name");
        let value = match (tab.has("guid"), tab.has("hex")) {
            (true, false) => self
                .get_parsed(tab, "guid", parse_guid)
                .map(RegistrationValue::Guid),
            (false, true) => self
                .get_parsed(tab, "hex", parse_hex)
                .map(RegistrationValue::Raw),
            (true, true) => {
                self.error(&tab.span, tab.key("guid"), ErrorKind::RegistrationValue);
                None
            }
            (false, false) => {
                self.error(&tab.span, tab.key("guid"), ErrorKind::RegistrationValue);
                None
            }
        };
        Some(Registration {
            name: name?,
            value: value?,
            line: self.line(tab.span.start),
        })
    }

    fn step(
        &mut self,
        tab: &Table<'_, '_>,
        hosts: &[Host],
        ids: &mut HashMap<String, IdDef>,
    ) -> Option<Step> {
        self.unknown_keys(tab, STEP_KEYS);
        let line = self.line(tab.span.start);
        let op = if tab.has("op") {
            self.get_parsed(tab, "op", |s| {
                Op::ALL
                    .into_iter()
                    .find(|o| o.name() == s)
                    .ok_or_else(|| ErrorKind::BadOp(s.to_owned()))
            })
        } else {
            self.error(&tab.span, tab.key("op"), ErrorKind::Missing);
            None
        };
        // The step's host; `None` when it is undefined (reported), in which case the keys are
        // still checked, but not the provider names (a provider of which host?).
        let host: Option<&Host> = match tab.item("host") {
            Some(it) => match self.string(&it) {
                Some(name) => {
                    let h = hosts.iter().find(|h| h.name == name);
                    if h.is_none() {
                        self.error(&it.span, it.key, ErrorKind::UndefinedHost(name.to_owned()));
                    }
                    h
                }
                None => None,
            },
            None => hosts.first(),
        };

        let op = op?;
        if self.ops == Ops::Supported
            && !op.is_supported()
            && let Some(it) = tab.item("op")
        {
            self.error(&it.span, it.key, ErrorKind::UnsupportedOp { op });
        }

        // Keys of other ops are errors: a key that does nothing is most likely a mistake.
        for (k, _) in tab.t.iter() {
            let name: &str = k.get_ref();
            if name != "op"
                && name != "host"
                && STEP_KEYS.contains(&name)
                && !op.keys().contains(&name)
            {
                let used = used_keys(op);
                self.error(
                    &k.span(),
                    tab.key(name),
                    ErrorKind::NotUsedByOp {
                        op: op.name(),
                        used,
                    },
                );
            }
        }

        let action = match op {
            Op::Connect | Op::Explain => {
                let to = self.required_for(tab, op, "to", parse_socket_addr);
                let from = self.get_parsed(tab, "from", str::parse::<BindAddr>);
                let kind = self
                    .get_parsed(tab, "kind", parse_socket_kind)
                    .unwrap_or(SocketKind::Stream);
                let expect = self.get_parsed(tab, "expect", |s| connect_expect(s, op, host));
                if op == Op::Connect {
                    let id = self.new_id(tab, op, ids);
                    Action::Connect {
                        to: to?,
                        from,
                        kind,
                        id,
                        expect,
                    }
                } else {
                    Action::Explain {
                        to: to?,
                        from,
                        kind,
                        expect,
                    }
                }
            }
            Op::Listen => {
                let address = self.required_for(tab, op, "address", parse_socket_addr);
                let backlog = match tab.item("backlog") {
                    Some(it) => self.backlog(&it),
                    None => Some(5),
                };
                let accept = self.get_bool(tab, "accept").unwrap_or(true);
                let expect = self.get_parsed(tab, "expect", |s| ok_expect(s, op));
                let id = self.new_id(tab, op, ids);
                Action::Listen {
                    address: address?,
                    backlog: backlog?,
                    accept,
                    id,
                    expect,
                }
            }
            Op::Close => {
                let id = self.required_for(tab, op, "id", |s| id_ref(s, ids, false));
                Action::Close { id: id? }
            }
            Op::Send => {
                let id = self.required_for(tab, op, "id", |s| id_ref(s, ids, true));
                let bytes = self.required_integer(
                    tab,
                    op,
                    "bytes",
                    u64::from(MAX_SEND_BYTES),
                    "0 to 16777216 (16 MiB)",
                );
                let oob = self.get_bool(tab, "oob").unwrap_or(false);
                let expect = self.get_parsed(tab, "expect", |s| ok_expect(s, op));
                Action::Send {
                    id: id?,
                    bytes: u32::try_from(bytes?).ok()?,
                    oob,
                    expect,
                }
            }
            Op::Shutdown => {
                let id = self.required_for(tab, op, "id", |s| id_ref(s, ids, true));
                let how = self.required_for(tab, op, "how", str::parse::<ShutdownHow>);
                Action::Shutdown { id: id?, how: how? }
            }
            Op::Advance => Action::Advance {
                ms: self.required_integer(tab, op, "ms", i64::MAX.unsigned_abs(), "0 to 2^63-1")?,
            },
            Op::AddressChange => self.address_change(tab, host)?,
            Op::Install => Action::Install {
                provider: self.required_for(tab, op, "provider", |s| provider_ref(s, host))?,
            },
            Op::Remove => Action::Remove {
                provider: self.required_for(tab, op, "provider", |s| provider_ref(s, host))?,
            },
        };
        Some(Step {
            host: host?.name.clone(),
            action,
            line,
        })
    }

    /// A string key the op needs, parsed by `f`.
    fn required_for<T>(
        &mut self,
        tab: &Table<'_, '_>,
        op: Op,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, ErrorKind>,
    ) -> Option<T> {
        if !tab.has(key) {
            self.error(
                &tab.span,
                tab.key(key),
                ErrorKind::MissingForOp { op: op.name() },
            );
            return None;
        }
        self.get_parsed(tab, key, f)
    }

    /// A non-negative integer key the op needs, at most `max` (`range` says so in words).
    fn required_integer(
        &mut self,
        tab: &Table<'_, '_>,
        op: Op,
        key: &str,
        max: u64,
        range: &'static str,
    ) -> Option<u64> {
        if !tab.has(key) {
            self.error(
                &tab.span,
                tab.key(key),
                ErrorKind::MissingForOp { op: op.name() },
            );
            return None;
        }
        self.get_u64(tab, key, max, range)
    }

    fn backlog(&mut self, it: &Item<'_, '_>) -> Option<u32> {
        let v = self.integer(it)?;
        match u32::try_from(v) {
            Ok(b) if b <= i32::MAX as u32 => Some(b),
            _ => {
                self.error(
                    &it.span,
                    it.key.clone(),
                    ErrorKind::OutOfRange {
                        value: v.to_string(),
                        range: "0 to 2147483647",
                    },
                );
                None
            }
        }
    }

    /// An optional `id` of a connect or listen step; ids are unique in the scenario.
    fn new_id(
        &mut self,
        tab: &Table<'_, '_>,
        op: Op,
        ids: &mut HashMap<String, IdDef>,
    ) -> Option<String> {
        let it = tab.item("id")?;
        let id = self.nonempty_string(&it)?;
        let line = self.line(it.span.start);
        if let Some(first) = ids.get(&id) {
            self.error(
                &it.span,
                it.key,
                ErrorKind::DuplicateId {
                    name: id.clone(),
                    first_line: first.line,
                },
            );
        } else {
            ids.insert(id.clone(), IdDef { line, op });
        }
        Some(id)
    }

    fn address_change(&mut self, tab: &Table<'_, '_>, host: Option<&Host>) -> Option<Action> {
        let (p, a, i) = (
            tab.has("provider"),
            tab.has("addresses"),
            tab.has("interfaces"),
        );
        let op = Op::AddressChange;
        if i && (p || a) {
            let span = tab
                .item("interfaces")
                .map_or(tab.span.clone(), |it| it.span);
            self.error(
                &span,
                tab.key("interfaces"),
                ErrorKind::AddressChangeShape(
                    "`interfaces` changes the host's TCP/IP interfaces and goes without `provider` and `addresses`",
                ),
            );
            return None;
        }
        if i {
            let list = self.get_list(tab, "interfaces", parse_interface)?;
            return Some(Action::AddressChange(AddressChange::Interfaces(list)));
        }
        if !p && !a {
            self.error(
                &tab.span,
                tab.key("provider"),
                ErrorKind::AddressChangeShape(
                    "address_change needs `provider` and `addresses`, or `interfaces`",
                ),
            );
            return None;
        }
        let provider = self.required_for(tab, op, "provider", |s| provider_ref(s, host));
        // A provider that replays a raw answer answers it whatever its addresses: the change
        // would change nothing.
        if let (Some(name), Some(h), Some(it)) = (&provider, host, tab.item("provider"))
            && h.provider(name)
                .is_some_and(|q| q.address_list_raw.is_some())
        {
            self.error(
                &it.span,
                it.key,
                ErrorKind::AddressChangeOfRaw {
                    provider: name.clone(),
                },
            );
            return None;
        }
        if let (Some(name), Some(h), Some(it)) = (&provider, host, tab.item("provider"))
            && h.provider(name).is_some_and(|q| q.library.is_some())
        {
            self.error(
                &it.span,
                it.key,
                ErrorKind::AddressChangeOfLibrary {
                    provider: name.clone(),
                },
            );
            return None;
        }
        let addresses = if a {
            self.get_list(tab, "addresses", parse_ip)
        } else {
            self.error(
                &tab.span,
                tab.key("addresses"),
                ErrorKind::MissingForOp { op: op.name() },
            );
            None
        };
        Some(Action::AddressChange(AddressChange::Provider {
            provider: provider?,
            addresses: addresses?,
        }))
    }
}

/// A `library` path as the system loader must be given it: a relative path joined to `dir`,
/// and a bare file name (which `dlopen` and `LoadLibrary` would search for in the system's
/// library directories) prefixed with the current directory (`./libx.so`).
pub(crate) fn resolve_library(dir: &Path, given: &Path) -> PathBuf {
    let path = if given.is_absolute() {
        given.to_path_buf()
    } else {
        dir.join(given)
    };
    if path.is_relative() && path.parent().is_none_or(|d| d.as_os_str().is_empty()) {
        Path::new(".").join(path)
    } else {
        path
    }
}

/// Where an `id` was defined: the line of its `id` key and the op of its step (connect or
/// listen).
#[derive(Debug, Clone, Copy)]
struct IdDef {
    line: usize,
    op: Op,
}

/// An `id` that must name an earlier connect step (`connection`: send, shutdown) or an
/// earlier connect or listen step (close).
fn id_ref(s: &str, ids: &HashMap<String, IdDef>, connection: bool) -> Result<String, ErrorKind> {
    if s.is_empty() {
        return Err(ErrorKind::Empty);
    }
    check_name(s)?;
    match ids.get(s) {
        None if connection => Err(ErrorKind::UndefinedConnection(s.to_owned())),
        None => Err(ErrorKind::UndefinedId(s.to_owned())),
        Some(def) if connection && def.op != Op::Connect => Err(ErrorKind::NotAConnection {
            id: s.to_owned(),
            line: def.line,
        }),
        Some(_) => Ok(s.to_owned()),
    }
}

/// The span of a table's `name` value, or of the table when it has none.
fn name_span(tab: &Table<'_, '_>) -> Range<usize> {
    tab.item("name").map_or(tab.span.clone(), |i| i.span)
}

/// The keys an op uses, as text for error messages.
fn used_keys(op: Op) -> &'static str {
    match op {
        Op::Connect => "host, to, from, kind, id, expect",
        Op::Listen => "host, address, backlog, accept, id, expect",
        Op::Close => "host, id",
        Op::Explain => "host, to, from, kind, expect",
        Op::AddressChange => "host, provider, addresses, interfaces",
        Op::Install | Op::Remove => "host, provider",
        Op::Send => "host, id, bytes, oob, expect",
        Op::Shutdown => "host, id, how",
        Op::Advance => "host, ms",
    }
}

/// A provider name that must be defined on `host` (not checked when the host is undefined).
fn provider_ref(s: &str, host: Option<&Host>) -> Result<String, ErrorKind> {
    match host {
        Some(h) if h.provider(s).is_none() => Err(ErrorKind::UndefinedProvider {
            provider: s.to_owned(),
            host: h.name.clone(),
        }),
        _ => Ok(s.to_owned()),
    }
}

/// `expect` of connect and explain: `"tcp"`, `"san:<provider on the step's host>"`,
/// `"error:<WSA name>"`.
fn connect_expect(s: &str, op: Op, host: Option<&Host>) -> Result<ConnectResult, ErrorKind> {
    if s == "tcp" {
        return Ok(ConnectResult::Tcp);
    }
    if let Some(p) = s.strip_prefix("san:") {
        return provider_ref(p, host).map(ConnectResult::San);
    }
    if let Some(e) = s.strip_prefix("error:") {
        return parse_wsa(e).map(ConnectResult::Error);
    }
    Err(ErrorKind::BadExpect {
        value: s.to_owned(),
        op: op.name(),
        allowed: "\"san:<provider>\", \"tcp\" or \"error:<WSA name>\"",
    })
}

/// `expect` of listen and send: `"ok"` or `"error:<WSA name>"`.
fn ok_expect(s: &str, op: Op) -> Result<ListenResult, ErrorKind> {
    if s == "ok" {
        return Ok(ListenResult::Ok);
    }
    if let Some(e) = s.strip_prefix("error:") {
        return parse_wsa(e).map(ListenResult::Error);
    }
    Err(ErrorKind::BadExpect {
        value: s.to_owned(),
        op: op.name(),
        allowed: "\"ok\" or \"error:<WSA name>\"",
    })
}
