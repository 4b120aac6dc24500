//! Store throughput: create, get, update, find-by-identifier and batch
//! create, for the memory store, the SQLite store, and a raw rusqlite
//! baseline that runs the same SQL (same schema and indexes, same
//! statements and transaction shape: `BEGIN IMMEDIATE` per write, get in
//! one statement, find in two in one read transaction) with none of the
//! library's logic (no conflict diagnosis, no row diff, no decoding of the
//! document it reads, no blocking-pool hop). Beside it, for reads, the
//! single-row baseline of issue 15 (item 5): the identity's whole admin
//! JSON in one row, read by one prepared statement and decoded into an
//! `Identity` with `serde_json`, on the caller's thread, and the same read
//! behind each kind of thread hop (tokio's blocking pool; a thread that
//! owns the connection, reached through a channel).
//!
//! The `search_100k` group (issue 17, item 4) lists and counts with the
//! search criteria over 100,000 identities on the memory and SQLite
//! stores, against an unfiltered page and a raw SQL count in the same run;
//! its stores are loaded only when the group is selected.
//!
//! `cargo bench -p identity-benches --bench stores`; figures in
//! `benches/README.md`.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use identity_core::{
    CredentialInclude, CredentialType, Identity, IdentityStore, ListFilter, ListQuery, PageSize,
    State,
};
use identity_store_memory::MemoryStore;
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use rusqlite::types::Type;
use rusqlite::{Connection, StatementStatus, TransactionBehavior, params};
use serde_json::json;
use uuid::Uuid;

use identity_benches::sqlite_raw::{
    NID, T, email, moved, person, raw_connection, raw_create, raw_create_with_change, raw_insert,
    raw_insert_all, raw_update, raw_update_with, valid,
};
/// Identities stored before reads are measured.
const PRELOAD: u64 = 2_000;
const BATCH: u64 = 100;

/// What the raw baseline reads: the version and the document text, owned
/// (not decoded).
type RawDoc = (i64, String);

fn raw_doc(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawDoc> {
    Ok((r.get(0)?, r.get(1)?))
}

/// One statement on one row, as the store's get.
fn raw_get(c: &Connection, id: Uuid) -> RawDoc {
    c.prepare_cached("SELECT version, doc FROM identities WHERE nid = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row(params![NID, id.as_bytes()], raw_doc))
        .expect("identity")
}

const FIND_TWO_STEP: &str = "SELECT identity_pk FROM credential_identifiers WHERE nid = ?1 AND type = ?2 AND identifier = ?3";
const FIND_JOIN: &str = "SELECT i.version, i.doc FROM credential_identifiers AS ci \
     JOIN identities AS i ON i.pk = ci.identity_pk \
     WHERE ci.nid = ?1 AND ci.type = ?2 AND ci.identifier = ?3";

/// The identifier's row, then the identity's, in one read transaction, as
/// the store's find.
fn raw_find_two_step(c: &Connection, identifier: &str) -> RawDoc {
    let tx = c.unchecked_transaction().expect("begin read");
    let pk: i64 = tx
        .prepare_cached(FIND_TWO_STEP)
        .and_then(|mut s| s.query_row(params![NID, "password", identifier], |r| r.get(0)))
        .expect("owner");
    let doc = tx
        .prepare_cached("SELECT version, doc FROM identities WHERE pk = ?1")
        .and_then(|mut s| s.query_row([pk], raw_doc))
        .expect("identity");
    tx.commit().expect("end read");
    doc
}

fn raw_find_join(c: &Connection, identifier: &str) -> RawDoc {
    c.prepare_cached(FIND_JOIN)
        .and_then(|mut s| s.query_row(params![NID, "password", identifier], raw_doc))
        .expect("identity")
}

/// The single-row baseline: each identity is one row holding its admin
/// JSON (every credential config included), plus one row per credential
/// identifier pointing at it, on a file of its own with the store's
/// settings (WAL, `synchronous=FULL`, the same statement cache).
const DOC_SCHEMA: &str = "
CREATE TABLE identity_docs (
    nid BLOB NOT NULL,
    id  BLOB NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (nid, id)
);
CREATE TABLE identity_doc_identifiers (
    nid        BLOB NOT NULL,
    type       TEXT NOT NULL,
    identifier TEXT NOT NULL,
    id         BLOB NOT NULL,
    PRIMARY KEY (nid, type, identifier)
) WITHOUT ROWID;
";

fn doc_connection(path: &Path) -> Connection {
    let c = Connection::open(path).expect("doc open");
    c.busy_timeout(Duration::from_secs(5)).expect("busy");
    c.set_prepared_statement_cache_capacity(64);
    let mode: String = c
        .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
        .expect("wal");
    assert!(mode.eq_ignore_ascii_case("wal"), "{mode}");
    c.pragma_update(None, "synchronous", "FULL").expect("sync");
    c.execute_batch(DOC_SCHEMA).expect("doc schema");
    c
}

fn doc_insert(c: &Connection, i: &Identity) {
    let doc = serde_json::to_string(&i.to_json("http://127.0.0.1:4434", CredentialInclude::All))
        .expect("admin json");
    c.prepare_cached("INSERT INTO identity_docs (nid, id, doc) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![NID, i.id.as_bytes(), doc]))
        .expect("doc row");
    for cred in i.credentials.values() {
        for identifier in &cred.identifiers {
            c.prepare_cached(
                "INSERT INTO identity_doc_identifiers (nid, type, identifier, id) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    NID,
                    cred.kind.as_str(),
                    identifier,
                    i.id.as_bytes()
                ])
            })
            .expect("doc identifier");
        }
    }
}

