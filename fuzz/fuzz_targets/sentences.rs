#![no_main]
//! Fuzz target `sentences`: see `millstone::fuzzing::sentences`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::sentences(data));
