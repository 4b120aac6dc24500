//! Throughput on one and two threads, interleaved round by round, for a
//! shared machine (issue 15, item 7): PUTs through the memory store, and
//! validation from bytes, each beside the machine's own two-thread factor.
//!
//! ```text
//! cargo build --profile bench -p identity-benches --example threads
//! target/release/examples/threads 150
//! target/release/examples/threads 2000 put-2    # one variant, for a profiler
//! ```
//!
//! Seven variants of one round each: 2,000 PUTs through one manager and
//! store on one thread; 1,000 on each of two threads; 1,000 on each of two
//! threads with a manager and store each (nothing of the library shared:
//! the ceiling for PUTs); 4,000 documents of the default corpus validated
//! from bytes on one thread, and 2,000 on each of two; and the control, a
//! bare `serde_json` parse of the same 4,000 documents' bytes on one
//! thread and on two (nothing of the library at all). The order rotates
//! from round to round and the program prints the median of each round's
//! ratios: load swings slower than a round (milliseconds) hit all variants
//! alike.
//!
//! The work runs on two long-lived worker threads
//! ([`identity_benches::workers`]), each with its own current-thread
//! runtime, as a server's would; each makes its own input for a round (the
//! PUT bodies, a copy of the documents' bytes) before the round is timed.
//! An earlier version (`put_threads`) started two threads and built two
//! runtimes per round, made the bodies on the main thread, and timed the
//! round from the main thread: it measured thread starts, fresh allocator
//! arenas, frees across arenas and wake-ups, and two threads with nothing
//! shared reached only 1.27-1.68x one.

use std::sync::Arc;

use identity_benches::corpus::{CORPUS_SIZE, corpus, shared_data};
use identity_benches::workers::{self, Prepare, Workers, parses, validations};
use identity_core::password::PasswordHasher;
use identity_core::{
    CreateIdentityBody, IdentityManager, Limits, SchemaRegistry, TenantId, UpdateIdentityBody,
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

/// Items per second of one round on `workers`.
fn round<'a>(workers: &Workers<'a>, parts: Vec<Prepare<'a>>, items: usize) -> f64 {
    items as f64 / workers.round(parts).as_secs_f64()
}

/// `count` PUTs of thread `t`'s identities through `m`.
fn puts<'a>(m: &'a IdentityManager, ids: &'a [Uuid], t: usize, count: usize) -> Prepare<'a> {
    workers::puts(m, ids, count, move |i| {
        UpdateIdentityBody::from_json(json!({
            "traits": traits(t * PER_THREAD + i), "metadata_public": {"plan": "pro"}
        }))
        .expect("body")
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The variants, by number.
const NAMES: [&str; 7] = [
    "put-1",
    "put-2",
    "put-2-own",
    "validate-1",
    "validate-2",
    "parse-1",
    "parse-2",
];

/// Documents a round validates or parses.
const DOCS: usize = 4_000;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(40)
        .max(1);
    // For a profiler: only the variant with this name.
    let only = std::env::args().nth(2).map(|name| {
        NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("variants: {NAMES:?}"))
    });
    let shared = manager();
    let shared_ids = seed(&shared, 0..2);
    let own = [manager(), manager()];
    let own_ids: Vec<Vec<Uuid>> = own
        .iter()
        .enumerate()
        .flat_map(|(t, m)| seed(m, t..t + 1))
        .collect();
    let mut registry = SchemaRegistry::new();
    registry
        .register_file("default", shared_data().join("schemas/default.schema.json"))
        .expect("registers");
    let schema = registry.resolve("default").expect("registered");
    let limits = Limits::default();
    let docs: Vec<Vec<u8>> = corpus("default", 0x1de7_1717, CORPUS_SIZE)
        .iter()
        .take(DOCS)
        .map(|d| serde_json::to_vec(&d.traits).expect("json"))
        .collect();
    let halves: Vec<&[Vec<u8>]> = docs.chunks(DOCS / 2).collect();
    const VARIANTS: usize = 7;
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS];
    std::thread::scope(|scope| {
        let workers = Workers::start(scope, 2);
        let (shared, shared_ids, own, own_ids) = (&shared, &shared_ids, &own, &own_ids);
        for r in 0..rounds + 1 {
            let mut row = [0.0; VARIANTS];
            for k in 0..VARIANTS {
                let variant = (r + k) % VARIANTS;
                if only.is_some_and(|only| only != variant) {
                    continue;
                }
                let (parts, items): (Vec<Prepare<'_>>, usize) = match variant {
                    0 => (vec![puts(shared, &shared_ids[0], 0, PUTS)], PUTS),
                    1 => (
                        (0..2)
                            .map(|t| puts(shared, &shared_ids[t], t, PUTS / 2))
                            .collect(),
                        PUTS,
                    ),
                    2 => (
                        (0..2)
                            .map(|t| puts(&own[t], &own_ids[t], t, PUTS / 2))
                            .collect(),
                        PUTS,
                    ),
                    3 => (vec![validations(schema, &limits, &docs)], DOCS),
                    4 => (
                        halves
                            .iter()
                            .map(|h| validations(schema, &limits, h))
                            .collect(),
                        DOCS,
                    ),
                    5 => (vec![parses(&docs)], DOCS),
                    _ => (halves.iter().map(|h| parses(h)).collect(), DOCS),
                };
                row[variant] = round(&workers, parts, items);
            }
            // The first round warms up.
            if r > 0 {
                for (v, x) in row.into_iter().enumerate() {
                    results[v].push(x);
                }
            }
        }
    });
    if only.is_some() {
        return;
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    let [one, two, two_own, v_one, v_two, p_one, p_two] = &results[..] else {
        unreachable!("seven variants")
    };
    println!(
        "{rounds} rounds, medians: PUT 1 thread {:.0}/s, 2 threads {:.0}/s, 2 threads own stores {:.0}/s; \
         validation 1 thread {:.0}/s, 2 threads {:.0}/s; bare parse 1 thread {:.0}/s, 2 threads {:.0}/s",
        median(one.clone()),
        median(two.clone()),
        median(two_own.clone()),
        median(v_one.clone()),
        median(v_two.clone()),
        median(p_one.clone()),
        median(p_two.clone()),
    );
    println!(
        "per-round ratios, medians: PUT 2T/1T {:.2}x, own stores 2T/1T {:.2}x, shared/own {:.2}; \
         validation 2T/1T {:.2}x; control, bare parse 2T/1T {:.2}x",
        ratio(two, one),
        ratio(two_own, one),
        ratio(two, two_own),
        ratio(v_two, v_one),
        ratio(p_two, p_one),
    );
    // Each round's speed-up over the same round's control: what the
    // library keeps of what the machine gives two threads at that moment.
    let against_control = |two: &[f64], one: &[f64]| {
        median(
            (0..one.len())
                .map(|r| (two[r] / one[r]) / (p_two[r] / p_one[r]))
                .collect(),
        )
    };
    println!(
        "speed-up over the control's of the same round, medians: PUT {:.2}, own stores {:.2}, validation {:.2}",
        against_control(two, one),
        against_control(two_own, one),
        against_control(v_two, v_one),
    );
}
