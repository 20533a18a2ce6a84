//! The panic hook of `wsd-sim` (`cli::quiet_panics`): silent for the mock providers'
//! deliberate panics, the default output for any other panic (a bug must not go unseen).
//!
//! Each case runs in a child process (this test binary, re-run on one test), since a panic
//! hook is global to the process.

use std::process::Command;

const CHILD: &str = "WSD_SIM_PANIC_HOOK_CHILD";

/// In a child only: installs the hook and panics with the message of the mode, caught.
#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    wsd_sim::cli::quiet_panics();
    let message = match mode.as_str() {
        "mock" => "mock provider `boom` panics in WSPSocket as configured".to_owned(),
        _ => "index 7 out of range: a bug in wsd-sim".to_owned(),
    };
    let caught = std::panic::catch_unwind(|| panic!("{message}"));
    assert!(caught.is_err());
    // A `&'static str` payload too.
    let caught = std::panic::catch_unwind(|| {
        if mode == "mock" {
            panic!("mock provider `boom` panics in WSPCleanup as configured")
        } else {
            panic!("a static bug message")
        }
    });
    assert!(caught.is_err());
    eprintln!("child done");
}

/// The child's stderr in `mode`.
fn child_stderr(mode: &str, debug: bool) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CHILD, mode)
        .env_remove("WSD_SIM_DEBUG");
    if debug {
        cmd.env("WSD_SIM_DEBUG", "1");
    }
    let o = cmd.output().unwrap_or_else(|e| panic!("run child: {e}"));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "child failed: {err}");
    assert!(err.contains("child done"), "{err}");
    err
}

#[test]
fn deliberate_mock_panics_are_silent() {
    let err = child_stderr("mock", false);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("mock provider"), "{err}");
}

#[test]
fn deliberate_mock_panics_print_one_line_with_wsd_sim_debug() {
    let err = child_stderr("mock", true);
    assert!(
        err.contains("note: caught panic:") && err.contains("panics in WSPSocket"),
        "{err}"
    );
}

#[test]
fn other_panics_print_as_usual() {
    let err = child_stderr("bug", false);
    assert!(err.contains("panicked at"), "{err}");
    assert!(
        err.contains("index 7 out of range: a bug in wsd-sim"),
        "{err}"
    );
    assert!(err.contains("a static bug message"), "{err}");
}

#[test]
fn is_deliberate_panic_knows_the_mock_prefix() {
    use wsd_sim::cli::is_deliberate_panic;
    let owned: String = "mock provider `p` panics in WSPSocket as configured".into();
    assert!(is_deliberate_panic(&owned));
    assert!(is_deliberate_panic(&"mock provider `p` panics"));
    assert!(!is_deliberate_panic(
        &"called `Option::unwrap()` on a `None` value"
    ));
    assert!(!is_deliberate_panic(&String::from("a mock provider `p`")));
    assert!(!is_deliberate_panic(&42u32));
}
