//! The `protocol_info` target. What it checks is in `common/protocol_info.rs`, a module without
//! libfuzzer-sys that the root package's `tests/fuzz_replay.rs` also runs on the seeds and
//! regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/protocol_info.rs"]
mod protocol_info;

fuzz_target!(|data: &[u8]| protocol_info::run(data));
