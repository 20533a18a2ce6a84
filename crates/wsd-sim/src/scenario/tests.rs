//! Unit tests of the scenario parser: one per error class, the defaults, the default
//! scenario, and property tests (never a panic, always Ok or errors).

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;

use super::*;

/// The file format's whole validation, every op accepted ([`Ops::All`]); what the runner
/// refuses ([`parse`], [`Ops::Supported`]) is tested apart.
fn parse_all(src: &str) -> Result<Scenario, ScenarioErrors> {
    parse_with(src, Ops::All)
}

fn errors(src: &str) -> Vec<ScenarioError> {
    match parse_all(src) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

/// Asserts that `src` fails with an error at `line` on `key` whose kind satisfies `pred`.
#[track_caller]
fn assert_error(src: &str, line: usize, key: &str, pred: impl Fn(&ErrorKind) -> bool) {
    let errs = errors(src);
    assert!(
        errs.iter()
            .any(|e| e.line == line && e.key == key && pred(&e.kind)),
        "no matching error at line {line} on {key}; got:\n{}",
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

const HOST: &str = "[[host]]\nname = \"a\"\n"; // lines 1-2

fn with_provider(body: &str) -> String {
    // [[host.provider]] on line 3, name on line 4, body from line 5.
    format!("{HOST}[[host.provider]]\nname = \"p\"\n{body}")
}

fn with_step(body: &str) -> String {
    // provider p on lines 3-4, [[step]] on line 5, body from line 6.
    format!("{HOST}[[host.provider]]\nname = \"p\"\n[[step]]\n{body}")
}

#[test]
fn default_scenario_is_valid() {
    let s = parse_all(crate::DEFAULT_SCENARIO);
    assert!(s.is_ok(), "{s:?}");
    let s = s.unwrap_or_else(|_| Scenario {
        hosts: vec![],
        steps: vec![],
    });
    assert_eq!(s.hosts.len(), 2);
    let alpha = &s.hosts[0];
    assert_eq!(alpha.name, "alpha");
    let ofed = alpha.provider("ofed");
    assert_eq!(
        ofed.map(|p| p.extensions.get(SanExtension::RdmaRead)),
        Some(Outcome::Fail(
            WsaError::from_name("WSAEOPNOTSUPP").unwrap_or_else(|| unreachable!())
        ))
    );
    assert!(
        s.steps.iter().all(|st| st.action.op().is_supported()),
        "the default scenario must only use supported ops"
    );
    assert!(s.steps.iter().any(|st| st.action.op() == Op::Install));
    assert!(s.steps.iter().any(|st| st.action.op() == Op::Remove));
    assert!(s.steps.iter().any(|st| st.action.op() == Op::AddressChange));
}

#[test]
fn defaults_are_filled_in() {
    let s = parse_all(&with_step("op = \"explain\"\nto = \"10.0.0.1:80\"\n"));
    let s = s.unwrap_or_else(|e| panic!("{e}"));
    let p = &s.hosts[0].providers[0];
    assert_eq!(p.guid, guid_for_name("p"));
    assert!(p.registered && p.hidden && p.installed);
    assert_eq!(p.profile, Profile::Generic);
    assert_eq!(p.fabric, "san0");
    assert_eq!(p.startup, Outcome::Ok);
    assert_eq!(p.version, WinsockVersion::V2_2);
    assert_eq!(p.description, None);
    assert_eq!(p.socket, Outcome::Ok);
    assert!(p.addresses.is_empty());
    assert_eq!(p.address_list_fault, AddressListFault::None);
    assert_eq!(p.address_list_raw, None);
    assert!(p.extensions.iter().all(|(_, o)| o == Outcome::Ok));
    assert_eq!(p.panic_at, None);
    assert_eq!(p.cleanup, Outcome::Ok);
    assert!(p.connect_errors.is_empty());
    assert_eq!(p.line, 3);
    assert_eq!(s.steps[0].host, "a");
    assert_eq!(s.steps[0].line, 5);
    assert_eq!(
        s.steps[0].action,
        Action::Explain {
            to: SocketAddr::from(([10, 0, 0, 1], 80)),
            from: None,
            kind: SocketKind::Stream,
            expect: None
        }
    );
}

#[test]
fn listen_defaults_backlog_5_and_accept() {
    let s = parse_all(&with_step("op = \"listen\"\naddress = \"0.0.0.0:80\"\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    match &s.steps[0].action {
        Action::Listen {
            backlog, accept, ..
        } => {
            assert_eq!(*backlog, 5);
            assert!(*accept);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_key_of_a_provider_parses() {
    let src = with_provider(
        r#"guid = "{0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9f3}"
registered = false
hidden = false
installed = false
profile = "winofed"
fabric = "ib1"
startup = "WSAVERNOTSUPPORTED"
version = "2.0"
description = "an HCA"
socket = "WSAENOBUFS"
addresses = ["10.0.0.1", "fd00::1"]
address_list_raw = { base = "0x00000000001a0000", hex = "01 00 00 00" }
extensions = { rdma_read = "WSAEOPNOTSUPP", memory_registration_cache_callback = "WSAEINVAL" }
panic_at = "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_write)"
cleanup = "WSAENETDOWN"
connect_errors = { "10.0.0.2" = "WSAECONNRESET" }
"#,
    );
    let s = parse_all(&src).unwrap_or_else(|e| panic!("{e}"));
    let p = &s.hosts[0].providers[0];
    let wsa = |n| WsaError::from_name(n).unwrap_or_else(|| unreachable!());
    assert_eq!(p.guid.to_string(), "{0F3B7A52-6C1E-4D8A-9B27-5E41C0D2A9F3}");
    assert!(!p.registered && !p.hidden && !p.installed);
    assert_eq!(p.profile, Profile::Winofed);
    assert_eq!(p.fabric, "ib1");
    assert_eq!(p.startup, Outcome::Fail(wsa("WSAVERNOTSUPPORTED")));
    assert_eq!(p.version, WinsockVersion::new(2, 0));
    assert_eq!(p.description.as_deref(), Some("an HCA"));
    assert_eq!(p.socket, Outcome::Fail(wsa("WSAENOBUFS")));
    assert_eq!(p.addresses.len(), 2);
    assert_eq!(p.address_list_fault, AddressListFault::None);
    assert_eq!(
        p.address_list_raw,
        Some(RawAddressList {
            base: 0x1a_0000,
            bytes: vec![1, 0, 0, 0]
        })
    );
    assert_eq!(
        p.extensions.get(SanExtension::RdmaRead),
        Outcome::Fail(wsa("WSAEOPNOTSUPP"))
    );
    assert_eq!(p.extensions.get(SanExtension::RdmaWrite), Outcome::Ok);
    assert_eq!(
        p.panic_at,
        Some(Call::GetExtension(SanExtension::RdmaWrite))
    );
    assert_eq!(p.cleanup, Outcome::Fail(wsa("WSAENETDOWN")));
    assert_eq!(
        p.connect_errors.get(&IpAddr::from([10, 0, 0, 2])),
        Some(&wsa("WSAECONNRESET"))
    );
}

#[test]
fn syntax_errors_name_their_line() {
    assert_error("[[host]]\nname = \"a\"\nx = = 1\n", 3, "", |k| {
        matches!(k, ErrorKind::Syntax(_))
    });
}

#[test]
fn no_host_is_an_error() {
    assert_error("", 1, "host", |k| *k == ErrorKind::NoHosts);
    assert_error("host = []\n", 1, "host", |k| *k == ErrorKind::NoHosts);
}

#[test]
fn host_must_be_an_array_of_tables() {
    assert_error("[host]\nname = \"a\"\n", 1, "host", |k| {
        matches!(k, ErrorKind::WrongType { found: "table", .. })
    });
}

#[test]
fn unknown_keys_everywhere() {
    assert_error("title = 1\n[[host]]\nname = \"a\"\n", 1, "title", |k| {
        matches!(k, ErrorKind::UnknownKey { .. })
    });
    assert_error(&format!("{HOST}colour = 1\n"), 3, "host[0].colour", |k| {
        matches!(k, ErrorKind::UnknownKey { .. })
    });
    assert_error(
        &with_provider("speed = 1\n"),
        5,
        "host[0].provider[0].speed",
        |k| matches!(k, ErrorKind::UnknownKey { .. }),
    );
    assert_error(
        &with_provider("address_list_raw = { base = \"0x1\", hex = \"\", size = 3 }\n"),
        5,
        "host[0].provider[0].address_list_raw.size",
        |k| matches!(k, ErrorKind::UnknownKey { .. }),
    );
    assert_error(
        &format!(
            "{HOST}[[host.registration]]\nname = \"r\"\nguid = \"00000000-0000-0000-0000-000000000001\"\nextra = true\n"
        ),
        6,
        "host[0].registration[0].extra",
        |k| matches!(k, ErrorKind::UnknownKey { .. }),
    );
    assert_error(
        &with_step("op = \"remove\"\nprovider = \"p\"\nspeed = 3\n"),
        8,
        "step[0].speed",
        |k| matches!(k, ErrorKind::UnknownKey { .. }),
    );
}

#[test]
fn wrong_types() {
    assert_error("[[host]]\nname = 5\n", 2, "host[0].name", |k| {
        matches!(
            k,
            ErrorKind::WrongType {
                expected: "a string",
                found: "integer"
            }
        )
    });
    assert_error(
        &with_provider("registered = \"yes\"\n"),
        5,
        "host[0].provider[0].registered",
        |k| {
            matches!(
                k,
                ErrorKind::WrongType {
                    expected: "a boolean",
                    ..
                }
            )
        },
    );
    assert_error(
        &with_provider("addresses = \"10.0.0.1\"\n"),
        5,
        "host[0].provider[0].addresses",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
    assert_error(
        &with_provider("addresses = [\"10.0.0.1\", 7]\n"),
        5,
        "host[0].provider[0].addresses[1]",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
    assert_error(
        &with_step("op = \"listen\"\naddress = \"0.0.0.0:1\"\nbacklog = \"5\"\n"),
        8,
        "step[0].backlog",
        |k| {
            matches!(
                k,
                ErrorKind::WrongType {
                    expected: "an integer",
                    ..
                }
            )
        },
    );
}

#[test]
fn missing_required_keys() {
    assert_error("[[host]]\ninterfaces = []\n", 1, "host[0].name", |k| {
        *k == ErrorKind::Missing
    });
    assert_error(
        &format!("{HOST}[[host.provider]]\nfabric = \"x\"\n"),
        3,
        "host[0].provider[0].name",
        |k| *k == ErrorKind::Missing,
    );
    assert_error(&with_step("host = \"a\"\n"), 5, "step[0].op", |k| {
        *k == ErrorKind::Missing
    });
    assert_error(
        &with_provider("address_list_raw = { base = \"0x1\" }\n"),
        5,
        "host[0].provider[0].address_list_raw.hex",
        |k| *k == ErrorKind::Missing,
    );
}

#[test]
fn empty_names_are_errors() {
    assert_error("[[host]]\nname = \"\"\n", 2, "host[0].name", |k| {
        *k == ErrorKind::Empty
    });
    assert_error(
        &with_provider("fabric = \"\"\n"),
        5,
        "host[0].provider[0].fabric",
        |k| *k == ErrorKind::Empty,
    );
}

#[test]
fn bad_interfaces() {
    for bad in [
        "10.0.0.1",
        "10.0.0.1/33",
        "fd00::1/129",
        "10.0.0/8",
        "ten/8",
        "10.0.0.1/-1",
    ] {
        assert_error(
            &format!("[[host]]\nname = \"a\"\ninterfaces = [\"10.9.0.1/8\", {bad:?}]\n"),
            3,
            "host[0].interfaces[1]",
            |k| matches!(k, ErrorKind::BadInterface { .. }),
        );
    }
    let s = parse_all("[[host]]\nname = \"a\"\ninterfaces = [\"10.1.2.5/24\", \"fd00:1::5/64\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.hosts[0].interfaces[0].to_string(), "10.1.2.5/24");
}

#[test]
fn bad_ip_addresses() {
    for bad in [
        "10.0.0.256",
        "10.0.0.1:80",
        "[fd00::1]",
        "fd00::1/64",
        "",
        "host.example",
    ] {
        assert_error(
            &with_provider(&format!("addresses = [{bad:?}]\n")),
            5,
            "host[0].provider[0].addresses[0]",
            |k| matches!(k, ErrorKind::BadIpAddress(_)),
        );
    }
}

#[test]
fn destinations() {
    let ok = |to: &str| {
        parse_all(&with_step(&format!("op = \"explain\"\nto = {to:?}\n")))
            .map(|s| match &s.steps[0].action {
                Action::Explain { to, .. } => Some(*to),
                _ => None,
            })
            .ok()
            .flatten()
    };
    assert_eq!(
        ok("10.0.0.1:80"),
        Some(SocketAddr::from(([10, 0, 0, 1], 80)))
    );
    assert!(ok("[fd00::1]:443").is_some());
    let mapped = ok("[::ffff:10.1.2.9]:5000");
    assert_eq!(
        mapped.map(|a| a.to_string()),
        Some("[::ffff:10.1.2.9]:5000".to_owned())
    );
    for bad in [
        "10.0.0.1",
        "fd00::1:80",
        "[fd00::1]",
        "10.0.0.1:0",
        "[fd00::1:80",
        "a:1",
    ] {
        assert_error(
            &with_step(&format!("op = \"explain\"\nto = {bad:?}\n")),
            7,
            "step[0].to",
            |k| matches!(k, ErrorKind::BadSocketAddress { .. }),
        );
    }
}

#[test]
fn from_addresses() {
    for good in [
        "10.0.0.1",
        "10.0.0.1:5000",
        "fd00::1",
        "[fd00::1]",
        "[fd00::1]:5000",
        "[::ffff:10.0.0.1]:0",
    ] {
        let b: Result<BindAddr, _> = good.parse();
        assert!(b.is_ok(), "{good}");
    }
    let b: Result<BindAddr, _> = "[fd00::1]".parse();
    assert_eq!(b.map(|b| b.to_string()).ok().as_deref(), Some("[fd00::1]"));
    for bad in ["10.0.0.1:", "fd00::1]:80", "[10.0.0.1]", "x"] {
        assert_error(
            &with_step(&format!(
                "op = \"connect\"\nto = \"10.0.0.1:80\"\nfrom = {bad:?}\n"
            )),
            8,
            "step[0].from",
            |k| matches!(k, ErrorKind::BadBindAddress(_)),
        );
    }
}

/// The message of the one error of `src` on `key`.
#[track_caller]
fn message_on(src: &str, key: &str) -> String {
    let errs = errors(src);
    let on: Vec<String> = errs
        .iter()
        .filter(|e| e.key == key)
        .map(ToString::to_string)
        .collect();
    assert_eq!(on.len(), 1, "{key}: {errs:#?}");
    on.into_iter().next().unwrap_or_default()
}

#[test]
fn a_port_above_65535_is_named_out_of_range_in_to_from_and_address() {
    let to = with_step("op = \"explain\"\nto = \"10.0.0.1:65536\"\n");
    assert_eq!(
        message_on(&to, "step[0].to"),
        "line 7: step[0].to: bad address \"10.0.0.1:65536\": port 65536 is out of range (0..=65535)"
    );
    let from = with_step("op = \"explain\"\nto = \"10.0.0.1:80\"\nfrom = \"[fd00::1]:99999\"\n");
    assert_error(
        &from,
        8,
        "step[0].from",
        |k| matches!(k, ErrorKind::PortOutOfRange { port, .. } if port == "99999"),
    );
    let listen = with_step("op = \"listen\"\naddress = \"0.0.0.0:123456789012345678901\"\n");
    assert_error(&listen, 7, "step[0].address", |k| {
        matches!(k, ErrorKind::PortOutOfRange { .. })
    });
    // Ports 65535 and, for `from`, 0 are fine.
    assert!(
        parse_all(&with_step(
            "op = \"explain\"\nto = \"10.0.0.1:65535\"\nfrom = \"10.0.0.2:0\"\n"
        ))
        .is_ok()
    );
}

#[test]
fn zone_ids_are_refused_in_every_address_key_from_included() {
    let cases = [
        (
            with_step("op = \"explain\"\nto = \"10.0.0.1:80\"\nfrom = \"[fe80::1%2]:5\"\n"),
            8,
            "step[0].from",
        ),
        (
            with_step("op = \"explain\"\nto = \"10.0.0.1:80\"\nfrom = \"fe80::1%eth0\"\n"),
            8,
            "step[0].from",
        ),
        (
            with_step("op = \"explain\"\nto = \"[fe80::1%2]:5\"\n"),
            7,
            "step[0].to",
        ),
        (
            with_step("op = \"listen\"\naddress = \"[fe80::1%2]:5\"\n"),
            7,
            "step[0].address",
        ),
        (
            format!("{HOST}interfaces = [\"fe80::1%2/64\"]\n"),
            3,
            "host[0].interfaces[0]",
        ),
        (
            with_provider("addresses = [\"fe80::1%2\"]\n"),
            5,
            "host[0].provider[0].addresses[0]",
        ),
    ];
    for (src, line, key) in &cases {
        assert_error(src, *line, key, |k| matches!(k, ErrorKind::ZoneId { .. }));
        let m = message_on(src, key);
        assert!(m.contains("zone ids"), "{m}");
        assert!(m.contains("not supported"), "{m}");
    }
    assert_eq!(
        message_on(&cases[0].0, "step[0].from"),
        "line 8: step[0].from: bad address \"[fe80::1%2]:5\": zone ids (here \"%2\") are not supported; give the address without one"
    );
}

#[test]
fn destination_messages_say_what_is_wrong() {
    let msg = |to: &str| {
        message_on(
            &with_step(&format!("op = \"explain\"\nto = {to:?}\n")),
            "step[0].to",
        )
    };
    assert!(msg("fd00::1:80").contains("IPv6 destination goes in brackets"));
    assert!(msg("fd00::1").contains("IPv6 destination goes in brackets"));
    assert!(msg("10.0.0.1").contains("no port"));
    assert!(msg("[fd00::1]").contains("no port"));
    assert!(msg("10.0.0.1:0").contains("port 0"));
    assert!(msg("a:1").contains("expected \"address:port\""));
}

#[test]
fn unknown_wsa_names() {
    assert_error(
        &with_provider("startup = \"WSAEBOGUS\"\n"),
        5,
        "host[0].provider[0].startup",
        |k| matches!(k, ErrorKind::UnknownWsaName(n) if n == "WSAEBOGUS"),
    );
    assert_error(
        &with_provider("socket = \"fine\"\n"),
        5,
        "host[0].provider[0].socket",
        |k| matches!(k, ErrorKind::BadOutcome(_)),
    );
    assert_error(
        &with_provider("connect_errors = { \"10.0.0.1\" = \"WSAENOPE\" }\n"),
        5,
        "host[0].provider[0].connect_errors.\"10.0.0.1\"",
        |k| matches!(k, ErrorKind::UnknownWsaName(_)),
    );
    assert_error(
        &with_provider("extensions.rdma_read = \"WSAEOPNOTSUP\"\n"),
        5,
        "host[0].provider[0].extensions.rdma_read",
        |k| matches!(k, ErrorKind::UnknownWsaName(_)),
    );
    assert_error(
        &with_step("op = \"explain\"\nto = \"10.0.0.1:1\"\nexpect = \"error:WSAEFOO\"\n"),
        8,
        "step[0].expect",
        |k| matches!(k, ErrorKind::UnknownWsaName(_)),
    );
    // Win32 aliases are WSA names too.
    assert!(parse_all(&with_provider("cleanup = \"WSA_IO_PENDING\"\n")).is_ok());
}

#[test]
fn unknown_call_names() {
    for bad in [
        "WSPFoo",
        "wspconnect",
        "WSPIoctl",
        "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_jump)",
    ] {
        assert_error(
            &with_provider(&format!("panic_at = {bad:?}\n")),
            5,
            "host[0].provider[0].panic_at",
            |k| matches!(k, ErrorKind::UnknownCallName(_)),
        );
    }
}

#[test]
fn call_names_round_trip() {
    let all = Call::all();
    // 12 socket and control calls, 7 extension queries, 11 data-path calls.
    assert_eq!(all.len(), 30);
    for c in all {
        let text = c.to_string();
        assert_eq!(parse_call(&text).ok(), Some(c), "{text}");
    }
    assert_eq!(
        Call::GetExtension(SanExtension::RdmaRead).to_string(),
        "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_read)"
    );
    assert_eq!(
        Call::AddressListQuery.to_string(),
        "WSPIoctl(SIO_ADDRESS_LIST_QUERY)"
    );
    assert_eq!(Call::StartupEx.to_string(), "WSPStartupEx");
    // The data path's calls are names too (panic_at accepts them).
    for name in ["WSPSend", "WSPRecv", "WSPRdmaRead", "WSPRegisterRdmaMemory"] {
        assert!(parse_call(name).is_ok(), "{name}");
    }
}

#[test]
fn raw_address_list_with_a_fault_is_an_error() {
    assert_error(
        &with_provider(
            "address_list_raw = { base = \"0x10\", hex = \"\" }\naddress_list_fault = \"garbage\"\n",
        ),
        6,
        "host[0].provider[0].address_list_fault",
        |k| matches!(k, ErrorKind::RawWithFault),
    );
    assert!(
        parse_all(&with_provider(
            "address_list_raw = { base = \"0x10\", hex = \"\" }\naddress_list_fault = \"none\"\n"
        ))
        .is_ok()
    );
}

#[test]
fn unknown_extension_names() {
    assert_error(
        &with_provider("extensions = { rdma_jump = \"ok\" }\n"),
        5,
        "host[0].provider[0].extensions.rdma_jump",
        |k| matches!(k, ErrorKind::UnknownExtension(_)),
    );
    assert_error(
        &with_provider("extensions = \"none\"\n"),
        5,
        "host[0].provider[0].extensions",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
}

#[test]
fn address_list_faults() {
    for good in [
        "none",
        "too_small_once",
        "too_small_always",
        "garbage",
        "wrong_family",
        "impossible_count",
        "pointer_outside",
        "error:WSAENOBUFS",
    ] {
        let f = parse_address_fault(good);
        assert_eq!(f.map(|f| f.to_string()).ok().as_deref(), Some(good));
    }
    assert_error(
        &with_provider("address_list_fault = \"sometimes\"\n"),
        5,
        "host[0].provider[0].address_list_fault",
        |k| matches!(k, ErrorKind::BadAddressListFault(_)),
    );
    assert_error(
        &with_provider("address_list_fault = \"error:nope\"\n"),
        5,
        "host[0].provider[0].address_list_fault",
        |k| matches!(k, ErrorKind::UnknownWsaName(_)),
    );
}

#[test]
fn bad_profile() {
    assert_error(
        &with_provider("profile = \"mellanox\"\n"),
        5,
        "host[0].provider[0].profile",
        |k| matches!(k, ErrorKind::BadProfile(_)),
    );
}

#[test]
fn bad_versions() {
    for bad in [
        "2", "2.2.1", "a.b", "256.0", "2.", ".2", "-1.2", "+2.2", " 2.2",
    ] {
        assert_error(
            &with_provider(&format!("version = {bad:?}\n")),
            5,
            "host[0].provider[0].version",
            |k| matches!(k, ErrorKind::BadVersion(_)),
        );
    }
    assert_eq!(
        parse_version("1.1").map(|v| v.to_string()).ok().as_deref(),
        Some("1.1")
    );
}

#[test]
fn bad_guids() {
    for bad in [
        "nope",
        "0f3b7a526c1e4d8a9b275e41c0d2a9f3",
        "{0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9f}",
        "0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9fg",
        "{0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9f3",
    ] {
        assert_error(
            &with_provider(&format!("guid = {bad:?}\n")),
            5,
            "host[0].provider[0].guid",
            |k| matches!(k, ErrorKind::BadGuid(_)),
        );
    }
    assert_error(
        &format!("{HOST}[[host.registration]]\nname = \"r\"\nguid = \"x\"\n"),
        5,
        "host[0].registration[0].guid",
        |k| matches!(k, ErrorKind::BadGuid(_)),
    );
}

#[test]
fn derived_guids_are_stable() {
    assert_eq!(guid_for_name("ibal"), guid_for_name("ibal"));
    assert_ne!(guid_for_name("ibal"), guid_for_name("ofed"));
    assert_eq!(guid_for_name("ibal").as_uuid().get_version_num(), 5);
}

#[test]
fn bad_hex() {
    assert_error(
        &format!("{HOST}[[host.registration]]\nname = \"r\"\nhex = \"0g\"\n"),
        5,
        "host[0].registration[0].hex",
        |k| matches!(k, ErrorKind::BadHex { .. }),
    );
    assert_error(
        &with_provider("address_list_raw = { base = \"0x10\", hex = \"123\" }\n"),
        5,
        "host[0].provider[0].address_list_raw.hex",
        |k| matches!(k, ErrorKind::BadHex { .. }),
    );
    for bad in ["10", "0x", "0x12345678901234567", "0xzz"] {
        assert_error(
            &with_provider(&format!(
                "address_list_raw = {{ base = {bad:?}, hex = \"\" }}\n"
            )),
            5,
            "host[0].provider[0].address_list_raw.base",
            |k| matches!(k, ErrorKind::BadBase(_)),
        );
    }
}

#[test]
fn registration_needs_exactly_one_value() {
    let both = format!(
        "{HOST}[[host.registration]]\nname = \"r\"\nguid = \"00000000-0000-0000-0000-000000000001\"\nhex = \"00\"\n"
    );
    assert_error(&both, 3, "host[0].registration[0].guid", |k| {
        *k == ErrorKind::RegistrationValue
    });
    let neither = format!("{HOST}[[host.registration]]\nname = \"r\"\n");
    assert_error(&neither, 3, "host[0].registration[0].guid", |k| {
        *k == ErrorKind::RegistrationValue
    });
    let raw = format!("{HOST}[[host.registration]]\nname = \"r\"\nhex = \"01 02 03\"\n");
    let s = parse_all(&raw).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.hosts[0].registrations[0].value,
        RegistrationValue::Raw(vec![1, 2, 3])
    );
}

#[test]
fn duplicate_names() {
    assert_error(
        "[[host]]\nname = \"a\"\n[[host]]\nname = \"a\"\n",
        4,
        "host[1].name",
        |k| matches!(k, ErrorKind::DuplicateHost { first_line: 1, .. }),
    );
    assert_error(
        &with_provider("[[host.provider]]\nname = \"p\"\n"),
        6,
        "host[0].provider[1].name",
        |k| matches!(k, ErrorKind::DuplicateProvider { first_line: 3, .. }),
    );
    // The same provider name on two hosts is fine.
    assert!(parse_all("[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\n[[host]]\nname = \"b\"\n[[host.provider]]\nname = \"p\"\n").is_ok());
    let guid = "guid = \"00000000-0000-0000-0000-000000000001\"\n";
    assert_error(
        &with_provider(&format!("{guid}[[host.provider]]\nname = \"q\"\n{guid}")),
        8,
        "host[0].provider[1].guid",
        |k| matches!(k, ErrorKind::DuplicateGuid { .. }),
    );
    let reg = "[[host.registration]]\nname = \"r\"\nhex = \"00\"\n";
    assert_error(
        &format!("{HOST}{reg}{reg}"),
        7,
        "host[0].registration[1].name",
        |k| matches!(k, ErrorKind::DuplicateRegistration { first_line: 3, .. }),
    );
}

#[test]
fn undefined_references() {
    assert_error(
        &with_step("op = \"explain\"\nhost = \"zeta\"\nto = \"10.0.0.1:1\"\n"),
        7,
        "step[0].host",
        |k| matches!(k, ErrorKind::UndefinedHost(h) if h == "zeta"),
    );
    assert_error(
        &with_step("op = \"install\"\nprovider = \"q\"\n"),
        7,
        "step[0].provider",
        |k| matches!(k, ErrorKind::UndefinedProvider { .. }),
    );
    assert_error(
        &with_step("op = \"remove\"\nprovider = \"q\"\n"),
        7,
        "step[0].provider",
        |k| matches!(k, ErrorKind::UndefinedProvider { .. }),
    );
    assert_error(
        &with_step("op = \"address_change\"\nprovider = \"q\"\naddresses = []\n"),
        7,
        "step[0].provider",
        |k| matches!(k, ErrorKind::UndefinedProvider { .. }),
    );
    assert_error(
        &with_step("op = \"explain\"\nto = \"10.0.0.1:1\"\nexpect = \"san:q\"\n"),
        8,
        "step[0].expect",
        |k| matches!(k, ErrorKind::UndefinedProvider { .. }),
    );
    // A provider of another host is undefined on this one.
    let two = "[[host]]\nname = \"a\"\n[[host]]\nname = \"b\"\n[[host.provider]]\nname = \"p\"\n[[step]]\nop = \"install\"\nprovider = \"p\"\n";
    assert_error(two, 9, "step[0].provider", |k| {
        matches!(k, ErrorKind::UndefinedProvider { .. })
    });
    assert!(parse_all(&format!("{two}host = \"b\"\n")).is_ok());
    assert_error(
        &with_step("op = \"close\"\nid = \"c1\"\n"),
        7,
        "step[0].id",
        |k| matches!(k, ErrorKind::UndefinedId(_)),
    );
}

#[test]
fn ops_and_their_keys() {
    assert_error(&with_step("op = \"dance\"\n"), 6, "step[0].op", |k| {
        matches!(k, ErrorKind::BadOp(_))
    });
    assert_error(
        &with_step("op = \"connect\"\nto = \"10.0.0.1:80\"\nbacklog = 3\n"),
        8,
        "step[0].backlog",
        |k| matches!(k, ErrorKind::NotUsedByOp { op: "connect", .. }),
    );
    assert_error(
        &with_step("op = \"explain\"\nto = \"10.0.0.1:80\"\nid = \"x\"\n"),
        8,
        "step[0].id",
        |k| matches!(k, ErrorKind::NotUsedByOp { op: "explain", .. }),
    );
    assert_error(
        &with_step("op = \"install\"\nprovider = \"p\"\nexpect = \"ok\"\n"),
        8,
        "step[0].expect",
        |k| matches!(k, ErrorKind::NotUsedByOp { .. }),
    );
    for (op, key) in [
        ("connect", "to"),
        ("explain", "to"),
        ("listen", "address"),
        ("close", "id"),
        ("install", "provider"),
        ("remove", "provider"),
    ] {
        assert_error(
            &with_step(&format!("op = {op:?}\n")),
            5,
            &format!("step[0].{key}"),
            |k| matches!(k, ErrorKind::MissingForOp { .. }),
        );
    }
}

#[test]
fn address_change_shapes() {
    assert_error(
        &with_step("op = \"address_change\"\n"),
        5,
        "step[0].provider",
        |k| matches!(k, ErrorKind::AddressChangeShape(_)),
    );
    assert_error(
        &with_step("op = \"address_change\"\nprovider = \"p\"\n"),
        5,
        "step[0].addresses",
        |k| matches!(k, ErrorKind::MissingForOp { .. }),
    );
    assert_error(
        &with_step("op = \"address_change\"\naddresses = []\n"),
        5,
        "step[0].provider",
        |k| matches!(k, ErrorKind::MissingForOp { .. }),
    );
    assert_error(
        &with_step("op = \"address_change\"\nprovider = \"p\"\ninterfaces = []\n"),
        8,
        "step[0].interfaces",
        |k| matches!(k, ErrorKind::AddressChangeShape(_)),
    );
    let s = parse_all(&with_step(
        "op = \"address_change\"\ninterfaces = [\"10.0.0.1/8\"]\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&s.steps[0].action, Action::AddressChange(AddressChange::Interfaces(v)) if v.len() == 1)
    );
    assert_error(
        &with_step("op = \"address_change\"\nprovider = \"p\"\naddresses = [\"10.0.0.300\"]\n"),
        8,
        "step[0].addresses[0]",
        |k| matches!(k, ErrorKind::BadIpAddress(_)),
    );
}

#[test]
fn address_change_of_a_raw_provider_is_an_error() {
    let src = format!(
        "{HOST}[[host.provider]]\nname = \"p\"\naddress_list_raw = {{ base = \"0x10\", hex = \"\" }}\n[[step]]\nop = \"address_change\"\nprovider = \"p\"\naddresses = [\"10.0.0.1\"]\n"
    );
    assert_error(
        &src,
        8,
        "step[0].provider",
        |k| matches!(k, ErrorKind::AddressChangeOfRaw { provider } if provider == "p"),
    );
    let text = errors(&src)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("address_list_raw"), "{text}");
    // Without the raw answer, the same step is fine.
    assert!(
        parse_all(&with_step(
            "op = \"address_change\"\nprovider = \"p\"\naddresses = [\"10.0.0.1\"]\n"
        ))
        .is_ok()
    );
}

#[test]
fn large_scenario_is_checked() {
    // Lines are found by a binary search of the line starts: a scan from the start of the
    // file for every key made this quadratic (seconds for this file, and growing with its square).
    const STEPS: usize = 20_000;
    let mut src = String::from(HOST);
    src.push_str("interfaces = [\"10.1.2.5/24\"]\n[[host.provider]]\nname = \"p\"\naddresses = [\"10.1.2.5\"]\n");
    for i in 0..STEPS {
        src.push_str(&format!(
            "[[step]]\nop = \"explain\"\nto = \"10.1.2.{}:80\"\nexpect = \"san:p\"\n",
            i % 250 + 1
        ));
    }
    let good = parse_all(&src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.steps.len(), STEPS);
    // Steps start on line 7 and take 4 lines each.
    assert_eq!(good.steps[0].line, 7);
    assert_eq!(good.steps[STEPS - 1].line, 7 + 4 * (STEPS - 1));
    // One bad value at the very end, to check the line found there too.
    src.push_str("[[step]]\nop = \"explain\"\nto = \"10.1.2.9:0\"\n");
    let last = 7 + 4 * STEPS;
    assert_error(&src, last + 2, &format!("step[{STEPS}].to"), |k| {
        matches!(k, ErrorKind::BadSocketAddress { .. })
    });
}

#[test]
fn expect_values() {
    let expect = |op: &str, extra: &str, e: &str| {
        parse_all(&with_step(&format!("op = {op:?}\n{extra}expect = {e:?}\n")))
    };
    assert!(expect("explain", "to = \"10.0.0.1:1\"\n", "tcp").is_ok());
    assert!(expect("explain", "to = \"10.0.0.1:1\"\n", "san:p").is_ok());
    assert!(expect("connect", "to = \"10.0.0.1:1\"\n", "error:WSAECONNREFUSED").is_ok());
    assert!(expect("listen", "address = \"[::]:1\"\n", "ok").is_ok());
    assert!(expect("listen", "address = \"[::]:1\"\n", "error:WSAEADDRINUSE").is_ok());
    for (op, extra, bad) in [
        ("explain", "to = \"10.0.0.1:1\"\n", "TCP"),
        ("explain", "to = \"10.0.0.1:1\"\n", "ok"),
        ("listen", "address = \"[::]:1\"\n", "tcp"),
    ] {
        let errs = expect(op, extra, bad)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(
            errs.iter().any(|e| e.key == "step[0].expect"
                && e.line == 8
                && matches!(e.kind, ErrorKind::BadExpect { .. })),
            "{op} {bad}: {errs:?}"
        );
    }
    let s = expect("connect", "to = \"10.0.0.1:1\"\n", "san:p").unwrap_or_else(|e| panic!("{e}"));
    match &s.steps[0].action {
        Action::Connect { expect, .. } => assert_eq!(
            expect.as_ref().map(ToString::to_string).as_deref(),
            Some("san:p")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn kinds_and_backlogs() {
    assert_error(
        &with_step("op = \"explain\"\nto = \"10.0.0.1:1\"\nkind = \"seqpacket\"\n"),
        8,
        "step[0].kind",
        |k| matches!(k, ErrorKind::BadSocketKind(_)),
    );
    for bad in ["-1", "4294967296", "2147483648"] {
        assert_error(
            &with_step(&format!(
                "op = \"listen\"\naddress = \"0.0.0.0:1\"\nbacklog = {bad}\n"
            )),
            8,
            "step[0].backlog",
            |k| matches!(k, ErrorKind::OutOfRange { .. }),
        );
    }
    assert_error(
        &with_step("op = \"listen\"\naddress = \"0.0.0.0:1\"\nbacklog = 99999999999999999999\n"),
        8,
        "step[0].backlog",
        |k| matches!(k, ErrorKind::OutOfRange { .. }),
    );
}

#[test]
fn ids() {
    let listen = "op = \"listen\"\naddress = \"0.0.0.0:1\"\nid = \"l\"\n";
    let s = parse_all(&with_step(&format!(
        "{listen}[[step]]\nop = \"close\"\nid = \"l\"\n"
    )));
    assert!(s.is_ok(), "{s:?}");
    assert_error(
        &with_step(&format!(
            "{listen}[[step]]\nop = \"connect\"\nto = \"10.0.0.1:1\"\nid = \"l\"\n"
        )),
        12,
        "step[1].id",
        |k| matches!(k, ErrorKind::DuplicateId { first_line: 8, .. }),
    );
    // close before the id exists
    assert_error(
        &with_step(&format!("op = \"close\"\nid = \"l\"\n[[step]]\n{listen}")),
        7,
        "step[0].id",
        |k| matches!(k, ErrorKind::UndefinedId(_)),
    );
}

#[test]
fn unquoted_connect_error_keys_get_their_own_message() {
    assert_error(
        &with_provider("connect_errors = { 10.0.0.2 = \"WSAECONNRESET\" }\n"),
        5,
        "host[0].provider[0].connect_errors.\"10.0.0.2\"",
        |k| {
            matches!(k, ErrorKind::UnquotedAddressKey { key, value, .. }
                if key == "10.0.0.2" && value == "\"WSAECONNRESET\"")
        },
    );
}

#[test]
fn an_unquoted_connect_error_key_is_named_whole_and_quoted_with_the_users_value() {
    // The header form, two addresses sharing the dotted prefix 10.1.2.
    let src = with_provider(
        "[host.provider.connect_errors]\n10.1.2.9 = \"WSAENETUNREACH\"\n10.1.2.10 = \"WSAECONNRESET\"\n",
    );
    let errs = errors(&src);
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 2, "{texts:#?}");
    assert_eq!(
        texts[0],
        "line 6: host[0].provider[0].connect_errors.\"10.1.2.9\": unquoted, TOML reads 10.1.2.9 as nested keys (10, 1, 2, 9); connect_errors keys are IP addresses and must be quoted: \"10.1.2.9\" = \"WSAENETUNREACH\""
    );
    assert!(
        texts[1].starts_with("line 7: host[0].provider[0].connect_errors.\"10.1.2.10\": "),
        "{texts:#?}"
    );
    assert!(
        texts[1].ends_with("\"10.1.2.10\" = \"WSAECONNRESET\""),
        "{texts:#?}"
    );
    // A dotted key that is no address is named whole too.
    assert_error(
        &with_provider("connect_errors.alpha.beta = \"WSAECONNRESET\"\n"),
        5,
        "host[0].provider[0].connect_errors.\"alpha.beta\"",
        |k| matches!(k, ErrorKind::BadIpAddress(v) if v == "alpha.beta"),
    );
    // A table written as a value is not a dotted key: a bad address, then a type error.
    let src = with_provider("connect_errors = { peer = { x = 1 } }\n");
    assert_error(
        &src,
        5,
        "host[0].provider[0].connect_errors.peer",
        |k| matches!(k, ErrorKind::BadIpAddress(v) if v == "peer"),
    );
    // Quoted, the same key is fine.
    let s = parse_all(&with_provider(
        "connect_errors = { \"10.1.2.9\" = \"WSAENETUNREACH\" }\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.hosts[0].providers[0].connect_errors.len(), 1);
}

#[test]
fn every_error_is_collected_and_sorted_by_line() {
    let src = "\
[[host]]
name = \"a\"
interfaces = [\"10.0.0.1\"]
[[host.provider]]
name = \"p\"
startup = \"WSAEBOGUS\"
version = \"x\"
[[step]]
op = \"connect\"
backlog = 1
";
    let errs = errors(src);
    let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 6, 7, 8, 10], "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .starts_with("line 3: host[0].interfaces[0]: ")
    );
}

#[test]
fn inline_tables_work_like_headers() {
    let s = parse_all(
        "host = [{ name = \"a\", provider = [{ name = \"p\" }] }]\nstep = [{ op = \"remove\", provider = \"p\" }]\n",
    );
    assert!(s.is_ok(), "{s:?}");
}

#[test]
fn crlf_and_unicode_lines() {
    let src = "[[host]]\r\nname = \"é\"\r\ncolour = 1\r\n";
    assert_error(src, 3, "host[0].colour", |k| {
        matches!(k, ErrorKind::UnknownKey { .. })
    });
}

// ----- library -----------------------------------------------------------------------------

/// A private directory holding an empty file `lib.so` (the parser never opens it).
fn library_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wsd-sim-scenario-{}-{tag}", std::process::id()));
    assert!(std::fs::create_dir_all(&dir).is_ok());
    assert!(std::fs::write(dir.join("lib.so"), b"").is_ok());
    dir
}

#[test]
fn a_library_path_is_joined_to_the_scenario_directory_and_never_left_bare() {
    use std::path::Path;
    let r =
        |dir: &str, given: &str| super::parse::resolve_library(Path::new(dir), Path::new(given));
    assert_eq!(r("", "lib.so"), Path::new("./lib.so"));
    assert_eq!(r("", "sub/lib.so"), Path::new("sub/lib.so"));
    assert_eq!(r("scenarios", "lib.so"), Path::new("scenarios/lib.so"));
    assert_eq!(
        r("scenarios", "../lib.so"),
        Path::new("scenarios/../lib.so")
    );
    assert_eq!(r("scenarios", "/opt/lib.so"), Path::new("/opt/lib.so"));
}

#[test]
fn a_library_relative_to_the_scenario_file_is_found_there() {
    let dir = library_dir("found");
    let src = with_provider(
        "library = \"lib.so\"\nguid = \"0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9f3\"\nhidden = false\n",
    );
    let s = parse_in(&src, Ops::All, &dir);
    assert!(s.is_ok(), "{s:?}");
    let p = s.ok().map(|s| s.hosts[0].providers[0].clone());
    assert_eq!(
        p.as_ref().and_then(|p| p.library.clone()),
        Some(dir.join("lib.so"))
    );
    assert_eq!(p.map(|p| p.hidden), Some(false));
    // From another directory the same text names another file, which is not there.
    let errs = match parse_with(&src, Ops::All) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    };
    assert!(
        errs.iter().any(|e| e.line == 5
            && e.key == "host[0].provider[0].library"
            && matches!(&e.kind, ErrorKind::BadLibrary { path, .. } if path == "./lib.so")),
        "{errs:?}"
    );
}

#[test]
fn a_missing_library_or_a_directory_is_an_error_at_its_line() {
    assert_error(
        &with_provider("library = \"/nonexistent/wsd/lib.so\"\n"),
        5,
        "host[0].provider[0].library",
        |k| matches!(k, ErrorKind::BadLibrary { path, why } if path == "/nonexistent/wsd/lib.so" && !why.is_empty()),
    );
    let dir = library_dir("directory");
    let src = with_provider(&format!("library = {:?}\n", dir.display().to_string()));
    assert_error(
        &src,
        5,
        "host[0].provider[0].library",
        |k| matches!(k, ErrorKind::BadLibrary { why, .. } if why.contains("directory")),
    );
    assert_error(
        &with_provider("library = \"\"\n"),
        5,
        "host[0].provider[0].library",
        |k| matches!(k, ErrorKind::Empty),
    );
}

#[test]
fn every_mock_key_beside_a_library_is_an_error_at_its_own_line() {
    let dir = library_dir("mock-keys");
    let src = with_provider(
        "library = \"lib.so\"\nstartup = \"ok\"\nfabric = \"san1\"\nextensions.rdma_read = \"WSAEOPNOTSUPP\"\naddresses = [\"10.0.0.1\"]\n",
    );
    let errs = match parse_in(&src, Ops::All, &dir) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    };
    let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (6, "host[0].provider[0].startup"),
            (8, "host[0].provider[0].extensions"),
            (9, "host[0].provider[0].addresses"),
        ],
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .all(|e| e.kind == ErrorKind::MockKeyWithLibrary { library_line: 5 })
    );
    // Every key the spec lists is one of them, and only those.
    assert_eq!(super::parse::MOCK_KEYS.len(), 18);
    for key in [
        "name",
        "guid",
        "registered",
        "hidden",
        "installed",
        "fabric",
        "library",
    ] {
        assert!(!super::parse::MOCK_KEYS.contains(&key), "{key}");
    }
}

#[test]
fn one_library_file_backs_one_catalog_entry() {
    let dir = library_dir("shared");
    let src = format!(
        "{HOST}[[host.provider]]\nname = \"p\"\nlibrary = \"lib.so\"\n[[host]]\nname = \"b\"\n[[host.provider]]\nname = \"q\"\nlibrary = \"./lib.so\"\n"
    );
    let errs = match parse_in(&src, Ops::All, &dir) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    };
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].line, errs[0].key.as_str()),
        (10, "host[1].provider[0].library")
    );
    assert!(
        matches!(&errs[0].kind, ErrorKind::SharedLibrary { other, line: 5, .. } if other == "host[0].provider[0]"),
        "{errs:?}"
    );
}

#[test]
fn an_address_change_of_a_library_provider_is_an_error() {
    let dir = library_dir("address-change");
    let src = format!(
        "{HOST}[[host.provider]]\nname = \"p\"\nlibrary = \"lib.so\"\n[[step]]\nop = \"address_change\"\nprovider = \"p\"\naddresses = [\"10.0.0.1\"]\n"
    );
    let errs = match parse_in(&src, Ops::All, &dir) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    };
    assert!(
        errs.iter().any(|e| e.line == 8
            && e.key == "step[0].provider"
            && matches!(&e.kind, ErrorKind::AddressChangeOfLibrary { provider } if provider == "p")),
        "{errs:?}"
    );
}

// ----- property tests ---------------------------------------------------------------------

/// Every key the scenario format knows (the parser's own lists), and a few it does not.
fn keys() -> Vec<&'static str> {
    use super::parse::{
        HOST_KEYS, PROVIDER_KEYS, RAW_KEYS, REGISTRATION_KEYS, ROOT_KEYS, STEP_KEYS,
    };
    let mut k: Vec<&'static str> = [
        ROOT_KEYS,
        HOST_KEYS,
        PROVIDER_KEYS,
        REGISTRATION_KEYS,
        RAW_KEYS,
        STEP_KEYS,
    ]
    .concat();
    k.extend([
        "rdma_read",
        "rdma_write",
        "register_memory",
        "10.0.0.1",
        "fd00::1",
        "zz",
    ]);
    k.sort_unstable();
    k.dedup();
    k
}

/// Interesting string values: valid and almost-valid ones of every kind.
const STRINGS: &[&str] = &[
    "a",
    "b",
    "p",
    "q",
    "",
    "ok",
    "WSAECONNREFUSED",
    "WSAEBOGUS",
    "error:WSAEINVAL",
    "error:",
    "10.0.0.1",
    "10.0.0.1/8",
    "10.0.0.1:80",
    "[fd00::1]:80",
    "fd00::1",
    "[::ffff:10.0.0.1]:1",
    "10.0.0.1:0",
    "0.0.0.0:5",
    "2.2",
    "256.1",
    "generic",
    "winofed",
    "none",
    "garbage",
    "too_small_once",
    "WSPConnect",
    "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, rdma_read)",
    "0x10",
    "00ff",
    "0g",
    "{0f3b7a52-6c1e-4d8a-9b27-5e41c0d2a9f3}",
    "connect",
    "listen",
    "close",
    "explain",
    "address_change",
    "install",
    "remove",
    "stream",
    "datagram",
    "san:p",
    "tcp",
    "é\u{0}\u{7f}",
];

fn leaf() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        proptest::sample::select(STRINGS).prop_map(|s| toml::Value::String(s.to_owned())),
        any::<String>().prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        (-10i64..10).prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(toml::Value::Float),
    ]
}

