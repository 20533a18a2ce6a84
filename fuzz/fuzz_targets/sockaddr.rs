//! The `sockaddr` target. What it checks is in `common/sockaddr.rs`, a module without libfuzzer-sys
//! that the root package's `tests/fuzz_replay.rs` also runs on the seeds and regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/sockaddr.rs"]
mod sockaddr;

fuzz_target!(|data: &[u8]| sockaddr::run(data));
