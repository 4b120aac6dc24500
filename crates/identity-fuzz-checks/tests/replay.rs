//! Replays every committed fuzz corpus and crash input through the checks.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut count = 0;
    for dir in [
        fuzz_dir().join("corpus").join(target),
        fuzz_dir().join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            check(&data);
            count += 1;
        }
    }
    count
}

fn at_least(target: &str, check: fn(&[u8]), min: usize) {
    let n = replay(target, check);
    assert!(
        n >= min,
        "{target}: only {n} inputs replayed from {}",
        Path::new("fuzz/corpus").join(target).display()
    );
}

#[test]
fn validate_corpus() {
    at_least("validate", identity_fuzz_checks::check_validate, 5);
}

#[test]
fn register_corpus() {
    at_least("register", identity_fuzz_checks::check_register, 4);
}

#[test]
fn bodies_corpus() {
    at_least("bodies", identity_fuzz_checks::check_bodies, 4);
}

#[test]
fn patch_corpus() {
    at_least("patch", identity_fuzz_checks::check_patch, 4);
}

#[test]
fn patch_ops_corpus() {
    at_least("patch_ops", identity_fuzz_checks::check_patch_ops, 4);
}

#[test]
fn register_refs_corpus() {
    at_least(
        "register_refs",
        identity_fuzz_checks::check_register_refs,
        4,
    );
}

#[test]
fn password_corpus() {
    at_least("password", identity_fuzz_checks::check_password, 10);
}