fn value() -> impl Strategy<Value = toml::Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(proptest::sample::select(keys()), inner, 0..6)
                .prop_map(|m| {
                    toml::Value::Table(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
        ]
    })
}

/// A document shaped like a scenario: `[[host]]` with providers and registrations, `[[step]]`.
fn document() -> impl Strategy<Value = toml::Table> {
    let table = || {
        proptest::collection::btree_map(proptest::sample::select(keys()), value(), 0..8).prop_map(
            |m| {
                m.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<toml::Table>()
            },
        )
    };
    let host = (
        table(),
        proptest::collection::vec(table(), 0..3),
        proptest::collection::vec(table(), 0..2),
    )
        .prop_map(|(mut h, providers, regs)| {
            h.insert(
                "provider".into(),
                toml::Value::Array(providers.into_iter().map(toml::Value::Table).collect()),
            );
            if !regs.is_empty() {
                h.insert(
                    "registration".into(),
                    toml::Value::Array(regs.into_iter().map(toml::Value::Table).collect()),
                );
            }
            h
        });
    (
        proptest::collection::vec(host, 0..3),
        proptest::collection::vec(table(), 0..4),
        table(),
    )
        .prop_map(|(hosts, steps, mut root)| {
            root.insert(
                "host".into(),
                toml::Value::Array(hosts.into_iter().map(toml::Value::Table).collect()),
            );
            root.insert(
                "step".into(),
                toml::Value::Array(steps.into_iter().map(toml::Value::Table).collect()),
            );
            root
        })
}

