//! identity-store-postgres integration tests (one binary), against the
//! server named by `IDENTITY_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in a fresh
//! schema of its own, dropped when it ends, so tests run in parallel.
//! Without the variable every test prints `SKIPPED: ...` to stderr and
//! returns.

mod basics;
mod failures;
mod race;
mod suite;
mod support;
