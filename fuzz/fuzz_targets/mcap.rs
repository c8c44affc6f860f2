#![no_main]
// See mosaico_bridge::fuzzing::mcap for what this target feeds and checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mosaico_bridge::fuzzing::mcap(data));
