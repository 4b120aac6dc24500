//! The whole conformance suite, one test per check, each on a fresh schema.
//! Without `IDENTITY_TEST_POSTGRES_URL` the factory reports the skip loudly
//! and returns `None`.

use crate::support::fresh_store;

identity_store_tests::store_suite!(optional fresh_store);
