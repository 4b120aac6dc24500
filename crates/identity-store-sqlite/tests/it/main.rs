//! identity-store-sqlite integration tests (one binary): the whole
//! conformance suite against file databases, plus what SQLite adds.
//!
//! Some tests re-execute this binary as a child process (see
//! `support::spawn_child`): a writer killed with SIGKILL, two processes
//! sharing one file.

use std::any::Any;
use std::sync::Arc;

use identity_core::DynIdentityStore;
use identity_store_sqlite::{SqliteOptions, SqliteStore};

mod basics;
mod cancel;
mod crash;
mod durability;
mod feed;
mod feed_crash;
mod multiprocess;
mod support;
mod threads;

/// A store on a fresh file; the guard deletes its directory.
async fn make_store() -> (DynIdentityStore, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("suite.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path"), SqliteOptions::default())
        .expect("open store");
    (Arc::new(store), Box::new(dir))
}

identity_store_tests::store_suite!(make_store);
