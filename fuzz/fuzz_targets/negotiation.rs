//! The `negotiation` target. What it checks is in `common/negotiation.rs`, a module without
//! libfuzzer-sys that the root package's `tests/fuzz_replay.rs` also runs on the seeds and
//! regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/negotiation.rs"]
mod negotiation;

fuzz_target!(|data: &[u8]| negotiation::run(data));
