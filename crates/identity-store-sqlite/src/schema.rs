//! The schema, its versioned migrations, and connection setup.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Opening a
//! database applies the missing ones in one `BEGIN IMMEDIATE` transaction
//! (so two processes opening a new file at once do not both migrate it),
//! and refuses a file whose version is newer than this library knows.

use std::time::Duration;

use identity_core::Error;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, TransactionBehavior};

use crate::error::ResultExt;
use crate::options::{SqliteOptions, Synchronous};
use crate::rows;

/// `PRAGMA application_id` of an identity store ("IDST").
pub(crate) const APPLICATION_ID: i32 = 0x4944_5354;

/// The migrations, in order; `MIGRATIONS[n]` takes the schema from version
/// `n` to `n + 1`. Never edit one that has shipped: append a new one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::sql(V1),
    Migration::sql(V2),
    Migration {
        sql: V3,
        then: Some(rows::fill_documents),
    },
    Migration::sql(V4),
    Migration::sql(V5),
];

/// One migration: SQL, then optionally a step in Rust (which sees the
/// schema the SQL left, inside the same transaction).
pub(crate) struct Migration {
    sql: &'static str,
    then: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

impl Migration {
    const fn sql(sql: &'static str) -> Migration {
        Migration { sql, then: None }
    }
}

/// Version 1. Every uniqueness rule of the storage contract is a UNIQUE
/// index led by the tenant (`nid`); child rows hang off `identities.pk` with
/// cascading deletes. UUIDs are 16-byte blobs (so `ORDER BY id` is UUID
/// order), timestamps integer microseconds since the Unix epoch, JSON text.
const V1: &str = r#"
CREATE TABLE identities (
    pk               INTEGER PRIMARY KEY,
    nid              BLOB    NOT NULL,
    id               BLOB    NOT NULL,
    schema_id        TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    state_changed_at INTEGER,
    traits           TEXT    NOT NULL,
    metadata_public  TEXT,
    metadata_admin   TEXT,
    organization_id  BLOB,
    external_id      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL
);
CREATE UNIQUE INDEX identities_id_key ON identities (nid, id);
CREATE UNIQUE INDEX identities_external_id_key ON identities (nid, external_id)
    WHERE external_id IS NOT NULL AND external_id <> '';
CREATE INDEX identities_organization_idx ON identities (nid, organization_id, id)
    WHERE organization_id IS NOT NULL;

CREATE TABLE credentials (
    pk          INTEGER PRIMARY KEY,
    identity_pk INTEGER NOT NULL REFERENCES identities (pk) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    config      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX credentials_type_key ON credentials (identity_pk, type);

CREATE TABLE credential_identifiers (
    pk          INTEGER PRIMARY KEY,
    nid         BLOB    NOT NULL,
    identity_pk INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    identifier  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    FOREIGN KEY (identity_pk, type) REFERENCES credentials (identity_pk, type) ON DELETE CASCADE
);
CREATE UNIQUE INDEX credential_identifiers_key ON credential_identifiers (nid, type, identifier);
CREATE INDEX credential_identifiers_owner_idx ON credential_identifiers (identity_pk, type, position);

CREATE TABLE verifiable_addresses (
    pk          INTEGER PRIMARY KEY,
    identity_pk INTEGER NOT NULL REFERENCES identities (pk) ON DELETE CASCADE,
    nid         BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    position    INTEGER NOT NULL,
    via         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    verified    INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    verified_at INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX verifiable_addresses_key ON verifiable_addresses (nid, via, value);
CREATE INDEX verifiable_addresses_owner_idx ON verifiable_addresses (identity_pk, position);

CREATE TABLE recovery_addresses (
    pk          INTEGER PRIMARY KEY,
    identity_pk INTEGER NOT NULL REFERENCES identities (pk) ON DELETE CASCADE,
    nid         BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    position    INTEGER NOT NULL,
    via         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX recovery_addresses_key ON recovery_addresses (nid, via, value);
CREATE INDEX recovery_addresses_owner_idx ON recovery_addresses (identity_pk, position);
"#;

/// Version 2: an external id is never empty (the core's `ExternalId`), so
/// the unique index no longer needs to leave `''` out and queries by
/// external id use it without repeating its predicate. A row an older
/// version wrote with `''` (only possible outside the manager) becomes
/// NULL, which is what it meant.
const V2: &str = r#"
UPDATE identities SET external_id = NULL WHERE external_id = '';
DROP INDEX identities_external_id_key;
CREATE UNIQUE INDEX identities_external_id_key ON identities (nid, external_id)
    WHERE external_id IS NOT NULL;
"#;

/// Version 3: the identity's document (`doc.rs`: everything a read returns,
/// every credential config included, in the store's own compact form) in
/// one column of its row, so that a read is one statement on one row. The
/// child tables stay: they hold the unique indexes and serve lookups and
/// list filters. The identity's columns stay too and are written beside the
/// document (no table is rebuilt; a later version may drop those no index
/// needs). The Rust step fills the document of every identity from its
/// columns and child rows.
const V3: &str = r#"
ALTER TABLE identities ADD COLUMN doc TEXT;
"#;

/// Version 4: the change feed (`feed.rs`). `identity_changes` holds one
/// row per committed change, keyed by tenant and cursor (so a page is a
/// range of the primary key, and a write finds the cursor to take at the
/// key's end); `identity_change_pruned` the last cursor pruned, per tenant
/// (reading from before it is an expired cursor, and numbering goes on
/// after it when a prune left no change); `identity_change_consumers` the
/// cursor each named consumer saved. The feed of a migrated file starts
/// empty: writes made before it left no change.
const V4: &str = r#"
CREATE TABLE identity_changes (
    nid         BLOB    NOT NULL,
    cursor      INTEGER NOT NULL,
    identity_id BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    fields      TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (nid, cursor)
) WITHOUT ROWID;

CREATE TABLE identity_change_pruned (
    nid            BLOB    PRIMARY KEY,
    pruned_through INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE identity_change_consumers (
    nid      BLOB    NOT NULL,
    consumer TEXT    NOT NULL,
    cursor   INTEGER NOT NULL,
    PRIMARY KEY (nid, consumer)
) WITHOUT ROWID;
"#;

/// Version 5: search (`search.rs`). A list or count by state or schema
/// walks its own index in id order (the tenant leads each, the id ends
/// it, so keyset paging is a range of the index). Traits containment has
/// no index in SQLite: it runs the core's rule on each candidate row.
const V5: &str = r#"
CREATE INDEX identities_state_idx ON identities (nid, state, id);
CREATE INDEX identities_schema_idx ON identities (nid, schema_id, id);
"#;

/// Per-connection settings shared by the writer and the readers.
pub(crate) fn configure(conn: &Connection, options: &SqliteOptions) -> Result<(), Error> {
    conn.busy_timeout(options.busy_timeout)
        .ctx("set busy timeout")?;
    conn.set_prepared_statement_cache_capacity(64);
    // The query planner stability guarantee: a statement's plan never
    // depends on the values bound to it. Without it, SQLite marks some
    // statements to be compiled again whenever a parameter is bound anew
    // (the feed's `WHERE nid = ?1` on `identity_changes` inside a write
    // transaction was parsed and planned on every append: a sixth of a
    // create's time). This store runs no `ANALYZE` and matches no `LIKE`
    // pattern, so bound values have nothing to offer the planner.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .ctx("enable the query planner stability guarantee")?;
    conn.pragma_update(None, "foreign_keys", true)
        .ctx("enable foreign keys")?;
    crate::search::register(conn).ctx("register search functions")?;
    Ok(())
}

/// Writer setup: WAL, synchronous, then the migrations.
pub(crate) fn prepare_writer(
    conn: &mut Connection,
    options: &SqliteOptions,
    in_memory: bool,
) -> Result<(), Error> {
    configure(conn, options)?;
    if !in_memory {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
            .ctx("enable WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal {
                message: format!("the database refused WAL mode (journal_mode={mode})"),
                source: None,
            });
        }
    }
    let level = match options.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
        Synchronous::Extra => "EXTRA",
    };
    conn.pragma_update(None, "synchronous", level)
        .ctx("set synchronous")?;
    migrate(conn)
}

/// Applies the missing migrations.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Error> {
    // An up-to-date file needs no write lock (and may be read-only).
    if check_version(conn)? == latest() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("begin migration")?;
    // Another process may have migrated meanwhile: read again under the lock.
    let current = check_version(&tx)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let context = format!("apply migration {}", index + 1);
        tx.execute_batch(migration.sql).ctx(&context)?;
        if let Some(step) = migration.then {
            step(&tx).ctx(&context)?;
        }
    }
    tx.pragma_update(None, "user_version", latest())
        .ctx("write schema version")?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .ctx("write application id")?;
    tx.commit().ctx("commit migration")
}

fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version of the file, refusing foreign and newer files.
fn check_version(conn: &Connection) -> Result<i64, Error> {
    let current = read_version(conn)?;
    if current > latest() {
        return Err(Error::Internal {
            message: format!(
                "the database has schema version {current}, made by a newer \
                 identity-store-sqlite; this version knows versions up to {}: \
                 upgrade the library to open it",
                latest()
            ),
            source: None,
        });
    }
    Ok(current.max(0))
}

/// The schema version of the database at `path_or_url` (as
/// [`SqliteStore::open`](crate::SqliteStore::open) reads it): the number of
/// migrations applied, 0 for an empty file, possibly more than
/// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) for a file a newer version of
/// this library migrated. The file is opened read-only: this never creates,
/// migrates or changes it (a missing file is an
/// [`Error::Unavailable`]). A file that is not an identity store is an
/// [`Error::Internal`].
pub fn schema_version_of(path_or_url: &str) -> Result<u32, Error> {
    let conn = match crate::options::parse_location(path_or_url)? {
        crate::options::Location::Memory => return Ok(0),
        crate::options::Location::File(path) => Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_URI
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("open database")?,
    };
    let version = read_version(&conn)?;
    u32::try_from(version.max(0)).map_err(|_| Error::Internal {
        message: format!("the database has schema version {version}, beyond any known"),
        source: None,
    })
}

/// The schema version the file records, refusing only foreign files.
fn read_version(conn: &Connection) -> Result<i64, Error> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .ctx("read application id")?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(Error::Internal {
            message: format!(
                "the file is not an identity store (application_id {application_id:#x})"
            ),
            source: None,
        });
    }
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("read schema version")
}

/// The busy timeout to use when nothing is configured.
pub(crate) const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
