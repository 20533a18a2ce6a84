//! The `library` provider key: a scenario whose provider is a sample provider written in C
//! (built by spi-abi), loaded through the real SPI ABI by `run`, and the errors `check`
//! reports for it.
//!
//! Each test writes its scenario and its copy of the sample into a directory of its own, and
//! names the library relative to the scenario file: `wsd-sim` runs in another directory, so
//! the path must be resolved from the file's.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wsd-sim");

fn sample_file(name: &str) -> String {
    let ext = if cfg!(target_os = "macos") {
        "dylib"
    } else {
        "so"
    };
    format!("libwsd_{name}.{ext}")
}

/// A fresh directory for one test.
fn test_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wsd-sim-library-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Copies sample `name` into `dir`; answers its file name there.
fn copy_sample(dir: &Path, name: &str) -> String {
    let file = sample_file(name);
    let src = Path::new(spi_abi::conform::sample_providers_dir()).join(&file);
    std::fs::copy(&src, dir.join(&file)).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    file
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn wsd_sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_json(path: &Path) -> Value {
    let (code, out, err) = wsd_sim(&["run", &path.display().to_string(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn provider<'v>(report: &'v Value, name: &str) -> &'v Value {
    report["providers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no provider {name} in {report}"))
}

#[test]
fn a_library_provider_is_ready_with_its_own_two_addresses() {
    let dir = test_dir("good");
    let lib = copy_sample(&dir, "good");
    let path = write(
        &dir,
        &format!(
            r#"[[host]]
name = "alpha"
interfaces = ["10.1.0.1/16", "fd00::1/64"]

[[host.provider]]
name = "ib"
library = "{lib}"

[[host.provider]]
name = "mock"
addresses = ["10.2.0.5"]

[[step]]
op = "explain"
to = "10.1.0.9:5000"
expect = "san:ib"
"#
        ),
    );
    let (code, out, err) = wsd_sim(&["check", &path.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");

    let report = run_json(&path);
    let ib = provider(&report, "ib");
    assert_eq!(ib["state"], "ready", "{ib}");
    assert_eq!(ib["reason"], Value::Null);
    assert_eq!(ib["version"], "2.2");
    assert_eq!(ib["addresses"], serde_json::json!(["10.1.0.5", "fd00::5"]));
    assert!(
        ib["extensions"]
            .as_object()
            .is_some_and(|o| o.len() == 7 && o.values().all(|v| *v == true)),
        "{ib}"
    );
    // The mock beside it is a mock as before.
    assert_eq!(provider(&report, "mock")["state"], "ready");
    let routes: Vec<(&str, &str)> = report["routes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| Some((r["subnet"].as_str()?, r["provider"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert!(routes.contains(&("10.1.0.0/16", "ib")), "{routes:?}");
    assert!(routes.contains(&("fd00::/64", "ib")), "{routes:?}");
    // The switch called the library's entry points, in the order of INIT-2.
    let calls: Vec<&str> = report["trace"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|t| t["provider"] == "ib")
                .filter_map(|t| t["call"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        calls.get(..3),
        Some(
            &[
                "WSPStartupEx",
                "WSPSocket",
                "WSPIoctl(SIO_ADDRESS_LIST_QUERY)"
            ][..]
        ),
        "{calls:?}"
    );
    assert_eq!(calls.len(), 3 + 7, "{calls:?}");

    // The text report shows it as any other provider.
    let (code, text, _) = wsd_sim(&["run", &path.display().to_string()]);
    assert_eq!(code, 0);
    assert!(text.contains("addresses:  10.1.0.5, fd00::5"), "{text}");
}

#[test]
fn a_library_without_the_mandatory_rdma_write_is_rejected_as_its_mock_twin_would_be() {
    let dir = test_dir("no-rdma-write");
    let lib = copy_sample(&dir, "no_rdma_write");
    let path = write(
        &dir,
        &format!(
            "[[host]]\nname = \"alpha\"\n[[host.provider]]\nname = \"ib\"\nlibrary = \"{lib}\"\n"
        ),
    );
    let report = run_json(&path);
    let ib = provider(&report, "ib");
    assert_eq!(ib["state"], "rejected", "{ib}");
    assert_eq!(ib["reason"]["code"], "missing_extension", "{ib}");
}

#[test]
fn a_library_that_cannot_be_loaded_is_rejected_with_the_loaders_message() {
    let dir = test_dir("unloadable");
    std::fs::write(dir.join("garbage.so"), b"not a shared object")
        .unwrap_or_else(|e| panic!("{e}"));
    let no_export = copy_sample(&dir, "no_export");
    let path = write(
        &dir,
        &format!(
            "[[host]]\nname = \"alpha\"\n[[host.provider]]\nname = \"junk\"\nlibrary = \"garbage.so\"\n[[host.provider]]\nname = \"noexp\"\nlibrary = \"{no_export}\"\n"
        ),
    );
    let (code, _, err) = wsd_sim(&["check", &path.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    let report = run_json(&path);
    for (name, words) in [("junk", "cannot load"), ("noexp", "no WSPStartupEx export")] {
        let p = provider(&report, name);
        assert_eq!(p["state"], "rejected", "{p}");
        assert_eq!(p["reason"]["step"], "WSPStartupEx", "{p}");
        assert_eq!(p["reason"]["code"], "WSAEPROVIDERFAILEDINIT", "{p}");
        let detail = p["reason"]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{detail}");
    }
}

#[test]
fn a_missing_library_fails_check_with_exit_2_naming_key_and_line() {
    let dir = test_dir("missing");
    let path = write(
        &dir,
        "[[host]]\nname = \"alpha\"\n[[host.provider]]\nname = \"ib\"\nlibrary = \"gone.so\"\n",
    );
    for command in ["check", "run"] {
        let (code, out, err) = wsd_sim(&[command, &path.display().to_string()]);
        assert_eq!(code, 2, "{command}: {out}{err}");
        let missing = dir.join("gone.so").display().to_string();
        assert!(
            err.contains("line 5: host[0].provider[0].library: cannot use library file ")
                && err.contains(&missing),
            "{command}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn mock_keys_beside_a_library_are_errors_each_at_its_line() {
    let dir = test_dir("mock-keys");
    let lib = copy_sample(&dir, "good");
    let path = write(
        &dir,
        &format!(
            "[[host]]\nname = \"alpha\"\n[[host.provider]]\nname = \"ib\"\nlibrary = \"{lib}\"\nprofile = \"winofed\"\nhidden = false\naddresses = [\"10.1.0.5\"]\npanic_at = \"WSPSocket\"\n"
        ),
    );
    let (code, _, err) = wsd_sim(&["check", &path.display().to_string()]);
    assert_eq!(code, 2, "{err}");
    for (line, key) in [(6, "profile"), (8, "addresses"), (9, "panic_at")] {
        let wanted = format!(
            "line {line}: host[0].provider[0].{key}: describes the mock provider's behaviour"
        );
        assert!(err.contains(&wanted), "{wanted:?} not in:\n{err}");
    }
    assert!(err.contains("3 error(s)"), "{err}");
}
