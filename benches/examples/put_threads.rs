//! PUT throughput on one and two threads through the memory store,
//! interleaved round by round, for a shared machine (issue 15, item 7).
//!
//! ```text
//! cargo build --profile bench -p identity-benches --example put_threads
//! target/release/examples/put_threads 40
//! ```
//!
//! The criterion group `threads/put/memory` measures its three variants one
//! after the other, seconds apart, so a change of load between them lands
//! in their ratio. This runs the same three variants (2,000 PUTs through
//! one manager and store on one thread; 1,000 on each of two threads; 1,000
//! on each of two threads with a manager and store each) in rounds, the
//! order rotating, and prints the median of each round's ratios: load
//! swings slower than a round (tens of milliseconds) hit all three alike.

use std::sync::Arc;
use std::time::Instant;

use identity_benches::corpus::shared_data;
use identity_core::password::PasswordHasher;
use identity_core::{
    CreateIdentityBody, IdentityManager, SchemaRegistry, TenantId, UpdateIdentityBody,
};
use identity_store_memory::MemoryStore;
use serde_json::json;
use uuid::Uuid;

const PUTS: usize = 2_000;
const PER_THREAD: usize = 50;
const BCRYPT: &str = "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay";

fn manager() -> IdentityManager {
    let mut registry = SchemaRegistry::new();
    registry
        .register_file("default", shared_data().join("schemas/default.schema.json"))
        .expect("registers");
    IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .build()
}

fn traits(n: usize) -> serde_json::Value {
    json!({"email": format!("user{n}@example.com"), "name": {"first": "Ada", "last": "Lovelace"}})
}

/// Creates each thread's identities (thread `t` gets its own 50).
fn seed(m: &IdentityManager, threads: std::ops::Range<usize>) -> Vec<Vec<Uuid>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    threads
        .map(|t| {
            (0..PER_THREAD)
                .map(|i| {
                    let body = CreateIdentityBody::from_json(json!({
                        "traits": traits(t * PER_THREAD + i),
                        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
                        "metadata_public": {"plan": "pro"}
                    }))
                    .expect("body");
                    rt.block_on(m.create(TenantId::DEFAULT, body))
                        .expect("create")
                        .id
                })
                .collect()
        })
        .collect()
}

/// PUTs per second: `work[t]` on thread `t`, through `managers[t]`.
fn run(managers: &[&IdentityManager], ids: &[Vec<Uuid>], threads: usize) -> f64 {
    let work: Vec<Vec<(Uuid, UpdateIdentityBody)>> = (0..threads)
        .map(|t| {
            (0..PUTS / threads)
                .map(|k| {
                    let i = k % PER_THREAD;
                    let body = UpdateIdentityBody::from_json(json!({
                        "traits": traits(t * PER_THREAD + i), "metadata_public": {"plan": "pro"}
                    }))
                    .expect("body");
                    (ids[t][i], body)
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (t, puts) in work.into_iter().enumerate() {
            let m = managers[t];
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                for (id, body) in puts {
                    rt.block_on(m.update(TenantId::DEFAULT, id, body, None))
                        .expect("put");
                }
            });
        }
    });
    PUTS as f64 / start.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let shared = manager();
    let shared_ids = seed(&shared, 0..2);
    let own = [manager(), manager()];
    let own_ids: Vec<Vec<Uuid>> = own
        .iter()
        .enumerate()
        .flat_map(|(t, m)| seed(m, t..t + 1))
        .collect();
    let (mut one, mut two, mut two_own) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds + 1 {
        let mut results = [0.0; 3];
        for k in 0..3 {
            let variant = (r + k) % 3;
            results[variant] = match variant {
                0 => run(&[&shared], &shared_ids, 1),
                1 => run(&[&shared, &shared], &shared_ids, 2),
                _ => run(&[&own[0], &own[1]], &own_ids, 2),
            };
        }
        // The first round warms up.
        if r > 0 {
            one.push(results[0]);
            two.push(results[1]);
            two_own.push(results[2]);
        }
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    println!(
        "{rounds} rounds of {PUTS} PUTs, medians: 1 thread {:.0}/s, 2 threads {:.0}/s, 2 threads own stores {:.0}/s",
        median(one.clone()),
        median(two.clone()),
        median(two_own.clone())
    );
    println!(
        "per-round ratios, medians: 2T/1T {:.2}x, own stores 2T/1T {:.2}x, shared/own {:.2}",
        ratio(&two, &one),
        ratio(&two_own, &one),
        ratio(&two, &two_own)
    );
}
