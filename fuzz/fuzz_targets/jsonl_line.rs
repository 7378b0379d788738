#![no_main]
//! Fuzz target `jsonl_line`: see `millstone::fuzzing::jsonl_line`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| millstone::fuzzing::jsonl_line(data));
