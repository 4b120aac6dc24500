//! The whole conformance suite, one test per check, each on a fresh schema.
//! Ignored unless asked for (`--include-ignored`), as they need the server
//! `IDENTITY_TEST_POSTGRES_URL` names.

use crate::support::fresh_store;

identity_store_tests::store_suite!(
    ignored "needs PostgreSQL: set IDENTITY_TEST_POSTGRES_URL and pass --include-ignored",
    fresh_store
);
