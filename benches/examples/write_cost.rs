//! The SQLite store's writes against the raw rusqlite baseline, with and
//! without the change feed's row, measured by turns: in every round, a
//! block of creates (then of updates) by each contender in a row, on the
//! same files throughout. A load that comes and goes on a shared machine
//! falls on every contender alike, which separate criterion groups run
//! minutes apart cannot promise (an `fsync`-bound median moves by tens of
//! percent between them).
//!
//! ```text
//! cargo run --profile bench -p identity-benches --example write_cost [ROUNDS]
//! ```
//!
//! Prints the mean µs per write of each contender and the ratios
//! (`benches/README.md`, "The change feed's cost"). The raw change row is
//! the store's own statement (`sqlite_raw::STORE_APPEND`).
//!
//! Two more contenders make each write from a task of the runtime (spawned
//! and joined from the caller's `block_on`, a cost both pay): the store,
//! and the raw baseline with the change row (issue 15, item 5: a write
//! from a task within 1.25× of raw).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use identity_benches::sqlite_raw::{
    T, email, moved, person, raw_connection, raw_create, raw_create_with_change, raw_insert_all,
    raw_update_with, valid,
};
use identity_core::{Identity, IdentityStore, ValidIdentity};
use identity_store_sqlite::{SqliteOptions, SqliteStore};

/// Writes of each contender per turn.
const BLOCK: usize = 25;
/// Identities written before the first turn.
const PRELOAD: u64 = 2_000;

