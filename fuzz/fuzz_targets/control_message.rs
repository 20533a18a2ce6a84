//! The `control_message` target. What it checks is in `common/control_message.rs`, a module without
//! libfuzzer-sys that the root package's `tests/fuzz_replay.rs` also runs on the seeds and
//! regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/control_message.rs"]
mod control_message;

fuzz_target!(|data: &[u8]| control_message::run(data));
