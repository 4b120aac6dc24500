//! identity-store-postgres integration tests (one binary), against the
//! server named by `IDENTITY_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in a fresh
//! schema of its own, dropped when it ends, so tests run in parallel.
//! They are `#[ignore]`d unless asked for, so that a machine without a
//! server reports them as ignored, not passed:
//! `IDENTITY_TEST_POSTGRES_URL=… cargo test -p identity-store-postgres -- --include-ignored --skip failover_drill`
//! (the failover drill, `failover.rs`, needs a primary/standby pair of its
//! own and runs through `.ci/pg-failover-drill`).

mod basics;
mod failover;
mod failures;
mod feed;
mod in_doubt;
mod race;
mod standby;
mod suite;
mod support;
