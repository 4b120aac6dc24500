//! A durable [`IdentityStore`](identity_core::IdentityStore) on SQLite.
//!
//! ```
//! use identity_core::{IdentityStore, TenantId};
//! use identity_store_sqlite::{SqliteOptions, SqliteStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), identity_core::Error> {
//! // A file path or `sqlite://path` opens (or creates) a database file.
//! let store = SqliteStore::open("sqlite::memory:", SqliteOptions::default())?;
//! let missing = store.get(TenantId::DEFAULT, uuid::Uuid::nil()).await;
//! assert!(matches!(missing, Err(identity_core::Error::NotFound)));
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - Every logical write (create, a whole batch, update, delete) is one
//!   `BEGIN IMMEDIATE` transaction on the one writer connection; a batch
//!   gives each entry a savepoint, so a conflict undoes that entry only.
//! - WAL mode, `synchronous=FULL` by default ([`Synchronous`]), a busy
//!   timeout: a write acknowledged is on disk.
//! - Every uniqueness rule of the storage contract is a UNIQUE index led by
//!   the tenant; a write that breaks one fails with
//!   [`Error::Conflict`](identity_core::Error::Conflict) naming the value
//!   that collided, and writes nothing.
//! - An update rewrites the identity row and only the child rows that
//!   changed: unchanged credentials, identifiers and addresses keep their
//!   rows.
//! - Reads run in one snapshot, so an identity is never seen half-written.
//!   A file database's reads never wait for a write (WAL).
//! - Every write appends its change to the tenant's change feed in the
//!   same transaction (see [The change feed](#the-change-feed)): a
//!   committed write always has its change, a failed one never does.
//! - Busy past the timeout, a full disk, a read-only or unopenable file are
//!   [`Error::Unavailable`](identity_core::Error::Unavailable); other driver
//!   failures are [`Error::Internal`](identity_core::Error::Internal) with
//!   the driver error as the source.
//!
//! # Threads
//!
//! Writes from a Tokio task run on tokio's blocking pool
//! (`spawn_blocking`): each waits for its `fsync`, milliseconds the async
//! executor must not spend. A caller that is no task (`Runtime::block_on`
//! of a multi-threaded runtime, or no Tokio runtime at all) is blocked on
//! the write anyway: its writes run on its own thread, without the hop to
//! another thread and back. Reads run
//! on the caller's thread, on a reader connection from a small pool
//! ([`SqliteOptions::max_readers`]): a get is one statement on one row and
//! one decode (a find two statements), 14–38 µs on a loaded 2-core
//! development machine, where the same read behind a hop to the blocking
//! pool took 60–89 µs and behind a thread owning its connection (a channel
//! there, a oneshot back) 40–44 µs. So an async caller's executor thread is
//! busy for the read itself, as with any short synchronous call. A read
//! that would wait for a lock (SQLite busy, which WAL readers meet only
//! while another connection holds the file exclusively, e.g. recovering it
//! after a crash) moves to the blocking pool and waits there, up to the
//! busy timeout; a read never waits for a write. A list page decodes each
//! of its identities (up to 500) on the caller's thread. Figures:
//! `benches/README.md` in the repository.
//!
//! # Schema
//!
//! Versioned migrations (`PRAGMA user_version`) run when a database is
//! opened; a file made by a newer version of this library is refused.
//! [`schema_version_of`] reads a file's version without opening it as a
//! store (read-only, no migration), for a status view.
//! Tables: `identities`, `credentials`, `credential_identifiers`,
//! `verifiable_addresses`, `recovery_addresses`. Each identity row holds
//! the whole identity in `doc` (the store's own compact JSON form, every
//! credential config included), which is all a read decodes; the other
//! columns and the child tables are written beside it in the same
//! transaction and carry the unique indexes, lookups and list filters.
//! UUIDs are 16-byte blobs, timestamps integer microseconds, traits,
//! metadata and credential configs JSON text. The change feed has three
//! tables of its own (schema version 4), below.
//!
//! # The change feed
//!
//! - `identity_changes`: one row per change, `(nid, cursor)` its primary
//!   key (`WITHOUT ROWID`, so a page is a range of it): the identity, the
//!   kind (`created`, `updated`, `deleted`), the version after the write,
//!   the changed fields (comma-separated names) and `at` (microseconds).
//! - `identity_change_pruned`: per tenant that pruned, the last cursor
//!   pruned (`pruned_through`).
//! - `identity_change_consumers`: the cursor each named consumer saved,
//!   which only moves forward (`max` on conflict).
//!
//! A write adds one statement per change to its transaction (a batch, one
//! per entry that succeeded, at the end): an insert whose cursor is one
//! more than the tenant's newest change's, or than the pruning point when
//! a prune left none, so a cursor is never handed out twice. SQLite runs
//! one write transaction at a time, so cursors grow in commit order and a
//! reader following [`ChangePage::next`](identity_core::ChangePage::next)
//! never skips a change that commits late. A change's `at` is the wall
//! clock at the write, or the newest change's `at` if the clock went
//! backwards: along the feed it never decreases, so a prune by age removes
//! a prefix, walking only the rows it deletes. A page is read on a reader
//! connection in one snapshot with the tenant's pruning point, so an
//! expired cursor is always an error (`CursorExpired`), never a page with
//! a gap.
//!
//! Opening a version 3 file creates the three tables (one migration,
//! nothing rewritten); its feed starts empty and the first write after it
//! takes cursor 1. Nothing prunes on its own: `IdentityManager::prune_changes`
//! does, when called.

mod doc;
mod error;
mod feed;
mod options;
mod rows;
mod schema;
mod search;
mod store;

pub use options::{SqliteOptions, Synchronous};
pub use schema::schema_version_of;
pub use store::SqliteStore;

/// The schema version this library writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = schema::MIGRATIONS.len() as u32;
