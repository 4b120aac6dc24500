//! The raw rusqlite baseline of the SQLite store's writes, shared by the
//! `stores` bench and the `write_cost` example: the store's schema (laid
//! out by opening the store once), its connection settings, and the rows a
//! create or an update writes, by the same SQL with none of the store's
//! logic. [`raw_change`] adds the change feed's row by the store's own
//! statement.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use identity_core::{CredentialInclude, CredentialType, Identity, TenantId, ValidIdentity};
use identity_store_sqlite::{SqliteOptions, SqliteStore};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::json;
use uuid::Uuid;

/// The tenant every fixture is written to.
pub const T: TenantId = TenantId::DEFAULT;
/// [`T`] as the stores write it.
pub const NID: [u8; 16] = [0; 16];
/// Every fixture's timestamps.
pub const NOW: &str = "2026-03-04T05:06:07.123456Z";

/// A typical identity: email trait, password and code credentials, one
/// verifiable and one recovery address.
pub fn person(n: u64, email: &str) -> Identity {
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

/// The email of fixture `n`.
pub fn email(n: u64) -> String {
    format!("user{n}@example.com")
}

/// A JSON value as the stores write it: compact text.
pub fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// The raw baseline's document: the admin JSON with every config (about
/// the size of the store's own form, which is private to it).
pub fn doc_text(i: &Identity) -> String {
    serde_json::to_string(&i.to_json("http://127.0.0.1:4434", CredentialInclude::All))
        .expect("admin json")
}

/// The raw baseline: a connection tuned as the store's writer.
pub fn raw_connection(path: &Path) -> Connection {
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

/// Inserts `i`'s rows (identity, credentials, identifiers, addresses) in
/// the caller's transaction.
pub fn raw_insert(c: &Connection, i: &Identity) {
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

/// Inserts one credential identifier row.
pub fn raw_identifier(
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

/// Inserts one verifiable address row.
pub fn raw_verifiable(
    c: &Connection,
    pk: i64,
    a: &identity_core::VerifiableAddress,
    position: usize,
) {
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

/// Inserts one recovery address row.
pub fn raw_recovery(c: &Connection, pk: i64, a: &identity_core::RecoveryAddress, position: usize) {
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

/// `i` as the stores take it (the fixtures are valid by construction).
pub fn valid(i: &Identity) -> ValidIdentity {
    ValidIdentity::new_for_tests(i.clone()).expect("valid fixture")
}

/// Inserts every identity of `batch` in one transaction.
pub fn raw_insert_all(c: &mut Connection, batch: &[Identity]) {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    for i in batch {
        raw_insert(&tx, i);
    }
    tx.commit().expect("commit");
}

/// Creates `i` in a transaction of its own (`BEGIN IMMEDIATE`).
pub fn raw_create(c: &mut Connection, i: &Identity) {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    raw_insert(&tx, i);
    tx.commit().expect("commit");
}

/// The change row a write appends to the feed (issue 16), by the very
/// statement the store runs (`identity-store-sqlite`'s `feed::APPEND`,
/// copied: the next cursor of the tenant from its primary key's end or the
/// pruning point, and `at` no earlier than the newest change's).
pub const STORE_APPEND: &str = "INSERT INTO identity_changes \
     (nid, cursor, identity_id, kind, version, fields, at) \
     VALUES (?1, coalesce(\
         (SELECT cursor FROM identity_changes WHERE nid = ?1 ORDER BY cursor DESC LIMIT 1), \
         (SELECT pruned_through FROM identity_change_pruned WHERE nid = ?1), 0) + 1, \
       ?2, ?3, ?4, ?5, max(?6, coalesce(\
         (SELECT at FROM identity_changes WHERE nid = ?1 ORDER BY cursor DESC LIMIT 1), ?6)))";

/// Appends the change of a write to `id` by [`STORE_APPEND`], dated now.
pub fn raw_change(c: &Connection, id: Uuid, kind: &str, version: i64) {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros()),
    )
    .unwrap_or(i64::MAX);
    c.prepare_cached(STORE_APPEND)
        .and_then(|mut s| s.execute(params![NID, id.as_bytes(), kind, version, "traits", now]))
        .expect("change row");
}

/// [`raw_create`] with its change row in the same transaction.
pub fn raw_create_with_change(c: &mut Connection, i: &Identity) {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    raw_insert(&tx, i);
    raw_change(&tx, i.id, "created", 1);
    tx.commit().expect("commit");
}

/// The raw update of `next` over the stored identity: read the row (the
/// store reads its document to diff the child rows), check the version,
/// rewrite the identity row with its document, replace the identifier and
/// address rows and the code credential's config (what moving to another
/// email changes).
pub fn raw_update(c: &mut Connection, next: &Identity, expected: u64) -> u64 {
    raw_update_with(c, next, expected, false)
}

/// [`raw_update`], with the change row in the same transaction when
/// `change` (issue 16's cost, measured beside the store).
pub fn raw_update_with(c: &mut Connection, next: &Identity, expected: u64, change: bool) -> u64 {
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
pub fn moved(base: &Identity, n: u64, email: &str) -> Identity {
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
