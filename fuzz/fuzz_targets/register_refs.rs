#![no_main]
//! Fuzz target: see `identity_fuzz_checks::check_register_refs`
//! (structure-aware schemas: `$ref` graphs, long chains, cycles).

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz_checks::check_register_refs(data));