fn check_result(src: &str) -> Result<(), TestCaseError> {
    check_result_with(src, Ops::Supported)?;
    check_result_with(src, Ops::All)
}

fn check_result_with(src: &str, ops: Ops) -> Result<(), TestCaseError> {
    let lines = src.lines().count().max(1);
    match parse_with(src, ops) {
        Ok(s) => prop_assert!(!s.hosts.is_empty()),
        Err(e) => {
            prop_assert!(!e.0.is_empty());
            for err in &e.0 {
                prop_assert!(
                    err.line >= 1 && err.line <= lines + 1,
                    "line {} of {lines}",
                    err.line
                );
                prop_assert!(!err.to_string().is_empty());
            }
            prop_assert!(e.0.windows(2).all(|w| w[0].line <= w[1].line));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        check_result(&src)?;
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics(src in "[\\[\\]a-z0-9=\"'.,:{}# \n_-]{0,200}") {
        check_result(&src)?;
    }

    #[test]
    fn arbitrary_scenario_shaped_documents_never_panic(doc in document()) {
        let src = toml::to_string(&doc);
        prop_assume!(src.is_ok());
        let src = src.unwrap_or_default();
        check_result(&src)?;
    }

    #[test]
    fn mutated_default_scenario_never_panics(cut in 0usize..4000, insert in "[\\[\\]a-z0-9=\"'.:{} \n]{0,12}") {
        let src = crate::DEFAULT_SCENARIO;
        let mut at = cut.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &src[..at], insert, &src[at..]);
        check_result(&mutated)?;
    }
}

#[test]
fn a_step_on_an_undefined_host_still_gets_its_keys_checked() {
    let src = with_step("op = \"explain\"\nhost = \"zeta\"\nto = \"10.0.0.1\"\nbacklog = 1\n");
    assert_error(&src, 7, "step[0].host", |k| {
        matches!(k, ErrorKind::UndefinedHost(_))
    });
    assert_error(&src, 8, "step[0].to", |k| {
        matches!(k, ErrorKind::BadSocketAddress { .. })
    });
    assert_error(&src, 9, "step[0].backlog", |k| {
        matches!(k, ErrorKind::NotUsedByOp { .. })
    });
    // A bad op does not hide an undefined host.
    let src = with_step("op = \"jump\"\nhost = \"zeta\"\n");
    assert_error(&src, 6, "step[0].op", |k| matches!(k, ErrorKind::BadOp(_)));
    assert_error(&src, 7, "step[0].host", |k| {
        matches!(k, ErrorKind::UndefinedHost(_))
    });
}

#[test]
fn a_quoted_address_key_with_a_table_value_is_a_type_error() {
    assert_error(
        &with_provider("connect_errors = { \"10.0.0.1\" = { x = 1 } }\n"),
        5,
        "host[0].provider[0].connect_errors.\"10.0.0.1\"",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
}

#[test]
fn parse_accepts_send_and_shutdown_now_that_the_runner_supports_them() {
    let bodies = [
        ("send", "id = \"c\"\nbytes = 10\n"),
        ("shutdown", "id = \"c\"\nhow = \"send\"\n"),
    ];
    // A connect with id "c" first (line 5), so that send and shutdown are valid.
    let first = "op = \"connect\"\nto = \"10.0.0.1:80\"\nid = \"c\"\n[[step]]\n";
    for (op, body) in bodies {
        let src = with_step(&format!("{first}op = {op:?}\n{body}"));
        assert!(parse_all(&src).is_ok(), "{op}: {:?}", parse_all(&src));
        assert!(
            errors_strict(&src).is_empty(),
            "{op}: {:?}",
            errors_strict(&src)
        );
    }
    // Op::is_supported is the one place that decides, and today it supports every op.
    for op in Op::ALL {
        assert!(op.is_supported(), "{op}");
        let strict_ok = parse(&with_step(&format!("op = {:?}\n", op.name())))
            .err()
            .is_none_or(|e| {
                !e.0.iter()
                    .any(|x| matches!(x.kind, ErrorKind::UnsupportedOp { .. }))
            });
        assert_eq!(strict_ok, op.is_supported(), "{op}");
    }
}

fn errors_strict(src: &str) -> Vec<ScenarioError> {
    parse(src).err().map(|e| e.0).unwrap_or_default()
}

#[test]
fn send_shutdown_and_advance_steps_are_validated() {
    let connect = "op = \"connect\"\nto = \"10.0.0.1:80\"\nid = \"c\"\n[[step]]\nop = \"listen\"\naddress = \"0.0.0.0:80\"\nid = \"l\"\n[[step]]\n";
    // step[2] starts on line 13, its keys from line 14.
    let s = parse_all(&with_step(&format!(
        "{connect}op = \"send\"\nid = \"c\"\nbytes = 100\noob = true\nexpect = \"ok\"\n[[step]]\nop = \"shutdown\"\nid = \"c\"\nhow = \"both\"\n[[step]]\nop = \"advance\"\nms = 250\n"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.steps[2].action,
        Action::Send {
            id: "c".into(),
            bytes: 100,
            oob: true,
            expect: Some(ListenResult::Ok)
        }
    );
    assert_eq!(
        s.steps[3].action,
        Action::Shutdown {
            id: "c".into(),
            how: ShutdownHow::Both
        }
    );
    assert_eq!(s.steps[4].action, Action::Advance { ms: 250 });
    let bad = |body: &str| with_step(&format!("{connect}{body}"));
    assert_error(
        &bad("op = \"send\"\nid = \"l\"\nbytes = 1\n"),
        15,
        "step[2].id",
        |k| matches!(k, ErrorKind::NotAConnection { line: 12, .. }),
    );
    assert_error(
        &bad("op = \"send\"\nid = \"x\"\nbytes = 1\n"),
        15,
        "step[2].id",
        |k| matches!(k, ErrorKind::UndefinedConnection(_)),
    );
    assert_error(
        &bad("op = \"send\"\nid = \"c\"\n"),
        13,
        "step[2].bytes",
        |k| matches!(k, ErrorKind::MissingForOp { op: "send" }),
    );
    assert_error(
        &bad("op = \"send\"\nid = \"c\"\nbytes = -1\n"),
        16,
        "step[2].bytes",
        |k| matches!(k, ErrorKind::OutOfRange { .. }),
    );
    assert_error(
        &bad("op = \"send\"\nid = \"c\"\nbytes = 4294967296\n"),
        16,
        "step[2].bytes",
        |k| matches!(k, ErrorKind::OutOfRange { .. }),
    );
    // At most 16 MiB (MAX_SEND_BYTES): the simulator holds every byte.
    assert_error(
        &bad("op = \"send\"\nid = \"c\"\nbytes = 16777217\n"),
        16,
        "step[2].bytes",
        |k| matches!(k, ErrorKind::OutOfRange { range, .. } if range.contains("16 MiB")),
    );
    assert!(parse_all(&bad("op = \"send\"\nid = \"c\"\nbytes = 16777216\n")).is_ok());
    assert_error(
        &bad("op = \"shutdown\"\nid = \"c\"\nhow = \"sideways\"\n"),
        16,
        "step[2].how",
        |k| matches!(k, ErrorKind::BadHow(_)),
    );
    assert_error(&bad("op = \"advance\"\nms = -5\n"), 15, "step[2].ms", |k| {
        matches!(k, ErrorKind::OutOfRange { .. })
    });
    assert_error(
        &bad("op = \"advance\"\nms = 5\nhow = \"send\"\n"),
        16,
        "step[2].how",
        |k| matches!(k, ErrorKind::NotUsedByOp { op: "advance", .. }),
    );
    // close takes a listener's id as well as a connection's.
    assert!(parse_all(&bad("op = \"close\"\nid = \"l\"\n")).is_ok());
}

#[test]
fn control_characters_in_names_are_refused_with_key_and_line() {
    for bad in ["a\u{0}b", "a\nb", "a\tb", "a\rb", "\u{7f}", "x\u{85}"] {
        let q = toml::Value::String(bad.to_owned()).to_string();
        let cases = [
            (format!("[[host]]\nname = {q}\n"), 2, "host[0].name"),
            (
                format!("{HOST}[[host.provider]]\nname = {q}\n"),
                4,
                "host[0].provider[0].name",
            ),
            (
                with_provider(&format!("fabric = {q}\n")),
                5,
                "host[0].provider[0].fabric",
            ),
            (
                format!("{HOST}[[host.registration]]\nname = {q}\nhex = \"00\"\n"),
                4,
                "host[0].registration[0].name",
            ),
            (
                with_step(&format!(
                    "op = \"connect\"\nto = \"10.0.0.1:80\"\nid = {q}\n"
                )),
                8,
                "step[0].id",
            ),
            (
                with_step(&format!("op = \"close\"\nid = {q}\n")),
                7,
                "step[0].id",
            ),
        ];
        for (src, line, key) in cases {
            assert_error(
                &src,
                line,
                key,
                |k| matches!(k, ErrorKind::ControlCharacter { ch, .. } if ch.is_control()),
            );
        }
    }
    let m = message_on("[[host]]\nname = \"al\\tpha\"\n", "host[0].name");
    assert_eq!(
        m,
        "line 2: host[0].name: contains the control character U+0009 (\\t) at character 2: names must be printable (no NUL, tab, newline or other control character)"
    );
    // Other Unicode is fine.
    assert!(parse_all("[[host]]\nname = \"hôte-α\"\n").is_ok());
}

#[test]
fn the_data_path_provider_keys_are_parsed_with_the_mock_s_defaults() {
    let s = parse_all(&with_provider("")).unwrap_or_else(|e| panic!("{e}"));
    let p = &s.hosts[0].providers[0];
    assert_eq!(
        (p.max_msg_size, p.max_rdma_size, p.rdma_threshold),
        (65536, 1_048_576, 8192)
    );
    assert_eq!(
        (p.register_memory, p.register_rdma_memory),
        (Outcome::Ok, Outcome::Ok)
    );
    let s = parse_all(&with_provider(
        "max_msg_size = 2048\nmax_rdma_size = 4096\nrdma_threshold = 0\nregister_memory = \"ok\"\nregister_rdma_memory = \"WSAENOBUFS\"\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let p = &s.hosts[0].providers[0];
    assert_eq!(
        (p.max_msg_size, p.max_rdma_size, p.rdma_threshold),
        (2048, 4096, 0)
    );
    assert_eq!(p.register_memory, Outcome::Ok);
    assert_eq!(p.register_rdma_memory, Outcome::Fail(WsaError::WSAENOBUFS));
    // The largest values a DWORD socket option holds.
    let top =
        "max_msg_size = 4294967295\nmax_rdma_size = 4294967295\nrdma_threshold = 4294967295\n";
    assert!(parse_all(&with_provider(top)).is_ok());
}

#[test]
fn the_data_path_provider_keys_refuse_bad_values_on_their_line() {
    for (body, key) in [
        ("max_msg_size = -1\n", "max_msg_size"),
        ("max_msg_size = 4294967296\n", "max_msg_size"),
        ("rdma_threshold = 4294967296\n", "rdma_threshold"),
        // Below 1 KiB an RDMA transfer would take too many operations to simulate.
        ("max_rdma_size = 1023\n", "max_rdma_size"),
        ("max_rdma_size = 0\n", "max_rdma_size"),
    ] {
        assert_error(
            &with_provider(body),
            5,
            &format!("host[0].provider[0].{key}"),
            |k| matches!(k, ErrorKind::OutOfRange { .. }),
        );
    }
    assert_error(
        &with_provider("max_rdma_size = \"big\"\n"),
        5,
        "host[0].provider[0].max_rdma_size",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
    assert_error(
        &with_provider("register_memory = \"WSAEBOGUS\"\n"),
        5,
        "host[0].provider[0].register_memory",
        |k| matches!(k, ErrorKind::UnknownWsaName(_)),
    );
    assert_error(
        &with_provider("register_rdma_memory = \"fail\"\n"),
        5,
        "host[0].provider[0].register_rdma_memory",
        |k| matches!(k, ErrorKind::BadOutcome(_)),
    );
    assert_error(
        &with_provider("register_rdma_memory = true\n"),
        5,
        "host[0].provider[0].register_rdma_memory",
        |k| matches!(k, ErrorKind::WrongType { .. }),
    );
}
