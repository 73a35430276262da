//! Decoding a configuration blob never panics, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mantle_config::{decode, kinds_of};

fuzz_target!(|data: &[u8]| {
    let _ = kinds_of(data);
    let _ = decode::<mantle_config::serial::SerialDriverConfig, _>(data);
    let _ = decode::<mantle_config::serial::SerialVirtTxConfig, _>(data);
    let _ = decode::<mantle_config::serial::SerialVirtRxConfig, _>(data);
    let _ = decode::<mantle_config::serial::SerialClientConfig, _>(data);
    let _ = decode::<mantle_config::timer::TimerDriverConfig, _>(data);
    let _ = decode::<mantle_config::timer::TimerClientConfig, _>(data);
    let _ = decode::<mantle_config::net::NetDriverConfig, _>(data);
    let _ = decode::<mantle_config::net::NetVirtRxConfig, _>(data);
    let _ = decode::<mantle_config::net::NetVirtTxConfig, _>(data);
    let _ = decode::<mantle_config::net::NetCopierConfig, _>(data);
    let _ = decode::<mantle_config::net::NetClientConfig, _>(data);
});
