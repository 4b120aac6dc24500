//! The one integration-test binary of identity-http.

// Test code: a failed unwrap is a failed test, which is what is wanted
// (the workspace lint is for library code).
#![allow(clippy::unwrap_used)]

mod changes;
mod common;
mod dry_bulk;
mod errors;
mod kratos_handler;
mod kratos_import;
mod kratos_region;
mod kratos_support;
mod migrate;
mod observe;
mod openapi;
mod routes;
mod search;
