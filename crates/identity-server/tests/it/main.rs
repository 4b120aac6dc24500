//! The one integration-test binary of identity-server: the real binary as
//! a child process, driven by Ory's own client and by hostile clients.

// Test code: a failed unwrap is a failed test, which is what is wanted
// (the workspace lint is for library code).
#![allow(clippy::unwrap_used)]

mod cli;
mod e2e;
mod feed;
mod hostile;
mod migrate_schema;
mod scrape;
mod server;
