//! The data steps (`send`, `shutdown`) end to end: the examples of `examples/data/` through the
//! built binary (the report's fields per path, the byte counts of both ends, shutdown), and
//! random sequences of data steps through the library, checking that every byte arrives
//! intact and every send finishes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wsd-sim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wsd_sim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("WSD_SIM_DEBUG")
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

/// The JSON report of `examples/<name>.toml`, which must run with its expects holding.
fn report(name: &str) -> Value {
    let path = root().join(format!("examples/{name}.toml"));
    let o = wsd_sim(&["run", &path.display().to_string(), "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"))
}

fn array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// The send steps of a report.
fn sends(r: &Value) -> Vec<Value> {
    array(&r["steps"])
        .into_iter()
        .filter(|s| s["op"] == "send")
        .collect()
}

/// `(path, messages, rdma_ops)` of a send step, as text.
fn how(s: &Value) -> (String, u64, u64) {
    (
        s["path"].as_str().unwrap_or("null").to_owned(),
        s["messages"].as_u64().unwrap_or(u64::MAX),
        s["rdma_ops"].as_u64().unwrap_or(u64::MAX),
    )
}

/// The `connections[]` element of connection `id` at `host`.
fn end<'a>(r: &'a Value, id: &str, host: &str) -> &'a Value {
    r["connections"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id && c["host"] == host))
        .unwrap_or_else(|| panic!("no end of {id} on {host}"))
}

#[test]
fn every_send_of_every_example_arrives_intact() {
    let mut names: Vec<String> = [
        "inline",
        "rdma_read",
        "rdma_write",
        "enobufs",
        "urgent",
        "shutdown",
    ]
    .iter()
    .map(|n| format!("data/{n}"))
    .collect();
    names.push("default".to_owned());
    for name in names {
        let r = report(&name);
        let steps = sends(&r);
        assert!(!steps.is_empty(), "{name}: no send");
        for s in steps {
            assert_ne!(s["result"], "error:corrupted", "{name}: {s}");
            assert_ne!(s["result"], "error:WSA_IO_INCOMPLETE", "{name}: {s}");
            if !s["received"].is_null() {
                assert_eq!(s["received"]["intact"], true, "{name}: {s}");
            }
        }
    }
}

