#![no_main]
//! Fuzz target `warc`: see `millstone::fuzzing::warc`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::warc(data));
