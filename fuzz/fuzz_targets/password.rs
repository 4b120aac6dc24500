#![no_main]
//! Fuzz target: see `identity_fuzz_checks::check_password`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz_checks::check_password(data));
