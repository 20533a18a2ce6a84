//! The `switch_ops` target: two switches on a mock fabric under a fuzzer-chosen configuration
//! and sequence of operations (structure-aware: the input is a `switch_ops::Input` built with
//! `arbitrary`). What it checks is in `common/switch_ops.rs`, a module without libfuzzer-sys
//! that the root package's `tests/fuzz_replay.rs` also runs on the seeds and regressions (with
//! `switch_ops::run`, which builds the `Input` from the bytes as `fuzz_target!` does here).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(
    dead_code,
    reason = "`run` (bytes to `Input` as libfuzzer-sys converts them) is for the replay test"
)]
#[path = "common/switch_ops.rs"]
mod switch_ops;

// Typed, so that libFuzzer rejects inputs too short for an `Input` and `cargo fuzz fmt` prints
// the `Input`.
fuzz_target!(init: switch_ops::install_panic_hook(), |input: switch_ops::Input| {
    switch_ops::check(&input)
});
