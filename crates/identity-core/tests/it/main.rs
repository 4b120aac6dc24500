//! identity-core integration tests (one binary).

mod addresses;
mod errors;
mod json;
mod schema;
mod shared_data;
mod support;
