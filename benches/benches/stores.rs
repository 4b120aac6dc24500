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
    State, TenantId, ValidIdentity,
};
use identity_store_memory::MemoryStore;
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, StatementStatus, TransactionBehavior, params};
use serde_json::json;
use uuid::Uuid;

const T: TenantId = TenantId::DEFAULT;
const NID: [u8; 16] = [0; 16];
const NOW: &str = "2026-03-04T05:06:07.123456Z";
/// Identities stored before reads are measured.
const PRELOAD: u64 = 2_000;
const BATCH: u64 = 100;

/// A typical identity: email trait, password and code credentials, one
/// verifiable and one recovery address.
fn person(n: u64, email: &str) -> Identity {
    serde_json::from_value(json!({
        "id": Uuid::from_u128(u128::from(n) << 64 | 0xbeef),
        "schema_id": "default",
        "state": "active",
        "state_changed_at": NOW,
        "traits": {"email": email, "name": {"first": "Ada", "last": "Lovelace"}},
        "credentials": {
            "password": {"type": "password", "identifiers": [email],
                "config": {"hashed_password": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"},
                "version": 0, "created_at": NOW, "updated_at": NOW},
            "code": {"type": "code", "identifiers": [email],
                "config": {"addresses": [{"channel": "email", "address": email}]},
                "version": 1, "created_at": NOW, "updated_at": NOW}
        },
        "verifiable_addresses": [{"id": Uuid::from_u128(u128::from(n) << 64 | 1), "value": email,
            "verified": false, "via": "email", "status": "pending", "created_at": NOW, "updated_at": NOW}],
        "recovery_addresses": [{"id": Uuid::from_u128(u128::from(n) << 64 | 2), "value": email,
            "via": "email", "created_at": NOW, "updated_at": NOW}],
        "metadata_public": {"plan": "pro"},
        "created_at": NOW,
        "updated_at": NOW
    }))
    .expect("fixture")
}

fn email(n: u64) -> String {
    format!("user{n}@example.com")
}

fn valid(i: &Identity) -> ValidIdentity {
    ValidIdentity::new_for_tests(i.clone()).expect("valid fixture")
}

fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// The raw baseline's document: the admin JSON with every config (about
/// the size of the store's own form, which is private to it).
fn doc_text(i: &Identity) -> String {
    serde_json::to_string(&i.to_json("http://127.0.0.1:4434", CredentialInclude::All))
        .expect("admin json")
}

/// The raw baseline: a connection tuned as the store's writer.
fn raw_connection(path: &Path) -> Connection {
    // Opening the store once lays out the very same schema and indexes.
    drop(
        SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default()).expect("schema"),
    );
    let c = Connection::open(path).expect("raw open");
    c.busy_timeout(Duration::from_secs(5)).expect("busy");
    c.set_prepared_statement_cache_capacity(64);
    c.pragma_update(None, "foreign_keys", true).expect("fk");
    c.pragma_update(None, "synchronous", "FULL").expect("sync");
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .expect("qpsg");
    c
}

fn raw_insert(c: &Connection, i: &Identity) {
    c.prepare_cached(
        "INSERT INTO identities (nid, id, schema_id, state, state_changed_at, traits, \
         metadata_public, metadata_admin, organization_id, external_id, created_at, \
         updated_at, version, doc) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            NID,
            i.id.as_bytes(),
            i.schema_id,
            i.state.as_str(),
            i.state_changed_at.map(|t| t.unix_micros()),
            json_text(&i.traits),
            i.metadata_public.as_ref().map(json_text),
            i.metadata_admin.as_ref().map(json_text),
            i.organization_id.as_ref().map(Uuid::as_bytes),
            i.external_id.as_ref().map(|e| e.as_str()),
            i.created_at.unix_micros(),
            i.updated_at.unix_micros(),
            doc_text(i),
        ])
    })
    .expect("identity row");
    let pk = c.last_insert_rowid();
    for cred in i.credentials.values() {
        c.prepare_cached(
            "INSERT INTO credentials (identity_pk, type, config, version, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                pk,
                cred.kind.as_str(),
                json_text(cred.config.expose()),
                cred.version,
                cred.created_at.unix_micros(),
                cred.updated_at.unix_micros()
            ])
        })
        .expect("credential");
        for (position, identifier) in cred.identifiers.iter().enumerate() {
            raw_identifier(c, pk, cred.kind, identifier, position);
        }
    }
    for (position, a) in i.verifiable_addresses.iter().enumerate() {
        raw_verifiable(c, pk, a, position);
    }
    for (position, a) in i.recovery_addresses.iter().enumerate() {
        raw_recovery(c, pk, a, position);
    }
}

fn raw_identifier(
    c: &Connection,
    pk: i64,
    kind: CredentialType,
    identifier: &str,
    position: usize,
) {
    c.prepare_cached(
        "INSERT INTO credential_identifiers (nid, identity_pk, type, identifier, position) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![NID, pk, kind.as_str(), identifier, position as i64]))
    .expect("identifier");
}

fn raw_verifiable(c: &Connection, pk: i64, a: &identity_core::VerifiableAddress, position: usize) {
    c.prepare_cached(
        "INSERT INTO verifiable_addresses (identity_pk, nid, id, position, via, value, verified, \
         status, verified_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            pk,
            NID,
            a.id.as_bytes(),
            position as i64,
            a.via.as_str(),
            a.value,
            a.verified,
            a.status.as_str(),
            a.verified_at.map(|t| t.unix_micros()),
            a.created_at.unix_micros(),
            a.updated_at.unix_micros()
        ])
    })
    .expect("verifiable");
}