/// Decodes column 0, the admin JSON, straight from SQLite's buffer.
fn doc_decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<Identity> {
    let text = r.get_ref(0)?.as_str()?;
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}

const DOC_GET: &str = "SELECT doc FROM identity_docs WHERE nid = ?1 AND id = ?2";
const DOC_FIND_ID: &str =
    "SELECT id FROM identity_doc_identifiers WHERE nid = ?1 AND type = ?2 AND identifier = ?3";
const DOC_FIND_JOIN: &str = "SELECT d.doc FROM identity_doc_identifiers AS x \
     JOIN identity_docs AS d ON d.nid = x.nid AND d.id = x.id \
     WHERE x.nid = ?1 AND x.type = ?2 AND x.identifier = ?3";

/// One statement (so one implicit read transaction), one row, decoded.
fn doc_get(c: &Connection, id: Uuid) -> Identity {
    c.prepare_cached(DOC_GET)
        .and_then(|mut s| s.query_row(params![NID, id.as_bytes()], doc_decode))
        .expect("doc")
}

/// The identifier's row, then the document's row, in one read transaction
/// (the two-statement shape of the store's find: a JOIN is re-prepared on
/// every call, see `report_reprepares`).
fn doc_find(c: &Connection, identifier: &str) -> Identity {
    let tx = c.unchecked_transaction().expect("begin read");
    let id: [u8; 16] = tx
        .prepare_cached(DOC_FIND_ID)
        .and_then(|mut s| s.query_row(params![NID, "password", identifier], |r| r.get(0)))
        .expect("owner");
    let identity = tx
        .prepare_cached(DOC_GET)
        .and_then(|mut s| s.query_row(params![NID, id], doc_decode))
        .expect("doc by identifier");
    tx.commit().expect("end read");
    identity
}

/// The same as one statement joining both rows.
fn doc_find_join(c: &Connection, identifier: &str) -> Identity {
    c.prepare_cached(DOC_FIND_JOIN)
        .and_then(|mut s| s.query_row(params![NID, "password", identifier], doc_decode))
        .expect("doc by identifier")
}

/// Another connection to the single-row file, with the same settings.
fn doc_reader(path: &Path) -> Connection {
    let c = Connection::open(path).expect("doc open");
    c.busy_timeout(Duration::from_secs(5)).expect("busy");
    c.set_prepared_statement_cache_capacity(64);
    c
}

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The other way to keep a read off the executor: a thread that owns a
/// connection and runs the jobs sent to it through a channel, replying
/// through a oneshot the caller awaits.
struct ConnThread {
    jobs: mpsc::Sender<Job>,
}

