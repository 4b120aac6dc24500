//! Password hashing and verification at production parameters against the
//! bare `argon2` crate call with the same parameters, in the same run.
//!
//! `cargo bench -p identity-benches --bench password`

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use identity_core::password::{self, PasswordHasher};

const PASSWORD: &str = "correct horse battery staple";

fn argon2(c: &mut Criterion) {
    let hasher = PasswordHasher::default();
    let encoded = hasher.hash(PASSWORD).expect("hash");
    assert!(
        encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{encoded}"
    );
    let bare = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, Some(32)).expect("params"),
    );
    let salt = [7u8; 16];
    let mut group = c.benchmark_group("password/argon2id_m19456_t2_p1");
    group.bench_function("bare_argon2_hash_password_into", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            bare.hash_password_into(black_box(PASSWORD.as_bytes()), &salt, &mut out)
                .expect("hash");
            out
        })
    });
    group.bench_function("ours_hash", |b| {
        b.iter(|| hasher.hash(black_box(PASSWORD)).expect("hash"))
    });
    group.bench_function("ours_verify", |b| {
        b.iter(|| password::verify(black_box(PASSWORD), &encoded).expect("verify"))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = argon2
}
criterion_main!(benches);
