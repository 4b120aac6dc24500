//! The login path (issue 15, item 6): find the identity by its password
//! identifier on the SQLite store, then verify the password against its
//! stored hash, at production Argon2id parameters and with an imported
//! bcrypt hash; beside each, the bare hash verification alone, measured in
//! the same run, so that the library's share of a login is
//! `(login − bare) / login`.
//!
//! `cargo bench -p identity-benches --bench login`; figures in
//! `benches/README.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use identity_benches::corpus::shared_data;
use identity_core::password::{self, BcryptParams};
use identity_core::{
    BatchEntry, BatchOutcome, CreateIdentityBody, CredentialType, Identity, IdentityManager,
    SchemaRegistry, TenantId,
};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::json;

const T: TenantId = TenantId::DEFAULT;
const PASSWORD: &str = "correct horse battery staple";
/// Identities per hash format (Argon2id first, then bcrypt): 5,000 in all.
const PER_FORMAT: u64 = 2_500;
/// The imported bcrypt hashes' cost: the library's production floor. A
/// cheaper hash makes the library's share larger, so this is the strict
/// case (Kratos' and the library's default cost, 12, is 4× the work).
const BCRYPT_COST: u32 = BcryptParams::MIN_COST;

fn email(n: u64) -> String {
    format!("user{n}@example.com")
}

fn body(n: u64, password_config: serde_json::Value) -> CreateIdentityBody {
    CreateIdentityBody::from_json(json!({
        "schema_id": "default",
        "traits": {"email": email(n), "name": {"first": "Ada", "last": "Lovelace"}},
        "credentials": {"password": {"config": password_config}},
        "metadata_public": {"plan": "pro"}
    }))
    .expect("body")
}

fn hashed_password(identity: &Identity) -> &str {
    identity.credentials[&CredentialType::Password]
        .config
        .expose()
        .get("hashed_password")
        .and_then(serde_json::Value::as_str)
        .expect("a password hash")
}

/// A login as an embedder writes it with the library: look the identity up
/// by the identifier typed in (normalised as stored), verify the password
/// against its hash, and ask whether the hash should be upgraded.
async fn login(m: &IdentityManager, identifier: &str, plaintext: &str) -> (bool, bool) {
    let identity = m
        .find_by_identifier(T, CredentialType::Password, identifier)
        .await
        .expect("find");
    let encoded = hashed_password(&identity);
    let ok = password::verify(plaintext, encoded).expect("verify");
    (ok, m.hasher().needs_rehash(encoded))
}

/// [`login`] without the hash computation: the lookup, the full parse of
/// the stored hash that `verify` does before hashing (`check_import` is
/// that parse), and the rehash check. The library's share of a login,
/// measured directly instead of as the small difference of two large
/// medians.
async fn login_without_hash(m: &IdentityManager, identifier: &str) -> bool {
    let identity = m
        .find_by_identifier(T, CredentialType::Password, identifier)
        .await
        .expect("find");
    let encoded = hashed_password(&identity);
    password::check_import(encoded).expect("parse");
    m.hasher().needs_rehash(encoded)
}

/// The salt and key of a PHC Argon2id string, decoded once: the bare
/// verification is then the hash computation and a comparison only.
fn argon2_salt_and_key(encoded: &str) -> (Vec<u8>, Vec<u8>) {
    let parts: Vec<&str> = encoded.split('$').collect();
    assert_eq!(
        parts[1..4],
        ["argon2id", "v=19", "m=19456,t=2,p=1"],
        "{encoded}"
    );
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    (
        b64.decode(parts[4]).expect("salt"),
        b64.decode(parts[5]).expect("key"),
    )
}

