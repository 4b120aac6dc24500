//! The one integration-test binary of identity-http.

// Test code: a failed unwrap is a failed test, which is what is wanted
// (the workspace lint is for library code).
#![allow(clippy::unwrap_used)]

mod common;
mod e2e;
mod hostile;
mod openapi;
mod routes;
mod server;