impl ConnThread {
    fn spawn(conn: Connection) -> ConnThread {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for job in queue {
                job(&conn);
            }
        });
        ConnThread { jobs }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> T + Send + 'static) -> T {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |c| {
                let _ = reply.send(f(c));
            }))
            .expect("connection thread");
        answer.await.expect("reply")
    }
}

/// Reports how often each shape of find-by-identifier was re-prepared
/// over 1,000 calls on one connection (SQLITE_STMTSTATUS_REPREPARE).
fn report_reprepares(c: &Connection, docs: &Connection) {
    for _ in 0..1_000 {
        black_box(raw_find_two_step(c, &email(7)));
        black_box(raw_find_join(c, &email(7)));
        black_box(doc_find(docs, &email(7)));
        black_box(doc_find_join(docs, &email(7)));
    }
    let count = |sql: &str| {
        c.prepare_cached(sql)
            .map(|s| s.get_status(StatementStatus::RePrepare))
            .unwrap_or(-1)
    };
    let count_docs = |sql: &str| {
        docs.prepare_cached(sql)
            .map(|s| s.get_status(StatementStatus::RePrepare))
            .unwrap_or(-1)
    };
    eprintln!(
        "re-prepares over 1000 find-by-identifier calls: two-step {}, join {}; \
         single-row two-step {}, single-row join {}",
        count(FIND_TWO_STEP),
        count(FIND_JOIN),
        count_docs(DOC_FIND_ID),
        count_docs(DOC_FIND_JOIN)
    );
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let memory: Arc<dyn IdentityStore> = Arc::new(MemoryStore::new());
    let sqlite_path = dir.path().join("store.db");
    let sqlite: Arc<dyn IdentityStore> = Arc::new(
        SqliteStore::open(
            sqlite_path.to_str().expect("utf-8"),
            SqliteOptions::default(),
        )
        .expect("sqlite"),
    );
    let mut raw = raw_connection(&dir.path().join("raw.db"));
    // The same raw baseline for a caller that is a task: its own file,
    // reached from the spawned task.
    let mut raw_task = raw_connection(&dir.path().join("raw_task.db"));
    let docs_path = dir.path().join("docs.db");
    let docs = doc_connection(&docs_path);

    // The same preloaded identities everywhere (one transaction each for
    // the raw file, one batch per 100 for the stores).
    let preload: Vec<Identity> = (0..PRELOAD).map(|n| person(n, &email(n))).collect();
    for chunk in preload.chunks(BATCH as usize) {
        let batch: Vec<_> = chunk.iter().map(valid).collect();
        for store in [&memory, &sqlite] {
            let results = rt.block_on(store.batch_create(T, &batch)).expect("preload");
            assert!(results.iter().all(Result::is_ok));
        }
        raw_insert_all(&mut raw, chunk);
        raw_insert_all(&mut raw_task, chunk);
        let tx = docs.unchecked_transaction().expect("begin");
        for i in chunk {
            doc_insert(&tx, i);
        }
        tx.commit().expect("commit");
    }
    // The single-row read returns what the store's does.
    let probe = rt.block_on(sqlite.get(T, preload[7].id)).expect("get");
    let single = doc_get(&docs, preload[7].id);
    assert_eq!(
        single,
        Identity {
            version: 0,
            ..Arc::unwrap_or_clone(probe)
        }
    );
    assert_eq!(doc_find(&docs, &email(7)), single);
    assert_eq!(doc_find_join(&docs, &email(7)), single);
    report_reprepares(&raw, &docs);
    let raw_task = Arc::new(Mutex::new(raw_task));
    let stores = [("memory", &memory), ("sqlite", &sqlite)];
    // Fresh ids and emails for every created identity.
    let next = AtomicU64::new(1_000_000);
    let fresh = || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        person(n, &email(n))
    };

    let mut group = c.benchmark_group("create");
    group.throughput(Throughput::Elements(1));
    for (name, store) in stores {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(store.create(T, &valid(&fresh())))
                    .expect("create")
            })
        });
    }
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| raw_create(&mut raw, &fresh()))
    });
    group.bench_function("raw_rusqlite_with_change", |b| {
        b.iter(|| raw_create_with_change(&mut raw, &fresh()))
    });
    // A caller that is a task of the runtime: each write is made in a
    // spawned task (the spawn and the join are the caller's, paid by both).
    group.bench_function("sqlite_from_task", |b| {
        b.iter(|| {
            let (store, next) = (Arc::clone(&sqlite), valid(&fresh()));
            rt.block_on(rt.spawn(async move { store.create(T, &next).await }))
                .expect("join")
                .expect("create")
        })
    });
    group.bench_function("raw_rusqlite_with_change_from_task", |b| {
        b.iter(|| {
            let (raw, next) = (Arc::clone(&raw_task), fresh());
            rt.block_on(
                rt.spawn(
                    async move { raw_create_with_change(&mut raw.lock().expect("raw"), &next) },
                ),
            )
            .expect("join")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("batch_create_100");
    group.throughput(Throughput::Elements(BATCH));
    for (name, store) in stores {
        group.bench_function(name, |b| {
            b.iter(|| {
                let batch: Vec<_> = (0..BATCH).map(|_| valid(&fresh())).collect();
                rt.block_on(store.batch_create(T, &batch)).expect("batch")
            })
        });
    }
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let batch: Vec<_> = (0..BATCH).map(|_| fresh()).collect();
            let tx = raw
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .expect("begin");
            for i in &batch {
                raw_insert(&tx, i);
            }
            tx.commit().expect("commit");
        })
    });
    // The same with a savepoint per entry, as the store needs so that a
    // conflict undoes its own entry only.
    group.bench_function("raw_rusqlite_savepoints", |b| {
        b.iter(|| {
            let batch: Vec<_> = (0..BATCH).map(|_| fresh()).collect();
            let mut tx = raw
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .expect("begin");
            for i in &batch {
                let sp = tx.savepoint().expect("savepoint");
                raw_insert(&sp, i);
                sp.commit().expect("release");
            }
            tx.commit().expect("commit");
        })
    });
    group.finish();

    // What a store pays to keep the executor free: one round trip through
    // tokio's blocking pool, or to a thread that owns a connection.
    let conn_thread = ConnThread::spawn(doc_reader(&docs_path));
    let pooled_docs = Arc::new(Mutex::new(doc_reader(&docs_path)));
    let mut group = c.benchmark_group("blocking_pool_hop");
    group.bench_function("spawn_blocking", |b| {
        b.iter(|| {
            rt.block_on(async { tokio::task::spawn_blocking(|| black_box(1)).await })
                .expect("hop")
        })
    });
    group.bench_function("dedicated_thread", |b| {
        b.iter(|| rt.block_on(conn_thread.run(|_| black_box(1))))
    });
    group.finish();

    let target = |k: u64| preload[(k * 7_919 % PRELOAD) as usize].id;
    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1));
    for (name, store) in stores {
        let mut k = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                k += 1;
                rt.block_on(store.get(T, target(k))).expect("get")
            })
        });
    }
    let mut k = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            k += 1;
            raw_get(&raw, target(k))
        })
    });
    let mut k = 0;
    group.bench_function("raw_rusqlite_one_row", |b| {
        b.iter(|| {
            k += 1;
            doc_get(&docs, target(k))
        })
    });
    // The same read behind each hop.
    let mut k = 0;
    group.bench_function("raw_rusqlite_one_row_spawn_blocking", |b| {
        b.iter(|| {
            k += 1;
            let (conn, id) = (Arc::clone(&pooled_docs), target(k));
            rt.block_on(async move {
                tokio::task::spawn_blocking(move || doc_get(&conn.lock().expect("connection"), id))
                    .await
            })
            .expect("hop")
        })
    });
    let mut k = 0;
    group.bench_function("raw_rusqlite_one_row_thread", |b| {
        b.iter(|| {
            k += 1;
            let id = target(k);
            rt.block_on(conn_thread.run(move |c| doc_get(c, id)))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("find_by_identifier");
    group.throughput(Throughput::Elements(1));
    let who = |k: u64| email(k * 7_919 % PRELOAD);
    for (name, store) in stores {
        let mut k = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                k += 1;
                rt.block_on(store.find_by_identifier(T, CredentialType::Password, &who(k)))
                    .expect("find")
            })
        });
    }
    let mut k = 0;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            k += 1;
            raw_find_two_step(&raw, &who(k))
        })
    });
    let mut k = 0;
    group.bench_function("raw_rusqlite_join", |b| {
        b.iter(|| {
            k += 1;
            raw_find_join(&raw, &who(k))
        })
    });
    let mut k = 0;
    group.bench_function("raw_rusqlite_one_row", |b| {
        b.iter(|| {
            k += 1;
            doc_find(&docs, &who(k))
        })
    });
    let mut k = 0;
    group.bench_function("raw_rusqlite_one_row_join", |b| {
        b.iter(|| {
            k += 1;
            doc_find_join(&docs, &who(k))
        })
    });
    group.finish();

    // Each update moves one identity to the other of two emails.
    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(1));
    let base = person(42, &email(42));
    let flip = [
        moved(&base, 1, "flip@example.com"),
        moved(&base, 2, "flop@example.com"),
    ];
    for (name, store) in stores {
        let mut version = rt.block_on(store.get(T, base.id)).expect("base").version;
        group.bench_function(name, |b| {
            b.iter(|| {
                let next = valid(&flip[(version % 2) as usize]);
                version = rt
                    .block_on(store.update(T, &next, Some(version)))
                    .expect("update");
            })
        });
    }
    let mut version = 1;
    group.bench_function("raw_rusqlite", |b| {
        b.iter(|| version = raw_update(&mut raw, &flip[(version % 2) as usize], version))
    });
    group.bench_function("raw_rusqlite_with_change", |b| {
        b.iter(|| version = raw_update_with(&mut raw, &flip[(version % 2) as usize], version, true))
    });
    let mut version = rt.block_on(sqlite.get(T, base.id)).expect("base").version;
    group.bench_function("sqlite_from_task", |b| {
        b.iter(|| {
            let (store, next) = (Arc::clone(&sqlite), valid(&flip[(version % 2) as usize]));
            let expected = version;
            version = rt
                .block_on(rt.spawn(async move { store.update(T, &next, Some(expected)).await }))
                .expect("join")
                .expect("update");
        })
    });
    let mut version = 1;
    group.bench_function("raw_rusqlite_with_change_from_task", |b| {
        b.iter(|| {
            let (raw, next) = (Arc::clone(&raw_task), flip[(version % 2) as usize].clone());
            let expected = version;
            version = rt
                .block_on(rt.spawn(async move {
                    raw_update_with(&mut raw.lock().expect("raw"), &next, expected, true)
                }))
                .expect("join");
        })
    });
    group.finish();
}