#[test]
fn each_path_reports_itself_with_its_messages_and_rdma_operations() {
    // Inline: one message for 100 bytes, several for 8000 bytes in 2 KiB messages, no RDMA.
    let r = report("data/inline");
    let s = sends(&r);
    assert_eq!(how(&s[0]), ("inline".to_owned(), 1, 0));
    let (path, messages, ops) = how(&s[1]);
    assert_eq!((path.as_str(), ops), ("inline", 0));
    assert!(messages >= 4, "8000 bytes in messages of 2048: {}", s[1]);
    // RDMA read: the offer and the done message; one read per MiB (SO_MAX_RDMA_SIZE).
    let r = report("data/rdma_read");
    let s = sends(&r);
    assert_eq!(how(&s[0]), ("rdma_read".to_owned(), 2, 1));
    assert_eq!(how(&s[1]), ("rdma_read".to_owned(), 2, 3));
    let reads = array(&r["trace"])
        .iter()
        .filter(|t| t["call"] == "WSPRdmaRead" && t["host"] == "beta")
        .count();
    assert_eq!(reads, 4, "the receiver reads");
    // RDMA write to the side without RdmaRead: request, target, done; read the other way.
    let r = report("data/rdma_write");
    let s = sends(&r);
    assert_eq!(how(&s[0]), ("rdma_write".to_owned(), 3, 1));
    assert_eq!(how(&s[1]), ("rdma_read".to_owned(), 2, 1));
    let writes: Vec<String> = array(&r["trace"])
        .iter()
        .filter(|t| t["call"] == "WSPRdmaWrite")
        .map(|t| t["host"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(writes, ["alpha"], "the sender writes");
    // TCP/IP: no messages, no RDMA.
    let r = report("default");
    let tcp = sends(&r)
        .into_iter()
        .find(|s| s["connection"] == "fallback")
        .unwrap_or(Value::Null);
    assert_eq!(how(&tcp), ("tcp".to_owned(), 0, 0));
    // The summary counts the bytes per path.
    assert_eq!(
        r["summary"]["bytes_per_path"],
        serde_json::json!({"inline": 100, "rdma_read": 1048576, "rdma_write": 0, "tcp": 1048576})
    );
}

#[test]
fn the_receiver_counts_the_bytes_the_sender_counts() {
    for (name, id) in [
        ("data/inline", "fast"),
        ("data/rdma_read", "fast"),
        ("data/rdma_write", "fast"),
        ("data/enobufs", "fast"),
        ("default", "fast"),
        ("default", "fallback"),
    ] {
        let r = report(name);
        let (a, b) = (end(&r, id, "alpha"), end(&r, id, "beta"));
        assert_eq!(a["bytes_sent"], b["bytes_received"], "{name} {id}: {a} {b}");
        assert_eq!(b["bytes_sent"], a["bytes_received"], "{name} {id}: {a} {b}");
        // And what the steps sent, and the peer read, on that connection.
        let mut sent = [0u64; 2];
        let mut read = [0u64; 2];
        for s in sends(&r).iter().filter(|s| s["connection"] == id) {
            let i = usize::from(s["host"] == "beta");
            if s["result"] == "ok" {
                sent[i] += s["bytes"].as_u64().unwrap_or(0);
            }
            read[i] += s["received"]["bytes"].as_u64().unwrap_or(0)
                + s["received"]["urgent"].as_u64().unwrap_or(0);
        }
        assert_eq!(a["bytes_sent"].as_u64(), Some(sent[0]), "{name} {id}");
        assert_eq!(b["bytes_sent"].as_u64(), Some(sent[1]), "{name} {id}");
        assert_eq!(read, sent, "{name} {id}: the peer read what was sent");
    }
    // The counts stay after the close.
    let r = report("default");
    assert_eq!(end(&r, "fast", "alpha")["state"], "closed");
    assert_eq!(end(&r, "fast", "beta")["bytes_received"], 1048676);
}

#[test]
fn an_urgent_send_s_last_byte_is_read_apart() {
    let r = report("data/urgent");
    let s = sends(&r);
    let got: Vec<(u64, u64)> = s
        .iter()
        .map(|s| {
            (
                s["received"]["bytes"].as_u64().unwrap_or(0),
                s["received"]["urgent"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, [(10, 0), (4, 1), (19999, 1), (4, 1), (0, 1)]);
    // On the SAN an urgent send is inline, even above the RDMA threshold.
    assert_eq!(how(&s[2]).0, "inline");
    assert_eq!(how(&s[3]).0, "tcp");
    // The accepting end of the TCP connection (the TCP/IP provider's socket) sent it.
    assert_eq!(s[4]["host"], "beta");
    assert_eq!(s[4]["to"], "alpha");
}

#[test]
fn a_failed_registration_fails_the_large_send_only() {
    let r = report("data/enobufs");
    let s = sends(&r);
    assert_eq!(s[0]["result"], "error:WSAENOBUFS");
    for k in ["path", "messages", "rdma_ops"] {
        assert_eq!(s[0][k], Value::Null, "{k}");
    }
    assert_eq!(s[0]["received"]["bytes"], 0);
    assert_eq!(s[1]["result"], "ok");
    assert_eq!(s[2]["result"], "ok");
    let rdma: Vec<(String, String)> = array(&r["trace"])
        .iter()
        .filter(|t| t["call"] == "WSPRegisterRdmaMemory")
        .map(|t| {
            (
                t["host"].as_str().unwrap_or("").to_owned(),
                t["result"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rdma,
        [
            ("alpha".to_owned(), "WSAENOBUFS".to_owned()),
            ("beta".to_owned(), "ok".to_owned())
        ]
    );
    assert_eq!(r["summary"]["sends"]["error:WSAENOBUFS"], 1);
    assert_eq!(r["summary"]["bytes_per_path"]["rdma_read"], 1048576);
}

#[test]
fn shutdown_ends_the_stream_refuses_sends_and_discards_what_arrives() {
    let r = report("data/shutdown");
    let steps = array(&r["steps"]);
    let of = |line: u64| {
        steps
            .iter()
            .find(|s| s["line"] == line)
            .cloned()
            .unwrap_or_else(|| panic!("no step on line {line}"))
    };
    // alpha shuts down sending: beta reads the end of the stream.
    let s = of(43);
    assert_eq!(
        (s["op"].as_str(), s["result"].as_str()),
        (Some("shutdown"), Some("ok"))
    );
    assert_eq!(s["received"]["end_of_stream"], true);
    assert_eq!(of(48)["result"], "error:WSAESHUTDOWN");
    // The other direction still carries data.
    assert_eq!(of(55)["received"]["bytes"], 100);
    // alpha stops receiving: beta's send succeeds and alpha's application discards it.
    let s = of(68);
    assert_eq!(s["result"], "ok");
    assert_eq!(s["received"]["bytes"], 0);
    assert_eq!(s["received"]["intact"], true);
    assert!(
        s["received"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("100000 byte(s)") && d.contains("discarded")),
        "{s}"
    );
    // TCP/IP from its accepting end alike.
    assert_eq!(of(84)["received"]["end_of_stream"], true);
    assert_eq!(of(90)["result"], "error:WSAESHUTDOWN");
    assert!(
        of(97)["received"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("discarded"))
    );
    // SESS-6: the switch forwards no shutdown to the SAN provider (there is no such call).
    assert!(
        array(&r["trace"])
            .iter()
            .all(|t| !t["call"].as_str().unwrap_or("").contains("Shutdown")),
    );
}

#[test]
fn text_and_mermaid_draw_each_send_between_the_hosts() {
    let p = root().join("examples/data/rdma_write.toml");
    let p = p.display().to_string();
    let text = String::from_utf8_lossy(&wsd_sim(&["run", &p]).stdout).into_owned();
    assert!(
        text.contains("        alpha -> beta: 1048576 bytes rdma_write, 3 messages, 1 RDMA operation; beta read 1048576 bytes, intact\n"),
        "{text}"
    );
    assert!(text.contains("         sends ok 2\n"), "{text}");
    assert!(
        text.contains(
            "           bytes per path inline 0, rdma_read 1048576, rdma_write 1048576, tcp 0\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("(open; sent 1048576, received 1048576)"),
        "{text}"
    );
    let mmd =
        String::from_utf8_lossy(&wsd_sim(&["run", &p, "--format", "mermaid"]).stdout).into_owned();
    assert!(mmd.contains("participant P1 as alpha.ibal\n"), "{mmd}");
    assert!(mmd.contains("participant P2 as beta.ofed\n"), "{mmd}");
    assert!(
        mmd.contains("    P1-)P2: 1048576 bytes rdma_write\n"),
        "{mmd}"
    );
    assert!(
        mmd.contains("    P2-)P1: 1048576 bytes rdma_read\n"),
        "{mmd}"
    );
    // A failed send is a lost arrow.
    let p = root().join("examples/data/enobufs.toml");
    let mmd = String::from_utf8_lossy(
        &wsd_sim(&["run", &p.display().to_string(), "--format", "mermaid"]).stdout,
    )
    .into_owned();
    assert!(
        mmd.contains("    P1-xP2: 1048576 bytes error:WSAENOBUFS\n"),
        "{mmd}"
    );
}

/// Two hosts with a SAN connection `s` (beta's provider without RdmaRead when `write`) and a
/// TCP connection `t`, then `steps`.
fn two_hosts(write: bool, alpha: &str, steps: &str) -> String {
    let beta = if write {
        "extensions.rdma_read = \"WSAEOPNOTSUPP\"\n"
    } else {
        ""
    };
    format!(
        "[[host]]\nname = \"alpha\"\ninterfaces = [\"10.1.2.5/24\", \"192.0.2.10/24\"]\n[[host.provider]]\nname = \"ibal\"\naddresses = [\"10.1.2.5\"]\n{alpha}\n[[host]]\nname = \"beta\"\ninterfaces = [\"10.1.2.9/24\", \"192.0.2.20/24\"]\n[[host.provider]]\nname = \"ibal\"\naddresses = [\"10.1.2.9\"]\n{beta}\n[[step]]\nop = \"listen\"\nhost = \"beta\"\naddress = \"0.0.0.0:5000\"\n[[step]]\nop = \"connect\"\nto = \"10.1.2.9:5000\"\nid = \"s\"\nexpect = \"san:ibal\"\n[[step]]\nop = \"connect\"\nto = \"192.0.2.20:5000\"\nid = \"t\"\nexpect = \"tcp\"\n{steps}"
    )
}

/// One data step of a random sequence.
#[derive(Debug, Clone)]
enum DataStep {
    Send {
        beta: bool,
        tcp: bool,
        bytes: u32,
        oob: bool,
    },
    Shutdown {
        beta: bool,
        tcp: bool,
        how: &'static str,
    },
}

impl DataStep {
    fn toml(&self) -> String {
        let host = |beta: bool| if beta { "beta" } else { "alpha" };
        let id = |tcp: bool| if tcp { "t" } else { "s" };
        match self {
            DataStep::Send {
                beta,
                tcp,
                bytes,
                oob,
            } => format!(
                "[[step]]\nop = \"send\"\nhost = \"{}\"\nid = \"{}\"\nbytes = {bytes}\noob = {oob}\n",
                host(*beta),
                id(*tcp)
            ),
            DataStep::Shutdown { beta, tcp, how } => format!(
                "[[step]]\nop = \"shutdown\"\nhost = \"{}\"\nid = \"{}\"\nhow = \"{how}\"\n",
                host(*beta),
                id(*tcp)
            ),
        }
    }
}

fn data_step() -> impl Strategy<Value = DataStep> {
    let sizes = prop_oneof![
        0u32..=16,
        100u32..=9000,
        Just(8192u32),
        Just(8193u32),
        20_000u32..=300_000,
    ];
    prop_oneof![
        8 => (any::<bool>(), any::<bool>(), sizes, prop::bool::weighted(0.2)).prop_map(
            |(beta, tcp, bytes, oob)| DataStep::Send { beta, tcp, bytes, oob }
        ),
        1 => (
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec!["send", "receive", "both"])
        )
            .prop_map(|(beta, tcp, how)| DataStep::Shutdown { beta, tcp, how }),
    ]
}

/// The provider settings the random sequences run with: defaults, small messages and RDMA
/// operations, a high threshold.
fn settings() -> impl Strategy<Value = (bool, &'static str)> {
    (
        any::<bool>(),
        prop::sample::select(vec![
            "",
            "max_msg_size = 512\n",
            "max_rdma_size = 4096\n",
            "rdma_threshold = 65536\n",
            "max_msg_size = 1024\nrdma_threshold = 0\n",
        ]),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the data steps, every send finishes, every byte read is the byte sent, and
    /// the ends' counts agree (urgent bytes apart: see the report on the SAN's count).
    #[test]
    fn random_data_steps_deliver_every_byte_intact(
        (write, alpha) in settings(),
        steps in prop::collection::vec(data_step(), 1..12),
    ) {
        let text = two_hosts(
            write,
            alpha,
            &steps.iter().map(DataStep::toml).collect::<String>(),
        );
        let scenario = wsd_sim::scenario::parse(&text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (r, mismatches) = wsd_sim::run::run(&scenario)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        prop_assert!(mismatches.is_empty(), "{mismatches:?}");
        for s in r.steps.iter().filter(|s| s.op == "send" || s.op == "shutdown") {
            prop_assert!(
                s.result != "error:corrupted" && s.result != "error:WSA_IO_INCOMPLETE",
                "{s:?}\n{text}"
            );
            if let Some(Some(got)) = &s.received {
                prop_assert!(got.intact, "{s:?}\n{text}");
            }
            if s.op == "send" {
                let f = s.send.as_ref();
                prop_assert!(f.is_some());
                // A send succeeds unless its own end shut down sending.
                prop_assert!(
                    s.result == "ok" || s.result == "error:WSAESHUTDOWN",
                    "{s:?}\n{text}"
                );
            }
        }
    }
}

#[test]
fn a_provider_failing_mid_transfer_ends_the_step_with_an_error_not_a_hang() {
    // alpha's provider panics in the RDMA read of beta's large send: alpha's session fails.
    let text = two_hosts(
        false,
        "panic_at = \"WSPRdmaRead\"\n",
        "[[step]]\nop = \"send\"\nhost = \"beta\"\nid = \"s\"\nbytes = 1048576\n[[step]]\nop = \"send\"\nid = \"t\"\nbytes = 10\nexpect = \"ok\"\n[[step]]\nop = \"close\"\nid = \"s\"\n",
    );
    let scenario = wsd_sim::scenario::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let (r, mismatches) = wsd_sim::run::run(&scenario).unwrap_or_else(|e| panic!("{e}"));
    assert!(mismatches.is_empty(), "{mismatches:?}");
    let send = &r.steps[3];
    assert!(
        send.result.starts_with("error:") && send.result != "error:corrupted",
        "{send:?}"
    );
    assert_eq!(send.send.as_ref().and_then(|f| f.path.clone()), None);
    // What alpha read is what beta sent, as far as it got.
    assert!(
        send.received
            .as_ref()
            .is_some_and(|r| r.as_ref().is_some_and(|r| r.intact))
    );
    // The other connection is unaffected, and the close goes through.
    assert_eq!(r.steps[4].result, "ok");
    assert_eq!(r.steps[5].result, "ok");
}
