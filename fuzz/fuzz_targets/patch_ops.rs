#![no_main]
//! Fuzz target: see `identity_fuzz_checks::check_patch_ops` (structure-aware
//! JSON Patch documents: long paths, deep values, runs of self-copies).

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz_checks::check_patch_ops(data));
