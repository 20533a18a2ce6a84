//! The conformance kit (`spi_abi::conform::run`) on every sample provider written in C: which
//! checks pass, fail or are skipped, and the load errors of a library that cannot be used.
//!
//! Each test runs on its own copy of a sample (a distinct file is a distinct instance with its
//! own globals, as two provider DLLs would be), so tests can run in parallel.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use spi_abi::LoadError;
use spi_abi::conform::{self, ConformReport, Status, extension_check_name};
use spi_types::SanExtension;

fn sample(name: &str) -> PathBuf {
    let ext = if cfg!(target_os = "macos") {
        "dylib"
    } else {
        "so"
    };
    Path::new(conform::sample_providers_dir()).join(format!("libwsd_{name}.{ext}"))
}

/// A private directory for this test process.
fn private_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsd-spi-abi-conform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private copy of sample `name`, so this test's instance is its own.
fn copy_of(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let src = sample(name);
    let dst = private_dir().join(format!(
        "{}-{}",
        N.fetch_add(1, Ordering::Relaxed),
        src.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    dst
}

fn run(name: &str) -> ConformReport {
    let path = copy_of(name);
    let report = conform::run(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report.library, path.display().to_string());
    report
}

/// Every check's name, in order.
fn names() -> Vec<String> {
    let mut v: Vec<String> = [
        "startup",
        "version",
        "entry_points",
        "socket",
        "address_list_size",
        "address_list",
    ]
    .map(String::from)
    .to_vec();
    v.extend(SanExtension::ALL.iter().map(|e| extension_check_name(*e)));
    v.extend(["unknown_extension", "close_socket", "cleanup"].map(String::from));
    v
}

/// The status of every check, as `(name, status)`.
fn statuses(r: &ConformReport) -> Vec<(String, Status)> {
    r.checks
        .iter()
        .map(|c| (c.name.clone(), c.status))
        .collect()
}

/// Every check passes but those named in `fail` (which fail) and `skip` (skipped).
#[track_caller]
fn assert_statuses(r: &ConformReport, fail: &[&str], skip: &[&str]) {
    let want: Vec<(String, Status)> = names()
        .into_iter()
        .map(|n| {
            let s = if fail.contains(&n.as_str()) {
                Status::Fail
            } else if skip.contains(&n.as_str()) {
                Status::Skip
            } else {
                Status::Pass
            };
            (n, s)
        })
        .collect();
    assert_eq!(statuses(r), want, "{r:#?}");
    for c in &r.checks {
        assert_eq!(c.passed, c.status == Status::Pass, "{c:?}");
        assert!(!c.detail.is_empty(), "{c:?}");
        if c.status == Status::Skip {
            assert!(c.detail.starts_with("skipped: "), "{c:?}");
        }
    }
    assert_eq!(r.passed, fail.is_empty() && skip.is_empty());
}

fn detail<'r>(r: &'r ConformReport, name: &str) -> &'r str {
    &r.check(name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .detail
}

#[test]
fn every_check_serves_its_rule() {
    let r = run("good");
    let rules: Vec<(&str, &str)> = r.checks.iter().map(|c| (c.name.as_str(), c.rule)).collect();
    let mut want = vec![
        ("startup", "INIT-2"),
        ("version", "INIT-2a"),
        ("entry_points", "INIT-2"),
        ("socket", "INIT-3"),
        ("address_list_size", "INIT-3"),
        ("address_list", "INIT-3"),
    ];
    let ext: Vec<String> = SanExtension::ALL
        .iter()
        .map(|e| extension_check_name(*e))
        .collect();
    want.extend(ext.iter().map(|n| (n.as_str(), "INIT-4")));
    want.extend([
        ("unknown_extension", "INIT-4"),
        ("close_socket", "CLOSE-1"),
        ("cleanup", "CLOSE-2"),
    ]);
    assert_eq!(rules, want);
}

#[test]
fn init_2_the_good_sample_passes_every_check() {
    let r = run("good");
    assert_statuses(&r, &[], &[]);
    assert!(detail(&r, "version").contains("2.2"), "{r:#?}");
    assert!(
        detail(&r, "address_list").ends_with(": 10.1.0.5, fd00::5"),
        "{}",
        detail(&r, "address_list")
    );
    assert!(detail(&r, "address_list_size").starts_with("WSAEFAULT with "));
    assert!(detail(&r, "unknown_extension").contains("refused with WSAEINVAL"));
    assert!(detail(&r, "extension.rdma_read").contains("optional: available"));
    assert!(detail(&r, "extension.rdma_write").contains("mandatory"));
    assert!(detail(&r, "close_socket").contains("WPUCloseSocketHandle came"));
}

#[test]
fn init_3_the_sample_that_asks_for_a_larger_buffer_anyway_passes_the_size_contract() {
    // Its first query after startup answers WSAEFAULT with the size needed whatever the buffer:
    // the size check meets that answer, and the query with that size succeeds.
    let r = run("fault_size");
    assert_statuses(&r, &[], &[]);
    assert_eq!(
        detail(&r, "address_list_size"),
        detail(&run("good"), "address_list_size")
    );
}

#[test]
fn init_4_a_sample_without_the_optional_rdma_read_passes_and_says_so() {
    let r = run("no_rdma_read");
    assert_statuses(&r, &[], &[]);
    for name in [
        "extension.rdma_read",
        "extension.memory_registration_cache_callback",
    ] {
        assert_eq!(
            detail(&r, name),
            "optional: not available (refused with WSAEOPNOTSUPP)"
        );
    }
}

#[test]
fn init_4_a_sample_without_the_mandatory_rdma_write_fails_that_check_only() {
    let r = run("no_rdma_write");
    assert_statuses(&r, &["extension.rdma_write"], &[]);
    assert!(
        detail(&r, "extension.rdma_write").contains("WSAEOPNOTSUPP")
            && detail(&r, "extension.rdma_write").contains("missing_extension"),
        "{r:#?}"
    );
    // The checks after it still ran.
    assert_eq!(r.check("cleanup").map(|c| c.status), Some(Status::Pass));
}

#[test]
fn init_2a_a_sample_that_refuses_2_2_fails_startup_and_nothing_else_runs() {
    let r = run("old_version");
    let rest: Vec<String> = names().into_iter().skip(1).collect();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    assert_statuses(&r, &["startup"], &rest);
    assert!(
        detail(&r, "startup").contains("WSAVERNOTSUPPORTED"),
        "{r:#?}"
    );
    // No clean-up is owed to a provider that did not start.
    assert!(detail(&r, "cleanup").contains("no WSPCleanup"), "{r:#?}");
}

#[test]
fn init_2_a_sample_that_leaves_wspsocket_empty_fails_entry_points_and_still_cleans_up() {
    let r = run("null_socket");
    let mut skipped = vec![
        "socket".to_owned(),
        "address_list_size".into(),
        "address_list".into(),
    ];
    skipped.extend(SanExtension::ALL.iter().map(|e| extension_check_name(*e)));
    skipped.extend(["unknown_extension".to_owned(), "close_socket".into()]);
    let skipped: Vec<&str> = skipped.iter().map(String::as_str).collect();
    assert_statuses(&r, &["entry_points"], &skipped);
    assert!(detail(&r, "entry_points").contains("WSPSocket"), "{r:#?}");
    assert!(
        detail(&r, "socket").contains("WSPSocket is empty"),
        "{r:#?}"
    );
    assert_eq!(
        detail(&r, "address_list"),
        "skipped: no socket: WSPSocket is empty (entry_points)"
    );
}

#[test]
fn init_1_a_library_without_wspstartupex_is_a_load_error() {
    let path = copy_of("no_export");
    let err = conform::run(&path).unwrap_err();
    assert!(
        matches!(&err, LoadError::NoStartup { path: p, .. } if *p == path),
        "{err}"
    );
    assert!(err.to_string().contains("WSPStartupEx"), "{err}");
}

#[test]
fn init_1_a_missing_file_or_a_directory_is_a_load_error_naming_it() {
    let missing = private_dir().join("no-such-provider.so");
    let err = conform::run(&missing).unwrap_err();
    assert!(
        matches!(&err, LoadError::Open { path, .. } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-provider.so"), "{err}");

    let dir = private_dir();
    let err = conform::run(&dir).unwrap_err();
    assert!(matches!(&err, LoadError::Open { .. }), "{err}");
    assert!(err.to_string().contains("a directory"), "{err}");
}

#[test]
fn the_same_library_gives_the_same_report_every_time() {
    // The details hold no address and no socket value of the provider's.
    let path = copy_of("good");
    let a = conform::run(&path).unwrap();
    let b = conform::run(&path).unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_unknown_guid_is_no_extensions_guid() {
    let g = conform::unknown_extension_guid();
    assert!(SanExtension::ALL.iter().all(|e| e.guid() != g));
    assert_eq!(g.to_string(), "{3C1F7A2E-9D4B-4E61-8A05-C7E21B9D6F40}");
}
