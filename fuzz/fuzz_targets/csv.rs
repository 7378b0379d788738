#![no_main]
//! Fuzz target `csv`: see `millstone::fuzzing::csv`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::csv(data));
