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
    let registry = Arc::new(registry);
    // The compact form is the one the memory target (<= 2x the admin
    // JSON) is for; the shared form trades memory for no encoding at all.
    for (form, store) in [
        ("compact", MemoryStore::compact()),
        ("shared", MemoryStore::new()),
    ] {
        let store = Arc::new(store);
        measure(&rt, form, &store, &registry);
        breakdown(&rt, form, &store);
    }
}

/// Creates the identities through the manager and prints what the store
/// holds per identity against their admin JSON.
fn measure(
    rt: &tokio::runtime::Runtime,
    form: &str,
    store: &Arc<MemoryStore>,
    registry: &Arc<SchemaRegistry>,
) {
    let manager = IdentityManager::builder(store.clone(), registry.clone())
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
    let held = net_bytes(&stats);
    let per_identity = held as f64 / IDENTITIES as f64;
    let json_per_identity = json_bytes as f64 / IDENTITIES as f64;
    println!("memory/{form}: {IDENTITIES} identities");
    println!("memory/{form}: bytes held per identity: {per_identity:.0}");
    println!("memory/{form}: admin JSON bytes per identity: {json_per_identity:.0}");
    let target = if form == "compact" {
        " (target <= 2.00)"
    } else {
        ""
    };
    println!(
        "memory/{form}: ratio held / JSON: {:.2}{target}",
        per_identity / json_per_identity
    );
}

/// Bytes allocated and not freed. `stats_alloc` already books a realloc's
/// growth in `bytes_allocated` and its shrinking in `bytes_deallocated`
/// (`bytes_reallocated` is the same net change again, not to be added).
fn net_bytes(stats: &stats_alloc::Stats) -> isize {
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// Bytes one value allocates when built by `make` (its deep size, as the
/// allocator is asked for it; allocator bookkeeping is not counted).
fn bytes_of<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = make();
    let stats = region.change();
    (value, net_bytes(&stats).max(0) as usize)
}

/// Where the bytes go: one identity's deep size by part when decoded
/// (measured by cloning each part), the size of its compact admin JSON
/// (for comparison: rows hold the store's own, smaller form), its unique
/// keys, and what the store holds per identity written straight into it.
fn breakdown(rt: &tokio::runtime::Runtime, form: &str, store: &MemoryStore) {
    use identity_core::IdentityStore as _;
    let page = rt
        .block_on(store.list(
            TenantId::DEFAULT,
            &identity_core::ListQuery::new(
                identity_core::ListFilter::All,
                None,
                identity_core::PageSize::new(1).expect("size"),
            ),
        ))
        .expect("list");
    let sample: &identity_core::Identity = &page.identities[0];
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
    println!(
        "memory/{form}/breakdown: one identity decoded (as reads return it), deep size by part (bytes):"
    );
    println!("memory/{form}/breakdown:   identity (all parts)        {whole:>6}");
    println!("memory/{form}/breakdown:   traits                      {traits:>6}");
    println!("memory/{form}/breakdown:   credentials                 {credentials:>6}");
    println!(
        "memory/{form}/breakdown:     of which configs          {configs:>6} (incl. a Vec of {} slots)",
        sample.credentials.len()
    );
    println!("memory/{form}/breakdown:   addresses                   {addresses:>6}");
    println!("memory/{form}/breakdown:   metadata                    {metadata:>6}");
    println!("memory/{form}/breakdown:   schema id, external id      {strings:>6}");
    // The store alone: the same identity written 1,000 more times under new
    // ids and keys, straight into the store (no manager, no hashing).
    let (_, store_only) = bytes_of(|| {
        for n in 0..1_000u32 {
            let mut copy = sample.clone();
            copy.id = uuid::Uuid::from_u128(0xfeed_0000 + u128::from(n));
            copy.external_id = identity_core::ExternalId::new(format!("copy-{n}")).ok();
            for c in copy.credentials.values_mut() {
                for i in &mut c.identifiers {
                    *i = format!("copy{n}-{i}");
                }
            }
            for a in &mut copy.verifiable_addresses {
                a.value = format!("copy{n}-{}", a.value);
            }
            for a in &mut copy.recovery_addresses {
                a.value = format!("copy{n}-{}", a.value);
            }
            rt.block_on(store.create(
                TenantId::DEFAULT,
                &identity_core::ValidIdentity::new_for_tests(copy).expect("valid"),
            ))
            .expect("store create");
        }
    });
    let row_json = serde_json::to_vec(&sample.to_json("", CredentialInclude::All))
        .expect("json")
        .len();
    println!(
        "memory/{form}/breakdown: the same identity as compact admin JSON (the wire form, which rows no longer hold): {row_json} bytes"
    );
    let (_, boxed) = bytes_of(|| {
        serde_json::to_vec(&sample.to_json("", CredentialInclude::All))
            .expect("json")
            .into_boxed_slice()
    });
    println!("memory/{form}/breakdown: that JSON, boxed, as counted: {boxed} bytes");
    let (_, keys) = bytes_of(|| sample.unique_keys());
    println!(
        "memory/{form}/breakdown: its {} unique keys: {keys} bytes",
        sample.unique_keys().len()
    );
    println!(
        "memory/{form}/breakdown: the store alone holds {:.0} bytes per identity written straight into it",
        store_only as f64 / 1_000.0
    );
}
