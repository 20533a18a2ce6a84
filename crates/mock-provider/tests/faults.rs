//! The mock's address-list faults: their scenario names, and what each does to the answer.

use mock_provider::{AddressFault, CallLog, MockConfig, MockProvider};
use spi_types::address_list::{PointerWidth, decode_address_list};
use spi_types::{DecodeError, IoctlCode, WsaError};
use switch_core::provider::{ProviderSocket, SanProvider};

#[test]
fn every_fault_name_round_trips() {
    let all = [
        AddressFault::None,
        AddressFault::TooSmallOnce,
        AddressFault::TooSmallAlways,
        AddressFault::Garbage,
        AddressFault::WrongFamily,
        AddressFault::ImpossibleCount,
        AddressFault::PointerOutside,
        AddressFault::Error(WsaError::WSAENETDOWN),
    ];
    let names: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "none",
            "too_small_once",
            "too_small_always",
            "garbage",
            "wrong_family",
            "impossible_count",
            "pointer_outside",
            "error:WSAENETDOWN"
        ]
    );
    for (f, n) in all.iter().zip(&names) {
        assert_eq!(n.parse::<AddressFault>().unwrap(), *f);
    }
    assert!("sometimes".parse::<AddressFault>().is_err());
    assert!("error:WSAENOPE".parse::<AddressFault>().is_err());
}

fn answer(fault: AddressFault, len: usize) -> (Vec<u8>, u64, Result<usize, (WsaError, usize)>) {
    let cfg = MockConfig::generic("m")
        .with_addresses(["10.1.0.1".parse().unwrap()])
        .with_address_fault(fault);
    let mut p = MockProvider::new(cfg, CallLog::new());
    let mut buf = vec![0u8; len];
    let base = buf.as_ptr() as usize as u64;
    let r = p
        .ioctl(
            ProviderSocket(1),
            IoctlCode::SIO_ADDRESS_LIST_QUERY,
            &[],
            &mut buf,
        )
        .map_err(|f| (f.error, f.bytes_returned));
    (buf, base, r)
}

#[test]
fn each_fault_breaks_the_answer_the_way_it_says() {
    let decode = |f| {
        let (buf, base, r) = answer(f, 256);
        assert!(r.is_ok(), "{f}");
        decode_address_list(&buf, base, PointerWidth::Bits64)
    };
    assert_eq!(
        decode(AddressFault::None).unwrap(),
        ["10.1.0.1:0".parse().unwrap()]
    );
    assert!(matches!(
        decode(AddressFault::Garbage),
        Err(DecodeError::NegativeCount { .. })
    ));
    assert!(matches!(
        decode(AddressFault::WrongFamily),
        Err(DecodeError::UnknownFamily { family: 17, .. })
    ));
    assert!(matches!(
        decode(AddressFault::ImpossibleCount),
        Err(DecodeError::CountTooLarge { .. })
    ));
    assert!(matches!(
        decode(AddressFault::PointerOutside),
        Err(DecodeError::PointerOutside { index: 0, .. })
    ));
    // 8 + 32 bytes for one IPv4 address.
    assert_eq!(
        answer(AddressFault::None, 39).2,
        Err((WsaError::WSAEFAULT, 40))
    );
    assert_eq!(
        answer(AddressFault::TooSmallOnce, 256).2,
        Err((WsaError::WSAEFAULT, 40))
    );
    assert_eq!(
        answer(AddressFault::TooSmallAlways, 256).2,
        Err((WsaError::WSAEFAULT, 512))
    );
    assert_eq!(
        answer(AddressFault::Error(WsaError::WSAENETDOWN), 256).2,
        Err((WsaError::WSAENETDOWN, 0))
    );
}

#[test]
fn winofed_lists_ipv4_only_and_asks_for_a_generous_size() {
    let cfg = MockConfig::winofed("ib")
        .with_addresses(["10.1.0.1".parse().unwrap(), "fd00::1".parse().unwrap()]);
    assert_eq!(
        cfg.listed_addresses(),
        ["10.1.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    let mut p = MockProvider::new(cfg, CallLog::new());
    let mut small = vec![0u8; 8];
    let r = p.ioctl(
        ProviderSocket(1),
        IoctlCode::SIO_ADDRESS_LIST_QUERY,
        &[],
        &mut small,
    );
    let f = r.unwrap_err();
    assert_eq!(f.error, WsaError::WSAEFAULT);
    assert!(f.bytes_returned > 40, "more than the exact 40 bytes");
}
