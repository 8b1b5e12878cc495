#![no_main]
// See powerdeck_core::fuzzing::vsphere for what this holds its input to.
libfuzzer_sys::fuzz_target!(|data: &[u8]| powerdeck_core::fuzzing::vsphere(data));
