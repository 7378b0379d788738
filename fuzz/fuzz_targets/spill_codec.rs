#![no_main]
//! Fuzz target `spill_codec`: see `millstone::fuzzing::spill_codec`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::spill_codec(data));
