//! The `scenario` target. What it checks is in `common/scenario.rs`, a module without libfuzzer-sys
//! that the root package's `tests/fuzz_replay.rs` also runs on the seeds and regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/scenario.rs"]
mod scenario;

fuzz_target!(|data: &[u8]| scenario::run(data));
