//! End to end through the facade: a SAN provider whose address-list answer is the buffer a real
//! Winsock implementation wrote (`testdata/winsock/wine-ws2_32.json`), replayed byte
//! for byte, brings the provider up and routes its subnets (INIT-3, INIT-3a, ROUTE-1).

use std::net::IpAddr;

use wsd_switch::mock_provider::{MockCatalog, MockConfig, MockLoader, RawAddressList};
use wsd_switch::spi_types::ProtocolInfo;
use wsd_switch::switch_core::{ProviderState, RouteTarget, SocketKind, Switch, SwitchConfig};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/winsock/wine-ws2_32.json"
);

fn capture() -> serde_json::Value {
    let text = std::fs::read_to_string(CAPTURE).expect("the captured buffers are readable");
    serde_json::from_str(&text).expect("the capture is JSON")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn init_3_real_address_list_answer_brings_the_provider_up_and_routes_its_subnets() {
    let c = capture();
    let q = &c["address_list_query"][0];
    let base =
        u64::from_str_radix(q["base"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let raw = RawAddressList {
        base,
        bytes: hex(q["bytes"].as_str().unwrap()),
    };
    let recorded: Vec<IpAddr> = q["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();

    // The catalog's TCP/IP entry is the real record Wine reported.
    let tcpip =
        ProtocolInfo::decode(&hex(c["protocol_info"][0]["bytes"].as_str().unwrap())).unwrap();
    let mut catalog = MockCatalog::empty();
    catalog.add_entry(wsd_switch::switch_core::catalog::CatalogEntry {
        info: tcpip.clone(),
    });
    let ib = MockConfig::generic("ib").with_address_raw(raw);
    catalog.install_mock(&ib);
    let mut loader = MockLoader::new();
    loader.add(ib);

    let mut switch = Switch::new(SwitchConfig::default());
    let report = switch.initialize(
        &catalog,
        &mut loader,
        vec![
            "192.168.77.1/24".parse().unwrap(),
            "10.1.0.1/16".parse().unwrap(),
        ],
    );
    let p = report.provider("ib").unwrap();
    assert_eq!(p.state, ProviderState::Ready);
    assert_eq!(p.addresses, recorded);
    assert_eq!(switch.tcpip_record(), &tcpip);

    let to = |s: &str| {
        switch
            .decide_connect(s.parse().unwrap(), SocketKind::Stream)
            .target
    };
    assert_eq!(to("192.168.77.20:445"), RouteTarget::San(p.id));
    assert_eq!(to("10.1.200.1:445"), RouteTarget::San(p.id));
    assert_eq!(to("172.16.0.1:445"), RouteTarget::Tcp);
}
