//! The `registration` target. What it checks is in `common/registration.rs`, a module without
//! libfuzzer-sys that the root package's `tests/fuzz_replay.rs` also runs on the seeds and
//! regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/registration.rs"]
mod registration;

fuzz_target!(|data: &[u8]| registration::run(data));
