//! Bytes the memory store holds per identity, measured with a counting
//! global allocator, against the size of each identity's admin JSON.
//!
//! `cargo bench -p identity-benches --bench memory`

use std::alloc::System;
use std::sync::Arc;

use identity_benches::corpus::{SCHEMAS, shared_data};
use identity_core::password::PasswordHasher;
use identity_core::{
    CreateIdentityBody, CredentialInclude, IdentityManager, SchemaRegistry, TenantId,
};
use identity_store_memory::MemoryStore;
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const IDENTITIES: usize = 100_000;
const BCRYPT: &str = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut registry = SchemaRegistry::new();
    for id in SCHEMAS {
        registry
            .register_file(id, shared_data().join(format!("schemas/{id}.schema.json")))
            .expect("schema");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let manager = IdentityManager::builder(store.clone(), Arc::new(registry))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .build();
    let tenant = TenantId::DEFAULT;
    let region = Region::new(GLOBAL);
    let mut json_bytes = 0usize;
    rt.block_on(async {
        for n in 0..IDENTITIES {
            let body = CreateIdentityBody::from_json(json!({
                "traits": {"email": format!("user{n}@example.com"),
                           "name": {"first": "Ada", "last": "Lovelace"}, "newsletter": n % 2 == 0},
                "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
                "metadata_public": {"plan": "pro"},
                "external_id": format!("crm-{n:06}")
            }))
            .expect("body");
            let created = manager.create(tenant, body).await.expect("create");
            json_bytes += serde_json::to_vec(&manager.to_json(&created, CredentialInclude::All))
                .expect("json")
                .len();
        }
    });
    let stats = region.change();
    let held =
        stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated;
    let per_identity = held as f64 / IDENTITIES as f64;
    let json_per_identity = json_bytes as f64 / IDENTITIES as f64;
    println!("memory/store: {IDENTITIES} identities");
    println!("memory/store: bytes held per identity: {per_identity:.0}");
    println!("memory/store: admin JSON bytes per identity: {json_per_identity:.0}");
    println!(
        "memory/store: ratio held / JSON: {:.2} (target <= 2.00)",
        per_identity / json_per_identity
    );
    breakdown(&rt, &store, per_identity);
    drop(manager);
    drop(store);
}

/// Bytes one value allocates when built by `make` (its deep size, as the
/// allocator is asked for it; allocator bookkeeping is not counted).
fn bytes_of<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = make();
    let stats = region.change();
    let held =
        stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated;
    (value, held.max(0) as usize)
}

/// Where the bytes of one stored identity go: each part's deep size,
/// measured by cloning it, and what the store adds on top (its row and the
/// uniqueness indexes).
fn breakdown(rt: &tokio::runtime::Runtime, store: &MemoryStore, per_identity: f64) {
    use identity_core::IdentityStore as _;
    let page = rt
        .block_on(store.list(
            TenantId::DEFAULT,
            &identity_core::ListQuery {
                filter: identity_core::ListFilter::All,
                after: None,
                limit: 1,
            },
        ))
        .expect("list");
    let sample = &page.identities[0];
    let (_, whole) = bytes_of(|| sample.clone());
    let (_, traits) = bytes_of(|| sample.traits.clone());
    let (_, metadata) = bytes_of(|| {
        (
            sample.metadata_public.clone(),
            sample.metadata_admin.clone(),
        )
    });
    let (_, credentials) = bytes_of(|| sample.credentials.clone());
    let (_, configs) = bytes_of(|| {
        sample
            .credentials
            .values()
            .map(|c| c.config.clone())
            .collect::<Vec<_>>()
    });
    let (_, addresses) = bytes_of(|| {
        (
            sample.verifiable_addresses.clone(),
            sample.recovery_addresses.clone(),
        )
    });
    let (_, strings) = bytes_of(|| (sample.schema_id.clone(), sample.external_id.clone()));
    println!("memory/breakdown: one stored identity, deep size by part (bytes):");
    println!("memory/breakdown:   identity (all parts)        {whole:>6}");
    println!("memory/breakdown:   traits                      {traits:>6}");
    println!("memory/breakdown:   credentials                 {credentials:>6}");
    println!(
        "memory/breakdown:     of which configs          {configs:>6} (incl. a Vec of {} slots)",
        sample.credentials.len()
    );
    println!("memory/breakdown:   addresses                   {addresses:>6}");
    println!("memory/breakdown:   metadata                    {metadata:>6}");
    println!("memory/breakdown:   schema id, external id      {strings:>6}");
    println!(
        "memory/breakdown:   store row + indexes         {:>6.0} (held per identity - identity)",
        per_identity - whole as f64
    );
}
