//! An [`IdentityStore`](identity_core::IdentityStore) on PostgreSQL (its
//! SQL was written for CockroachDB too, but for the change feed's
//! numbering, which uses PostgreSQL's `ctid`; untested there).
//!
//! ```no_run
//! use identity_core::{IdentityStore, TenantId};
//! use identity_store_postgres::{PostgresOptions, PostgresStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), identity_core::Error> {
//! let store = PostgresStore::connect(
//!     "postgres://postgres@127.0.0.1:5432/identities",
//!     PostgresOptions::default(),
//! )
//! .await?;
//! let missing = store.get(TenantId::DEFAULT, uuid::Uuid::nil()).await;
//! assert!(matches!(missing, Err(identity_core::Error::NotFound)));
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - Every logical write (create, a whole batch, update, delete) is one
//!   transaction; a batch gives each entry a savepoint, so a conflict
//!   undoes that entry only. A transaction that fails with a serialization
//!   failure (SQLSTATE 40001) or a deadlock (40P01) is re-run from the
//!   start with the same input, with bounded, jittered exponential backoff.
//! - A write runs on its own task: dropping the caller's future never
//!   leaves a transaction half done; a connection lost before the write
//!   sent its `COMMIT` rolls it back on the server, and the write is re-run
//!   on a fresh connection (to the new primary after a failover) for up to
//!   [`PostgresOptions::reconnect_window`], then fails with
//!   [`Error::Unavailable`](identity_core::Error::Unavailable), which always
//!   means "not written".
//! - Client-side timeouts bound every call even when the server or the
//!   network stops answering ([`PostgresOptions::statement_timeout`],
//!   [`PostgresOptions::commit_timeout`], [`PostgresOptions::connect_timeout`]);
//!   a connection that timed out is closed, never pooled again.
//! - A write whose `COMMIT` was sent but not answered is settled on a fresh
//!   connection: success when the store proves it happened, written once
//!   when it proves it did not, otherwise
//!   [`Error::OutcomeUnknown`](identity_core::Error::OutcomeUnknown): never
//!   reported as a success, never silently re-applied (see
//!   [`PostgresStore`]'s "Failover").
//! - [`PostgresStore::with_standby`] sends reads to a standby, with
//!   read-your-writes by version; writes and the reads inside them stay on
//!   the primary.
//! - Every uniqueness rule of the storage contract is a primary key or a
//!   unique index led by the tenant; a write that breaks one fails with
//!   [`Error::Conflict`](identity_core::Error::Conflict) naming the value
//!   that collided, and writes nothing.
//! - An update locks the identity row (`SELECT … FOR UPDATE`), checks the
//!   expected version under the lock, and rewrites the identity row and
//!   only the child rows that changed.
//! - Each read is one statement (children aggregated as JSONB), so an
//!   identity is never seen half-written.
//! - Every write appends its changes to the tenant's change feed in its
//!   own transaction, unnumbered and without a lock for the feed, by the
//!   statement that writes the identity row. A
//!   reader that finds committed changes without cursors numbers them, in
//!   a transaction of its own under the tenant's row in
//!   `identity_change_heads`, from the last cursor on; so a cursor becomes
//!   visible only after every smaller one of its tenant, and a reader
//!   following `next` never skips a change that committed late (a
//!   sequence taken before commit would; see `feed.rs`). Writers of one
//!   tenant never wait on each other for the feed.
//! - A lost or refused connection (once the reconnect window is spent), a
//!   pool timeout, a server shutting down or out of resources are
//!   [`Error::Unavailable`](identity_core::Error::Unavailable); other
//!   driver failures are [`Error::Internal`](identity_core::Error::Internal)
//!   with the driver error as the source.
//!
//! # Schema
//!
//! Versioned migrations run on [`PostgresStore::connect`], recorded in
//! `identity_store_migrations` (one row per version, claimed inside the
//! migration's own transaction, so concurrent starts are safe without
//! advisory locks); a database migrated by a newer version is refused.
//! [`schema_version_of`] reads the version on one connection without
//! migrating, for a status view.
//! Tables: `identities`, `credentials`, `credential_identifiers`,
//! `verifiable_addresses`, `recovery_addresses`, and for the change feed
//! `identity_change_heads`, `identity_changes`, `identity_change_consumers`
//! (version 3; numbered after commit since version 5), keyed by UUIDs led by the tenant; timestamps integer microseconds; traits, metadata and credential
//! configs JSONB. [`PostgresOptions::schema`] keeps them in a schema of
//! their own.

mod error;
mod feed;
mod options;
mod rows;
mod run;
mod schema;
mod standby;
mod store;
mod writes;

pub use options::PostgresOptions;
pub use schema::schema_version_of;
pub use store::PostgresStore;

/// The schema version this library writes (the number of migrations).
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;
