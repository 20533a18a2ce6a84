//! Every committed fuzz input replays on stable Rust, so a crash found once stays fixed: the
//! seeds (`fuzz/seeds/<target>/`) and crash regressions (`fuzz/regressions/<target>/`) of each
//! cargo-fuzz target go through the target's own code, `fuzz/fuzz_targets/common/<target>.rs`
//! (modules without libfuzzer-sys, which the nightly-only `fuzz/` package wraps in
//! `fuzz_target!`). As under libFuzzer, whose hook aborts on any panic, an input fails when
//! anything panics while it runs, even a panic caught later; but `switch_ops`'s hook lets the
//! mock providers' deliberate panics through silently (the switch must catch them). See
//! `fuzz/README.md`.

use std::cell::Cell;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use spi_types::PointerWidth;

#[path = "../fuzz/fuzz_targets/common/address_list.rs"]
mod address_list;
#[path = "../fuzz/fuzz_targets/common/control_message.rs"]
mod control_message;
#[path = "../fuzz/fuzz_targets/common/negotiation.rs"]
mod negotiation;
#[path = "../fuzz/fuzz_targets/common/network_events.rs"]
mod network_events;
#[path = "../fuzz/fuzz_targets/common/protocol_info.rs"]
mod protocol_info;
#[path = "../fuzz/fuzz_targets/common/registration.rs"]
mod registration;
#[path = "../fuzz/fuzz_targets/common/scenario.rs"]
mod scenario;
#[path = "../fuzz/fuzz_targets/common/sockaddr.rs"]
mod sockaddr;
#[path = "../fuzz/fuzz_targets/common/switch_ops.rs"]
mod switch_ops;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

thread_local! {
    /// Panics on this thread that reached the recording hook (not the deliberate ones).
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// The hooks as under libFuzzer, but recording instead of aborting: first the recording hook
/// (in libfuzzer-sys's place), then `switch_ops`'s `init`, which lets the mocks' deliberate
/// panics through silently and hands every other to the hook before it.
fn install_hooks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
        switch_ops::install_panic_hook();
    });
}

/// The inputs of `target`: its seeds, then its regressions (a folder may be missing or empty).
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(ROOT).join("fuzz");
    assert!(
        fuzz.join("fuzz_targets")
            .join(format!("{target}.rs"))
            .is_file(),
        "no fuzz target {target}"
    );
    let mut all = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .map(|e| e.expect("a readable folder").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

/// Runs every input of `target` through `run`; fails naming each input during which anything
/// panicked (the panic's message is printed above by the default hook).
fn replay(target: &str, run: fn(&[u8])) {
    install_hooks();
    let mut crashes = Vec::new();
    let files = inputs(target);
    for path in &files {
        let data = fs::read(path).expect("a readable input");
        PANICS.with(|p| p.set(0));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&data)));
        if outcome.is_err() || PANICS.with(Cell::get) > 0 {
            crashes.push(path.strip_prefix(ROOT).unwrap_or(path).to_owned());
        }
    }
    assert!(
        crashes.is_empty(),
        "{target}: {} of {} inputs crash: {crashes:#?}",
        crashes.len(),
        files.len()
    );
}

#[test]
fn fuzz_replay_address_list_64_seeds_and_regressions() {
    replay("address_list_64", |data| {
        address_list::check(data, PointerWidth::Bits64)
    });
}

#[test]
fn fuzz_replay_address_list_32_seeds_and_regressions() {
    replay("address_list_32", |data| {
        address_list::check(data, PointerWidth::Bits32)
    });
}

#[test]
fn fuzz_replay_protocol_info_seeds_and_regressions() {
    replay("protocol_info", protocol_info::run);
}

#[test]
fn fuzz_replay_sockaddr_seeds_and_regressions() {
    replay("sockaddr", sockaddr::run);
}

#[test]
fn fuzz_replay_registration_seeds_and_regressions() {
    replay("registration", registration::run);
}

#[test]
fn fuzz_replay_network_events_seeds_and_regressions() {
    replay("network_events", network_events::run);
}

#[test]
fn fuzz_replay_scenario_seeds_and_regressions() {
    replay("scenario", scenario::run);
}

#[test]
fn fuzz_replay_negotiation_seeds_and_regressions() {
    replay("negotiation", negotiation::run);
}

#[test]
fn fuzz_replay_control_message_seeds_and_regressions() {
    replay("control_message", control_message::run);
}

#[test]
fn fuzz_replay_switch_ops_seeds_and_regressions() {
    replay("switch_ops", switch_ops::run);
}

/// The hooks the replay relies on: a mock's deliberate panic passes silently, any other panic
/// is recorded, even one caught.
#[test]
fn fuzz_replay_records_every_panic_but_the_mocks_deliberate_ones() {
    install_hooks();
    let call = "WSPSend";
    PANICS.with(|p| p.set(0));
    let caught =
        panic::catch_unwind(|| panic!("mock provider `ib` panics in {call} as configured"));
    assert!(caught.is_err());
    assert_eq!(PANICS.with(Cell::get), 0, "a deliberate panic was recorded");
    let caught = panic::catch_unwind(|| panic!("a check failed in {call}"));
    assert!(caught.is_err());
    assert_eq!(PANICS.with(Cell::get), 1, "another panic was not recorded");
}

/// The version of `name` in a Cargo.lock.
fn locked(lock: &str, name: &str) -> Option<String> {
    let entry = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&entry)? + entry.len();
    let len = lock[at..].find('"')?;
    Some(lock[at..at + len].to_owned())
}

/// `switch_ops` reads its bytes with `arbitrary`: the replay must use the version the fuzz
/// package does, or a saved input may build another `Input` here than under libFuzzer.
#[test]
fn fuzz_replay_uses_the_fuzz_packages_arbitrary() {
    let root = fs::read_to_string(Path::new(ROOT).join("Cargo.lock")).unwrap();
    let fuzz = fs::read_to_string(Path::new(ROOT).join("fuzz/Cargo.lock")).unwrap();
    for name in ["arbitrary", "derive_arbitrary"] {
        let here = locked(&root, name);
        assert!(here.is_some(), "{name} is not in Cargo.lock");
        assert_eq!(
            here,
            locked(&fuzz, name),
            "{name}: Cargo.lock and fuzz/Cargo.lock differ"
        );
    }
}
