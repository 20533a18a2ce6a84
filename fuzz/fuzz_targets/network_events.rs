//! The `network_events` target. What it checks is in `common/network_events.rs`, a module without
//! libfuzzer-sys that the root package's `tests/fuzz_replay.rs` also runs on the seeds and
//! regressions.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/network_events.rs"]
mod network_events;

fuzz_target!(|data: &[u8]| network_events::run(data));