fn main() {
    let rounds: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().expect("ROUNDS is a number"),
        None => 100,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join("store.db");
    let store: Arc<dyn IdentityStore> = Arc::new(
        SqliteStore::open(
            store_path.to_str().expect("utf-8"),
            SqliteOptions::default(),
        )
        .expect("store"),
    );
    let raw = Arc::new(Mutex::new(raw_connection(&dir.path().join("raw.db"))));
    let preload: Vec<Identity> = (0..PRELOAD).map(|n| person(n, &email(n))).collect();
    for chunk in preload.chunks(100) {
        let batch: Vec<_> = chunk.iter().map(valid).collect();
        let results = rt.block_on(store.batch_create(T, &batch)).expect("preload");
        assert!(results.iter().all(Result::is_ok));
        raw_insert_all(&mut raw.lock().expect("raw"), chunk);
    }

    let names = [
        "store",
        "raw",
        "raw + change",
        "store from a task",
        "raw + change from a task",
    ];
    let mut create = [Duration::ZERO; 5];
    let mut update = [Duration::ZERO; 5];
    let mut next = 1_000_000u64;
    let base = person(42, &email(42));
    let flip = [
        moved(&base, 1, "flip@example.com"),
        moved(&base, 2, "flop@example.com"),
    ];
    let flip_valid = [valid(&flip[0]), valid(&flip[1])];
    let mut store_version = rt.block_on(store.get(T, base.id)).expect("base").version;
    let mut raw_version = 1u64;
    for _ in 0..rounds {
        for (who, total) in create.iter_mut().enumerate() {
            let fresh: Vec<Identity> = (0..BLOCK as u64)
                .map(|k| person(next + k, &email(next + k)))
                .collect();
            next += BLOCK as u64;
            let checked: Vec<ValidIdentity> = fresh.iter().map(valid).collect();
            let start = Instant::now();
            for (i, v) in fresh.iter().zip(checked) {
                match who {
                    0 => {
                        rt.block_on(store.create(T, &v)).expect("create");
                    }
                    1 => raw_create(&mut raw.lock().expect("raw"), i),
                    2 => raw_create_with_change(&mut raw.lock().expect("raw"), i),
                    3 => {
                        let store = Arc::clone(&store);
                        rt.block_on(rt.spawn(async move { store.create(T, &v).await }))
                            .expect("join")
                            .expect("create");
                    }
                    _ => {
                        let (raw, i) = (Arc::clone(&raw), i.clone());
                        rt.block_on(rt.spawn(async move {
                            raw_create_with_change(&mut raw.lock().expect("raw"), &i)
                        }))
                        .expect("join");
                    }
                }
            }
            *total += start.elapsed();
        }
        for (who, total) in update.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..BLOCK {
                match who {
                    0 => {
                        let next = &flip_valid[(store_version % 2) as usize];
                        store_version = rt
                            .block_on(store.update(T, next, Some(store_version)))
                            .expect("update");
                    }
                    1 | 2 => {
                        let next = &flip[(raw_version % 2) as usize];
                        raw_version = raw_update_with(
                            &mut raw.lock().expect("raw"),
                            next,
                            raw_version,
                            who == 2,
                        );
                    }
                    3 => {
                        let (store, v) = (Arc::clone(&store), store_version);
                        let next = flip_valid[(v % 2) as usize].clone();
                        store_version = rt
                            .block_on(
                                rt.spawn(async move { store.update(T, &next, Some(v)).await }),
                            )
                            .expect("join")
                            .expect("update");
                    }
                    _ => {
                        let (raw, v) = (Arc::clone(&raw), raw_version);
                        let next = flip[(v % 2) as usize].clone();
                        raw_version = rt
                            .block_on(rt.spawn(async move {
                                raw_update_with(&mut raw.lock().expect("raw"), &next, v, true)
                            }))
                            .expect("join");
                    }
                }
            }
            *total += start.elapsed();
        }
    }
    // Untimed: WAL frames (pages) each contender's write commits, read
    // from the frame count after a block of writes into a truncated WAL
    // (a block stays far below the 1,000-frame autocheckpoint).
    let aux = |path: &std::path::Path| rusqlite::Connection::open(path).expect("aux");
    let (store_aux, raw_aux) = (aux(&store_path), aux(&dir.path().join("raw.db")));
    let frames = |c: &rusqlite::Connection, truncate: bool| -> i64 {
        let mode = if truncate { "TRUNCATE" } else { "PASSIVE" };
        c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
            .expect("checkpoint")
    };
    // Per contender: frames per create, per update.
    let mut per_write = [[0f64; 2]; 3];
    for (who, counted) in per_write.iter_mut().enumerate() {
        let c = if who == 0 { &store_aux } else { &raw_aux };
        frames(c, true);
        for k in 0..BLOCK as u64 {
            let i = person(next + k, &email(next + k));
            match who {
                0 => {
                    rt.block_on(store.create(T, &valid(&i))).expect("create");
                }
                1 => raw_create(&mut raw.lock().expect("raw"), &i),
                _ => raw_create_with_change(&mut raw.lock().expect("raw"), &i),
            }
        }
        next += BLOCK as u64;
        counted[0] = frames(c, false) as f64 / BLOCK as f64;
        frames(c, true);
        for _ in 0..BLOCK {
            if who == 0 {
                let v = &flip_valid[(store_version % 2) as usize];
                store_version = rt
                    .block_on(store.update(T, v, Some(store_version)))
                    .expect("update");
            } else {
                let n = &flip[(raw_version % 2) as usize];
                raw_version =
                    raw_update_with(&mut raw.lock().expect("raw"), n, raw_version, who == 2);
            }
        }
        counted[1] = frames(c, false) as f64 / BLOCK as f64;
    }
    println!(
        "WAL frames per write (store, raw, raw + change): create {:.1}, {:.1}, {:.1}; \
         update {:.1}, {:.1}, {:.1}",
        per_write[0][0],
        per_write[1][0],
        per_write[2][0],
        per_write[0][1],
        per_write[1][1],
        per_write[2][1]
    );
    let writes = u32::try_from(rounds * BLOCK).expect("a u32 of writes");
    // The raw change rows were written: one per create and per update of
    // the third contender, timed or counted.
    let rows: i64 = raw
        .lock()
        .expect("raw")
        .query_row("SELECT count(*) FROM identity_changes", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 2 * (2 * i64::from(writes) + BLOCK as i64));
    for (what, totals) in [("create", create), ("update", update)] {
        let us: Vec<f64> = totals
            .iter()
            .map(|t| (*t / writes).as_secs_f64() * 1e6)
            .collect();
        let each: Vec<String> = names
            .iter()
            .zip(&us)
            .map(|(name, us)| format!("{name} {us:.0} µs"))
            .collect();
        println!(
            "{what} ({writes} each): {}; raw + change / raw {:.3}, store / raw {:.3}, \
             store / (raw + change) {:.3}; from a task: store / (raw + change) {:.3}",
            each.join(", "),
            us[2] / us[1],
            us[0] / us[1],
            us[0] / us[2],
            us[3] / us[4]
        );
    }
}