fn bench_login(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(
        dir.path().join("login.db").to_str().expect("utf-8"),
        SqliteOptions::default(),
    )
    .expect("sqlite");
    let mut registry = SchemaRegistry::new();
    registry
        .register_file("default", shared_data().join("schemas/default.schema.json"))
        .expect("shared schema registers");
    // The default hasher: production Argon2id (m = 19456 KiB, t = 2, p = 1).
    let m = IdentityManager::builder(Arc::new(store), Arc::new(registry)).build();

    // Identity 0 registers with a plaintext password, hashed by the
    // manager; the other Argon2id identities import that hash, the bcrypt
    // ones a hash made by the `bcrypt` crate (as one exported from another
    // system would be). Imports are checked, not hashed, so 5,000
    // identities load in a few seconds.
    let first = rt
        .block_on(m.create(T, body(0, json!({"password": PASSWORD}))))
        .expect("create with a plaintext password");
    let argon2_hash = hashed_password(&first).to_owned();
    let bcrypt_hash = bcrypt::hash(PASSWORD, BCRYPT_COST).expect("bcrypt");
    assert!(bcrypt_hash.starts_with("$2b$10$"), "{bcrypt_hash}");
    let all: Vec<u64> = (1..2 * PER_FORMAT).collect();
    for chunk in all.chunks(100) {
        let entries = chunk
            .iter()
            .map(|&n| {
                let hash = if n < PER_FORMAT {
                    &argon2_hash
                } else {
                    &bcrypt_hash
                };
                Some(BatchEntry {
                    create: body(n, json!({"hashed_password": hash})),
                    patch_id: None,
                })
            })
            .collect();
        let outcomes = rt.block_on(m.batch_create(T, entries)).expect("preload");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, BatchOutcome::Created { .. })),
            "{outcomes:?}"
        );
    }
    // Logins spread over the identities of one format.
    let who = |k: u64, offset: u64| email(offset + k * 7_919 % PER_FORMAT);
    assert_eq!(
        rt.block_on(login(&m, &who(3, 0), PASSWORD)),
        (true, false),
        "Argon2id at the configured parameters: no rehash"
    );
    assert_eq!(
        rt.block_on(login(&m, &who(3, PER_FORMAT), PASSWORD)),
        (true, true),
        "bcrypt: valid, to be upgraded to Argon2id"
    );

    let (salt, key) = argon2_salt_and_key(&argon2_hash);
    let bare = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, Some(key.len())).expect("params"),
    );
    let mut group = c.benchmark_group("login/argon2id_m19456_t2_p1");
    let mut k = 0;
    group.bench_function("find_and_verify", |b| {
        b.iter(|| {
            k += 1;
            let (ok, _) = rt.block_on(login(&m, &who(k, 0), black_box(PASSWORD)));
            assert!(ok);
        })
    });
    group.bench_function("bare_argon2_verify", |b| {
        b.iter(|| {
            let mut out = vec![0u8; key.len()];
            bare.hash_password_into(black_box(PASSWORD.as_bytes()), &salt, &mut out)
                .expect("hash");
            assert!(out == key);
        })
    });
    let mut k = 0;
    group.bench_function("login_without_hash", |b| {
        b.iter(|| {
            k += 1;
            rt.block_on(login_without_hash(&m, &who(k, 0)))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("login/bcrypt_cost10");
    group.measurement_time(Duration::from_secs(5));
    let mut k = 0;
    group.bench_function("find_and_verify", |b| {
        b.iter(|| {
            k += 1;
            let (ok, _) = rt.block_on(login(&m, &who(k, PER_FORMAT), black_box(PASSWORD)));
            assert!(ok);
        })
    });
    group.bench_function("bare_bcrypt_verify", |b| {
        b.iter(|| assert!(bcrypt::verify(black_box(PASSWORD), &bcrypt_hash).expect("verify")))
    });
    let mut k = 0;
    group.bench_function("login_without_hash", |b| {
        b.iter(|| {
            k += 1;
            rt.block_on(login_without_hash(&m, &who(k, PER_FORMAT)))
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_login
}
criterion_main!(benches);
