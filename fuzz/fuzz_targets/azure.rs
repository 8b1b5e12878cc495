#![no_main]
// See powerdeck_core::fuzzing::azure for what this holds its input to.
libfuzzer_sys::fuzz_target!(|data: &[u8]| powerdeck_core::fuzzing::azure(data));