fn raw_recovery(c: &Connection, pk: i64, a: &identity_core::RecoveryAddress, position: usize) {
    c.prepare_cached(
        "INSERT INTO recovery_addresses (identity_pk, nid, id, position, via, value, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            pk,
            NID,
            a.id.as_bytes(),
            position as i64,
            a.via.as_str(),
            a.value,
            a.created_at.unix_micros(),
            a.updated_at.unix_micros()
        ])
    })
    .expect("recovery");
}

fn raw_create(c: &mut Connection, i: &Identity) {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    raw_insert(&tx, i);
    tx.commit().expect("commit");
}

/// The change row a write appends to the feed (issue 16), as plainly as
/// raw SQL can: the next cursor of the tenant by its primary key's end.
fn raw_change(c: &Connection, id: Uuid, kind: &str, version: i64) {
    c.prepare_cached(
        "INSERT INTO identity_changes (nid, cursor, identity_id, kind, version, fields, at) \
         VALUES (?1, coalesce((SELECT cursor FROM identity_changes WHERE nid = ?1 \
         ORDER BY cursor DESC LIMIT 1), 0) + 1, ?2, ?3, ?4, 'traits', 1)",
    )
    .and_then(|mut s| s.execute(params![NID, id.as_bytes(), kind, version]))
    .expect("change row");
}

/// [`raw_create`] with its change row in the same transaction.
fn raw_create_with_change(c: &mut Connection, i: &Identity) {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    raw_insert(&tx, i);
    raw_change(&tx, i.id, "created", 1);
    tx.commit().expect("commit");
}

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

/// The raw update of `next` over the stored identity: read the row (the
/// store reads its document to diff the child rows), check the version,
/// rewrite the identity row with its document, replace the identifier and
/// address rows and the code credential's config (what moving to another
/// email changes).
fn raw_update(c: &mut Connection, next: &Identity, expected: u64) -> u64 {
    raw_update_with(c, next, expected, false)
}

/// [`raw_update`], with the change row in the same transaction when
/// `change` (issue 16's cost, measured beside the store).
fn raw_update_with(c: &mut Connection, next: &Identity, expected: u64, change: bool) -> u64 {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let (pk, version, _doc): (i64, i64, String) = tx
        .prepare_cached("SELECT pk, version, doc FROM identities WHERE nid = ?1 AND id = ?2")
        .and_then(|mut s| {
            s.query_row(params![NID, next.id.as_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .expect("head")
        .expect("exists");
    assert_eq!(version as u64, expected);
    let i = next;
    tx.prepare_cached(
        "UPDATE identities SET schema_id = ?2, state = ?3, state_changed_at = ?4, traits = ?5, \
         metadata_public = ?6, metadata_admin = ?7, organization_id = ?8, external_id = ?9, \
         created_at = ?10, updated_at = ?11, version = ?12, doc = ?13 WHERE pk = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            pk,
            i.schema_id,
            i.state.as_str(),
            i.state_changed_at.map(|t| t.unix_micros()),
            json_text(&i.traits),
            i.metadata_public.as_ref().map(json_text),
            i.metadata_admin.as_ref().map(json_text),
            i.organization_id.as_ref().map(Uuid::as_bytes),
            i.external_id.as_ref().map(|e| e.as_str()),
            i.created_at.unix_micros(),
            i.updated_at.unix_micros(),
            version + 1,
            doc_text(i),
        ])
    })
    .expect("identity row");
    for sql in [
        "DELETE FROM credential_identifiers WHERE identity_pk = ?1",
        "DELETE FROM verifiable_addresses WHERE identity_pk = ?1",
        "DELETE FROM recovery_addresses WHERE identity_pk = ?1",
    ] {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute([pk]))
            .expect("delete");
    }
    let code = &i.credentials[&CredentialType::Code];
    tx.prepare_cached("UPDATE credentials SET config = ?3 WHERE identity_pk = ?1 AND type = ?2")
        .and_then(|mut s| s.execute(params![pk, "code", json_text(code.config.expose())]))
        .expect("config");
    for cred in i.credentials.values() {
        for (position, identifier) in cred.identifiers.iter().enumerate() {
            raw_identifier(&tx, pk, cred.kind, identifier, position);
        }
    }
    raw_verifiable(&tx, pk, &i.verifiable_addresses[0], 0);
    raw_recovery(&tx, pk, &i.recovery_addresses[0], 0);
    if change {
        raw_change(&tx, i.id, "updated", version + 1);
    }
    tx.commit().expect("commit");
    version as u64 + 1
}

/// `base` moved to `email` (the addresses get ids of their own).
fn moved(base: &Identity, n: u64, email: &str) -> Identity {
    let mut next = base.clone();
    next.traits["email"] = json!(email);
    for cred in next.credentials.values_mut() {
        cred.identifiers = vec![email.to_owned()];
    }
    if let Some(code) = next.credentials.get_mut(&CredentialType::Code) {
        code.config = identity_core::CredentialConfig::new(
            json!({"addresses": [{"channel": "email", "address": email}]}),
        );
    }
    next.verifiable_addresses[0].value = email.to_owned();
    next.verifiable_addresses[0].id = Uuid::from_u128(u128::from(n) << 64 | 0xa1);
    next.recovery_addresses[0].value = email.to_owned();
    next.recovery_addresses[0].id = Uuid::from_u128(u128::from(n) << 64 | 0xa2);
    next
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
        let tx = raw
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        for i in chunk {
            raw_insert(&tx, i);
        }
        tx.commit().expect("commit");
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