/// Identities in the search group's stores.
const SEARCH_N: u64 = 100_000;

/// The search group's identity `n`: department `d<n % 10>`, level
/// `n % 5`, inactive when `n % 7 == 0`, schema `employee` for even `n`.
fn searchable(n: u64) -> Identity {
    let mut i = person(n, &email(n));
    i.traits["department"] = json!(format!("d{}", n % 10));
    i.traits["level"] = json!(n % 5);
    if n.is_multiple_of(7) {
        i.state = State::Inactive;
    }
    if n.is_multiple_of(2) {
        i.schema_id = "employee".to_owned();
    }
    i
}

/// The search group's stores (memory, SQLite) and the SQLite file's path.
struct SearchFixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    /// Memory, then SQLite.
    stores: [Arc<dyn IdentityStore>; 2],
}

fn search_fixture(rt: &tokio::runtime::Runtime) -> SearchFixture {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("search.db");
    let memory: Arc<dyn IdentityStore> = Arc::new(MemoryStore::new());
    let sqlite: Arc<dyn IdentityStore> = Arc::new(
        SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default()).expect("sqlite"),
    );
    let started = std::time::Instant::now();
    for start in (0..SEARCH_N).step_by(500) {
        let batch: Vec<_> = (start..start + 500)
            .map(|n| valid(&searchable(n)))
            .collect();
        for store in [&memory, &sqlite] {
            let results = rt.block_on(store.batch_create(T, &batch)).expect("load");
            assert!(results.iter().all(Result::is_ok));
        }
    }
    eprintln!(
        "search_100k: loaded {SEARCH_N} identities into each store in {:?}",
        started.elapsed()
    );
    SearchFixture {
        _dir: dir,
        path,
        stores: [memory, sqlite],
    }
}

