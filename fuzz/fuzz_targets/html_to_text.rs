#![no_main]
//! Fuzz target `html_to_text`: see `millstone::fuzzing::html_to_text`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::html_to_text(data));
