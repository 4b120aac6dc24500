#![doc = include_str!("../README.md")]

mod addresses;
mod blocking;
mod error;
mod feed;
mod limits;
mod manager;
mod model;
pub mod normalize;
mod observe;
mod phone;
mod schema;
mod search;
pub mod sql;
mod store;
mod text;
mod time;

// Every public item has one path: here, at the root (the modules are the
// crate's own layout), except the normalisation functions, which keep
// their module's name (`normalize::email`), and the helpers for SQL store
// adapters (`sql::ChildRowPlan`), which only adapter authors need.
pub use addresses::{reconcile_recovery, reconcile_verifiable};
#[cfg(feature = "tokio")]
pub use blocking::TokioBlockingExecutor;
pub use blocking::{BlockingExecutor, BlockingFuture, BlockingJob};
pub use error::{BoxError, ConflictField, Error, ErrorKind, Violation, WriteOp};
pub use feed::{
    CONSUMER_NAME_MAX_BYTES, Change, ChangeCursor, ChangeKind, ChangePage, ChangedFields,
    InvalidCursor, PruneChanges, check_consumer_name,
};
pub use limits::Limits;
pub use manager::{
    BATCH_MAX, BATCH_MAX_PLAINTEXT, BatchEntry, BatchOutcome, BulkEntry, BulkOutcome, BulkResult,
    ChangeRetention, Collision, CreateIdentityBody, Delivery, EventSink, IdentityManager,
    IdentityManagerBuilder, IdentityPage, ImportRecoveryAddress, ImportVerifiableAddress,
    LIST_IDS_MAX, ListParams, MIGRATION_RETRIES, ManagerConfig, MigrationCounts, MigrationEntry,
    MigrationOutcome, MigrationPage, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PATCH_GROWTH_FACTOR,
    PATCH_MAX_OPS, SEARCHABLE_TYPES, SchemaMigration, UNKNOWN_HASH_FORMAT, UpdateIdentityBody,
    check_batch_len, check_bulk_len, decode_page_token, encode_page_token,
};
pub use model::{
    AddressVia, Credential, CredentialConfig, CredentialInclude, CredentialType, Credentials,
    EXTERNAL_ID_MAX_CHARS, ExternalId, INVALID_REGION, Identity, IdentityJson, REGIONS,
    RecoveryAddress, State, TenantId, VerifiableAddress, VerificationStatus, check_region,
};
#[cfg(feature = "metrics")]
pub use observe::describe_metrics;
pub use schema::{
    CodeAddress, DEFAULT_SCHEMA_ID, Derived, DerivedAddress, EMAIL_LOCAL_MAX_LEN, EMAIL_MAX_LEN,
    Extension, IdentitySchema, MAX_REF_DEPTH, MAX_SITES, MAX_WALK_STEPS, SCHEMA_MAX_DEPTH,
    SCHEMA_MAX_REFS, SchemaRegistry, Site, Step, is_valid_email, is_valid_tel, stock_email_rule,
};
pub use search::{TRAITS_PATTERN_MAX_DEPTH, json_contains};
pub use store::{
    DynIdentityStore, IdentityStore, IdentityStoreExt, ListFilter, ListPage, ListQuery,
    ListQueryParts, PageSize, ValidIdentity,
};
pub use text::INDEX_KEY_MAX_BYTES;
pub use time::{
    Clock, FixedClock, IdGenerator, RandomIds, SequentialIds, SystemClock, TimeOrderedIds,
    Timestamp,
};

/// Password hashing and verification (re-exported from `identity-password`).
pub use identity_password as password;

/// The code blocks of the project README, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ProjectReadmeDoctests;
