#![no_main]
//! Fuzz target `pipeline`: see `millstone::fuzzing::pipeline`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::pipeline(data));
