#![no_main]
// See mosaico_bridge::fuzzing::do_get for what this target feeds and checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mosaico_bridge::fuzzing::do_get(data));
