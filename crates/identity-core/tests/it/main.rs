//! identity-core integration tests (one binary).

mod addresses;
mod blocking;
mod email;
mod errors;
mod hostile;
mod json;
mod kratos_extension;
mod kratos_manager;
mod observe;
mod ops_batch;
mod ops_create;
mod ops_dry_bulk;
mod ops_export;
mod ops_feed;
mod ops_migrate;
mod ops_patch;
mod ops_support;
mod ops_update;
mod phone;
mod props;
mod schema;
mod shared_data;
mod support;
