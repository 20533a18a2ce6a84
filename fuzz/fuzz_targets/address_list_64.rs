//! `SOCKET_ADDRESS_LIST` decoding, 64-bit layout: never panics, and a decoded list re-encodes
//! at the same base to a list that decodes to the same addresses. The check is in
//! `common/address_list.rs`, which the root package's `tests/fuzz_replay.rs` also runs on the
//! seeds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spi_types::PointerWidth;

#[path = "common/address_list.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(data, PointerWidth::Bits64));
