//! `wsd-sim conform` on the sample providers written in C (built by spi-abi): its exit codes
//! (0 every check passes, 1 one fails, 2 the library cannot be used or a bad argument), its
//! text and its JSON.
//!
//! Each test runs on its own copy of a sample, so no two runs share a file.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wsd-sim");

/// How many checks `conform` runs.
const CHECKS: usize = 16;

fn private_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsd-sim-conform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A private copy of sample `name` (`good`, `no_rdma_write`, ...).
fn copy_of(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let ext = if cfg!(target_os = "macos") {
        "dylib"
    } else {
        "so"
    };
    let src =
        Path::new(spi_abi::conform::sample_providers_dir()).join(format!("libwsd_{name}.{ext}"));
    let dst = private_dir().join(format!(
        "{}-libwsd_{name}.{ext}",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    dst
}

fn wsd_sim(args: &[&str]) -> (i32, String, String) {
    let out: Output = Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn conform(path: &Path, format: &str) -> (i32, String, String) {
    wsd_sim(&["conform", &path.display().to_string(), "--format", format])
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn the_good_sample_passes_every_check_with_exit_0() {
    let path = copy_of("good");
    let (code, out, err) = conform(&path, "text");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.is_empty(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), CHECKS + 2, "{out}");
    assert_eq!(lines[0], format!("library: {}", path.display()));
    assert!(
        lines[1..=CHECKS].iter().all(|l| l.starts_with("pass  ")),
        "{out}"
    );
    assert!(out.contains("pass  INIT-2   startup: "), "{out}");
    assert!(
        out.contains("pass  INIT-2a  version: answered version 2.2"),
        "{out}"
    );
    assert!(
        out.contains("pass  INIT-3   address_list: 2 addresses in 84 bytes: 10.1.0.5, fd00::5"),
        "{out}"
    );
    assert!(out.contains("pass  CLOSE-1  close_socket: "), "{out}");
    assert_eq!(lines[CHECKS + 1], "result: pass: 16 of 16 checks passed");
    // Without --format: text.
    let (code, plain, _) = wsd_sim(&["conform", &path.display().to_string()]);
    assert_eq!((code, plain), (0, out));
}

#[test]
fn the_sample_without_rdma_write_fails_that_check_with_exit_1() {
    let path = copy_of("no_rdma_write");
    let (code, out, err) = conform(&path, "text");
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(
            "FAIL  INIT-4   extension.rdma_write: mandatory: refused with WSAEOPNOTSUPP (the switch rejects it: missing_extension)"
        ),
        "{out}"
    );
    assert_eq!(out.matches("FAIL  ").count(), 1, "{out}");
    assert!(
        out.ends_with(
            "result: FAIL: 1 of 16 checks failed (extension.rdma_write), 0 skipped, 15 passed\n"
        ),
        "{out}"
    );
    assert_eq!(
        err,
        format!(
            "error: {}: 1 conformance check(s) failed: extension.rdma_write\n",
            path.display()
        )
    );
}

#[test]
fn the_json_report_has_the_library_every_check_and_the_result() {
    let path = copy_of("good");
    let (code, out, _) = conform(&path, "json");
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["library"], path.display().to_string());
    assert_eq!(v["passed"], true);
    let checks = v["checks"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(checks.len(), CHECKS);
    for c in checks {
        let keys: Vec<&str> = c
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 5, "{c}");
        for key in ["name", "rule", "passed", "status", "detail"] {
            assert!(keys.contains(&key), "{c}");
        }
        assert_eq!(c["passed"], true, "{c}");
        assert_eq!(c["status"], "pass", "{c}");
    }
    assert_eq!(checks[0]["name"], "startup");
    assert_eq!(checks[0]["rule"], "INIT-2");
    assert_eq!(checks[CHECKS - 1]["name"], "cleanup");
    assert_eq!(checks[CHECKS - 1]["rule"], "CLOSE-2");

    let path = copy_of("no_rdma_write");
    let (code, out, _) = conform(&path, "json");
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["passed"], false);
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["passed"] == false).collect())
        .unwrap_or_default();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["name"], "extension.rdma_write");
    assert_eq!(failed[0]["rule"], "INIT-4");
    assert_eq!(failed[0]["status"], "fail");
}

#[test]
fn a_sample_that_refuses_2_2_fails_startup_and_skips_the_rest() {
    let path = copy_of("old_version");
    let (code, out, _) = conform(&path, "json");
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    let statuses: Vec<&str> = v["checks"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["status"].as_str()).collect())
        .unwrap_or_default();
    let mut want = vec!["fail"];
    want.extend(["skip"; CHECKS - 1]);
    assert_eq!(statuses, want);
}

#[test]
fn a_library_without_wspstartupex_exits_2_naming_it() {
    let path = copy_of("no_export");
    for format in ["text", "json"] {
        let (code, out, err) = conform(&path, format);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.starts_with("error: ")
                && err.contains(&path.display().to_string())
                && err.contains("no WSPStartupEx export"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_missing_file_or_a_directory_exits_2_naming_it() {
    let missing = private_dir().join("no-such-provider.so");
    let (code, out, err) = conform(&missing, "json");
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("error: cannot load ") && err.contains("no-such-provider.so"),
        "{err}"
    );
    let (code, _, err) = conform(&private_dir(), "text");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("it is a directory"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_arguments_exit_2() {
    let path = copy_of("good");
    let (code, out, err) = conform(&path, "mermaid");
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("mermaid"), "{err}");
    let (code, _, err) = wsd_sim(&["conform"]);
    assert_eq!(code, 2, "{err}");
}
