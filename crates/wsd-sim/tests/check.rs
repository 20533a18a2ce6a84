//! Runs the built `wsd-sim` binary on scenario files and checks exit codes and messages
//! (`scenario.md` §3).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_wsd-sim");

/// Writes `text` to a file of its own under the temp dir.
fn scenario_file(tag: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wsd-sim-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join(format!("{tag}-{n}.toml"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn wsd_sim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

fn check(path: &Path) -> (i32, String, String) {
    let out = wsd_sim(&["check", &path.display().to_string()]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn default_toml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/default.toml")
}

/// A check that must fail (exit 2) with a message naming `key` on `line`.
#[track_caller]
fn assert_bad(tag: &str, text: &str, line: usize, key: &str, words: &str) {
    let path = scenario_file(tag, text);
    let (code, _, err) = check(&path);
    assert_eq!(code, 2, "{tag}: stderr: {err}");
    let wanted = format!("line {line}: {key}: ");
    assert!(
        err.lines()
            .any(|l| l.contains(&wanted) && l.contains(words)),
        "{tag}: no line with {wanted:?} and {words:?} in:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_default_scenario_checks_ok() {
    let (code, out, err) = check(&default_toml());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    assert_bad(
        "unknown-key",
        "[[host]]\nname = \"a\"\n\n[[host.provider]]\nname = \"p\"\nspeed = 100\n",
        6,
        "host[0].provider[0].speed",
        "unknown key",
    );
}

#[test]
fn bad_interface_is_named_with_its_line() {
    assert_bad(
        "bad-interface",
        "[[host]]\nname = \"a\"\ninterfaces = [\n  \"10.1.0.5/16\",\n  \"10.1.2.5\",\n]\n",
        5,
        "host[0].interfaces[1]",
        "10.1.2.5",
    );
}

#[test]
fn unknown_wsa_name_is_named_with_its_line() {
    assert_bad(
        "bad-wsa",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\nstartup = \"WSAENOTHING\"\n",
        5,
        "host[0].provider[0].startup",
        "WSAENOTHING",
    );
}

#[test]
fn unknown_call_name_is_named_with_its_line() {
    assert_bad(
        "bad-call",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\npanic_at = \"WSPSendTo\"\n",
        5,
        "host[0].provider[0].panic_at",
        "unknown call name",
    );
    // The data path's calls are known names.
    let path = scenario_file(
        "data-call",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\npanic_at = \"WSPRdmaRead\"\n",
    );
    let (code, _, err) = check(&path);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn duplicate_host_is_named_with_its_line() {
    assert_bad(
        "dup-host",
        "[[host]]\nname = \"a\"\n[[host]]\nname = \"a\"\n",
        4,
        "host[1].name",
        "duplicate host name",
    );
}

#[test]
fn undefined_host_and_provider_are_named() {
    let text = "[[host]]\nname = \"a\"\n[[step]]\nop = \"install\"\nhost = \"b\"\nprovider = \"p\"\n[[step]]\nop = \"remove\"\nprovider = \"p\"\n";
    assert_bad("undef-host", text, 5, "step[0].host", "no host named \"b\"");
    assert_bad(
        "undef-provider",
        text,
        9,
        "step[1].provider",
        "no provider named \"p\"",
    );
}

#[test]
fn key_of_another_op_is_an_error() {
    assert_bad(
        "backlog-on-connect",
        "[[host]]\nname = \"a\"\n[[step]]\nop = \"connect\"\nto = \"10.0.0.1:80\"\nbacklog = 5\n",
        6,
        "step[0].backlog",
        "not used by op connect",
    );
}

#[test]
fn every_error_is_listed() {
    let text = "\
[[host]]
name = \"a\"
interfaces = [\"10.0.0.1/40\"]
[[host.provider]]
name = \"p\"
version = \"two\"
guid = \"not-a-guid\"
address_list_fault = \"sometimes\"
[[step]]
op = \"explain\"
to = \"10.0.0.1\"
";
    let path = scenario_file("many", text);
    let (code, _, err) = check(&path);
    assert_eq!(code, 2);
    for (line, key) in [
        (3, "host[0].interfaces[0]"),
        (6, "host[0].provider[0].version"),
        (7, "host[0].provider[0].guid"),
        (8, "host[0].provider[0].address_list_fault"),
        (11, "step[0].to"),
    ] {
        let wanted = format!("line {line}: {key}: ");
        assert!(err.contains(&wanted), "{wanted:?} missing in:\n{err}");
    }
    assert!(err.contains("5 error(s)"), "{err}");
}

#[test]
fn syntax_error_names_its_line() {
    let path = scenario_file("syntax", "[[host]]\nname = \"a\"\nname2 = = 1\n");
    let (code, _, err) = check(&path);
    assert_eq!(code, 2);
    assert!(err.contains("line 3: TOML syntax error"), "{err}");
}

#[test]
fn missing_file_exits_2_naming_the_file() {
    let (code, _, err) = check(Path::new("/nonexistent/wsd-sim/nothing-here.toml"));
    assert_eq!(code, 2);
    assert!(err.contains("nothing-here.toml"), "{err}");
}

#[test]
fn binary_garbage_exits_2_without_panic() {
    let dir = std::env::temp_dir().join(format!("wsd-sim-tests-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("garbage.toml");
    let _ = std::fs::write(&path, [0xff, 0xfe, 0x00, b'[', b'[']);
    let (code, _, err) = check(&path);
    assert_eq!(code, 2);
    assert!(err.contains("garbage.toml"), "{err}");
    assert!(
        err.contains("invalid byte 0xFF at byte offset 0 (line 1)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["check"][..],
        &["run", "--format", "xml"][..],
        &["explain", "x.toml"][..],
        &["explain", "x.toml", "--connect", "10.0.0.1"][..],
    ] {
        let out = wsd_sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(wsd_sim(&["--help"]).status.code(), Some(0));
}

#[test]
fn explain_with_unknown_host_exits_2() {
    let p = default_toml();
    let out = wsd_sim(&[
        "explain",
        &p.display().to_string(),
        "--connect",
        "10.1.2.9:5000",
        "--host",
        "nowhere",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
}

/// `(exit code, stdout, stderr)` of `wsd-sim ARGS`.
fn outcome(args: &[&str]) -> (i32, String, String) {
    let out = wsd_sim(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_and_run_accept_send_and_shutdown_steps_alike() {
    let first = "[[host]]\nname = \"a\"\ninterfaces = [\"10.0.0.5/24\"]\n[[step]]\nop = \"listen\"\naddress = \"0.0.0.0:80\"\n[[step]]\nop = \"connect\"\nto = \"10.0.0.5:80\"\nid = \"c\"\n[[step]]\n";
    for (op, body) in [
        ("send", "id = \"c\"\nbytes = 10\nexpect = \"ok\"\n"),
        ("shutdown", "id = \"c\"\nhow = \"send\"\n"),
    ] {
        let path = scenario_file(op, &format!("{first}op = {op:?}\n{body}"));
        let p = path.display().to_string();
        let (check_code, check_out, check_err) = outcome(&["check", &p]);
        let (run_code, _, run_err) = outcome(&["run", &p]);
        assert_eq!(check_code, 0, "{op}: {check_err}");
        assert!(
            check_out.contains("ok: 1 host(s), 0 provider(s), 3 step(s)"),
            "{check_out}"
        );
        assert_eq!(run_code, 0, "{op}: {run_err}");
    }
    // What run accepts, check accepts.
    let (code, _, err) = outcome(&["check", &default_toml().display().to_string()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = outcome(&["run", &default_toml().display().to_string()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn check_accepts_the_data_path_provider_keys() {
    let path = scenario_file(
        "data-keys",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\nmax_msg_size = 2048\nmax_rdma_size = 4096\nrdma_threshold = 16384\nregister_memory = \"ok\"\nregister_rdma_memory = \"WSAENOBUFS\"\n",
    );
    let (code, out, err) = check(&path);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ok: 1 host(s), 1 provider(s), 0 step(s)"),
        "{out}"
    );
}

#[test]
fn check_refuses_bad_data_path_provider_keys_with_their_line() {
    let head = "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\n";
    for (tag, body, key, words) in [
        (
            "msg-size",
            "max_msg_size = -5\n",
            "max_msg_size",
            "out of range",
        ),
        (
            "rdma-size",
            "max_rdma_size = 512\n",
            "max_rdma_size",
            "1024 to 4294967295",
        ),
        (
            "threshold",
            "rdma_threshold = 4294967296\n",
            "rdma_threshold",
            "out of range",
        ),
        (
            "threshold-type",
            "rdma_threshold = \"8k\"\n",
            "rdma_threshold",
            "integer",
        ),
        (
            "register",
            "register_memory = \"WSAEWHAT\"\n",
            "register_memory",
            "WSAEWHAT",
        ),
        (
            "register-rdma",
            "register_rdma_memory = \"no\"\n",
            "register_rdma_memory",
            "no",
        ),
    ] {
        assert_bad(
            tag,
            &format!("{head}{body}"),
            5,
            &format!("host[0].provider[0].{key}"),
            words,
        );
    }
    // Every problem, each on its own line.
    let path = scenario_file(
        "data-keys-all",
        &format!(
            "{head}max_msg_size = -1\nmax_rdma_size = 1\nregister_rdma_memory = \"WSAEBOGUS\"\n"
        ),
    );
    let (code, _, err) = check(&path);
    assert_eq!(code, 2, "{err}");
    for (line, key) in [
        (5, "max_msg_size"),
        (6, "max_rdma_size"),
        (7, "register_rdma_memory"),
    ] {
        let wanted = format!("line {line}: host[0].provider[0].{key}: ");
        assert!(err.contains(&wanted), "{wanted:?} not in:\n{err}");
    }
    assert!(err.contains("3 error(s)"), "{err}");
}

#[test]
fn a_send_larger_than_16_mib_is_refused_with_its_line() {
    let text = "[[host]]\nname = \"a\"\n[[step]]\nop = \"connect\"\nto = \"10.0.0.1:80\"\nid = \"c\"\n[[step]]\nop = \"send\"\nid = \"c\"\nbytes = 16777217\n";
    assert_bad(
        "big-send",
        text,
        10,
        "step[1].bytes",
        "0 to 16777216 (16 MiB)",
    );
}

#[test]
fn every_own_error_line_starts_with_error_like_clap_s() {
    let bad = scenario_file(
        "prefix",
        "[[host]]\nname = 3\n[[step]]\nop = \"listen\"\naddress = \"0.0.0.0:1\"\n",
    );
    let bad = bad.display().to_string();
    let d = default_toml().display().to_string();
    for args in [
        &["check", &bad][..],
        &["run", &bad][..],
        &["explain", &bad, "--connect", "10.0.0.1:1"][..],
        &["check", "/nonexistent/wsd-sim/none.toml"][..],
        &[
            "explain",
            &d,
            "--connect",
            "10.0.0.1:1",
            "--host",
            "nowhere",
        ][..],
        &["frobnicate"][..],
        &["explain", &d, "--connect", "10.0.0.1:65536"][..],
    ] {
        let (code, _, err) = outcome(args);
        assert_eq!(code, 2, "{args:?}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{args:?}: {err}");
        // The tool's own messages: every line.
        if args[0] != "frobnicate" && !args.contains(&"10.0.0.1:65536") {
            assert!(
                err.lines().all(|l| l.starts_with("error: ")),
                "{args:?}: {err}"
            );
        }
    }
    let (_, _, err) = outcome(&["explain", &d, "--connect", "10.0.0.1:65536"]);
    assert!(err.contains("port 65536 is out of range"), "{err}");
}

#[test]
fn a_directory_is_refused_as_not_a_regular_file() {
    let dir = std::env::temp_dir();
    let (code, _, err) = check(&dir);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: cannot read scenario file "),
        "{err}"
    );
    assert!(err.contains("a directory, not a regular file"), "{err}");
}

#[cfg(unix)]
#[test]
fn dev_zero_and_a_fifo_are_refused_without_reading() {
    if Path::new("/dev/zero").exists() {
        let (code, _, err) = check(Path::new("/dev/zero"));
        assert_eq!(code, 2);
        assert!(
            err.contains("a character device, not a regular file"),
            "{err}"
        );
    }
    let dir = std::env::temp_dir().join(format!("wsd-sim-tests-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let fifo = dir.join("scenario.fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        // Nobody writes to the FIFO: reading it would block forever.
        let (code, _, err) = check(&fifo);
        assert_eq!(code, 2);
        assert!(
            err.contains("a FIFO (named pipe), not a regular file"),
            "{err}"
        );
        let _ = std::fs::remove_file(&fifo);
    }
}

#[test]
fn a_file_above_4_mib_is_refused_and_the_limit_is_in_help() {
    let limit = wsd_sim::cli::MAX_SCENARIO_BYTES;
    assert_eq!(limit, 4 * 1024 * 1024);
    // A valid scenario padded with a comment to one byte over the limit.
    let head = "[[host]]\nname = \"a\"\n#";
    let pad = usize::try_from(limit).unwrap_or(usize::MAX) + 1 - head.len() - 1;
    let text = format!("{head}{}\n", "x".repeat(pad));
    assert_eq!(text.len() as u64, limit + 1);
    let big = scenario_file("big", &text);
    let (code, _, err) = check(&big);
    assert_eq!(code, 2);
    assert!(
        err.contains("it is 4194305 bytes, more than the limit of 4194304 bytes (4 MiB)"),
        "{err}"
    );
    // At the limit, it is read.
    let text = format!("{head}{}\n", "x".repeat(pad - 1));
    let ok = scenario_file("at-limit", &text);
    let (code, _, err) = check(&ok);
    assert_eq!(code, 0, "{err}");
    for args in [
        &["--help"][..],
        &["check", "--help"][..],
        &["run", "--help"][..],
    ] {
        let (code, out, _) = outcome(args);
        assert_eq!(code, 0);
        assert!(out.contains("at most 4 MiB"), "{args:?}: {out}");
    }
}

#[test]
fn invalid_utf8_is_named_with_its_byte_offset_and_line() {
    let dir = std::env::temp_dir().join(format!("wsd-sim-tests-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("latin1.toml");
    let mut bytes = b"[[host]]\nname = \"caf".to_vec();
    bytes.push(0xe9); // é in Latin-1
    bytes.extend_from_slice(b"\"\n");
    let _ = std::fs::write(&path, &bytes);
    let (code, _, err) = check(&path);
    assert_eq!(code, 2);
    assert!(
        err.contains("it is not UTF-8 text: invalid byte 0xE9 at byte offset 20 (line 2)"),
        "{err}"
    );
}

#[test]
fn address_change_of_a_raw_provider_is_named_with_its_line() {
    assert_bad(
        "address-change-raw",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"cap\"\naddress_list_raw = { base = \"0x1000\", hex = \"\" }\n[[step]]\nop = \"address_change\"\nprovider = \"cap\"\naddresses = [\"10.0.0.1\"]\n",
        8,
        "step[0].provider",
        "address_list_raw",
    );
}