/// Lists and counts with the search criteria at 100,000 identities.
fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fixture: std::sync::OnceLock<SearchFixture> = std::sync::OnceLock::new();
    let fixture = || fixture.get_or_init(|| search_fixture(&rt));
    let all = || ListQuery::new(ListFilter::All, None, PageSize::DEFAULT);
    // Queries: name, query, identities the count finds.
    let queries: [(&str, ListQuery, u64); 5] = [
        ("all", all(), SEARCH_N),
        (
            "state",
            all().with_state(State::Inactive),
            SEARCH_N.div_ceil(7),
        ),
        (
            "traits",
            all().with_traits(json!({"department": "d3"})),
            SEARCH_N / 10,
        ),
        (
            "traits_state_schema",
            all()
                .with_traits(json!({"department": "d4", "level": 4}))
                .with_state(State::Active)
                .with_schema_id("employee"),
            // n % 10 == 4 implies n % 5 == 4 and n even; minus n % 7 == 0.
            SEARCH_N / 10 - (0..SEARCH_N).filter(|n| n % 10 == 4 && n % 7 == 0).count() as u64,
        ),
        (
            "traits_one",
            all().with_traits(json!({"email": email(77_777)})),
            1,
        ),
    ];
    let mut group = c.benchmark_group("search_100k");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (what, query, expected) in &queries {
        for select in ["page", "count"] {
            for store_index in 0..2 {
                let name = ["memory", "sqlite"][store_index];
                group.bench_function(format!("{select}_{what}/{name}"), |b| {
                    let store = &fixture().stores[store_index];
                    if select == "count" {
                        let n = rt.block_on(store.count_matching(T, query)).expect("count");
                        assert_eq!(n, *expected, "{what} on {name}");
                        b.iter(|| rt.block_on(store.count_matching(T, query)).expect("count"));
                    } else {
                        let first = rt.block_on(store.list(T, query)).expect("list");
                        let want = (*expected).min(PageSize::DEFAULT.get() as u64);
                        assert_eq!(first.identities.len() as u64, want, "{what} on {name}");
                        b.iter(|| rt.block_on(store.list(T, query)).expect("list"));
                    }
                });
            }
        }
    }
    // Same-run baselines: what SQLite's own JSON functions cost for the
    // same count (and the plain count), on a raw connection to the file.
    group.bench_function("count_traits/raw_json_extract", |b| {
        let raw = Connection::open(&fixture().path).expect("open");
        let count = || -> i64 {
            raw.prepare_cached(
                "SELECT COUNT(*) FROM identities \
                 WHERE nid = ?1 AND json_extract(traits, '$.department') = 'd3'",
            )
            .expect("prepare")
            .query_row(params![NID], |r| r.get(0))
            .expect("count")
        };
        assert_eq!(count(), (SEARCH_N / 10) as i64);
        b.iter(count)
    });
    group.bench_function("count_all/raw_count", |b| {
        let raw = Connection::open(&fixture().path).expect("open");
        b.iter(|| -> i64 {
            raw.prepare_cached("SELECT COUNT(*) FROM identities WHERE nid = ?1")
                .expect("prepare")
                .query_row(params![NID], |r| r.get(0))
                .expect("count")
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = stores, search
}
criterion_main!(benches);
