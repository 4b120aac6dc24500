#![doc = include_str!("../README.md")]

pub mod addresses;
pub mod error;
pub mod limits;
pub mod manager;
pub mod model;
pub mod normalize;
pub mod schema;
pub mod store;
pub mod time;

pub use error::{ConflictField, Error, ErrorKind, Violation, WriteOp};
pub use limits::Limits;
pub use manager::{
    BatchEntry, BatchOutcome, CreateIdentityBody, EventKind, EventSink, IdentityEvent,
    IdentityManager, IdentityPage, ListParams, ManagerConfig, UpdateIdentityBody,
};
pub use model::{
    AddressVia, Credential, CredentialConfig, CredentialInclude, CredentialType, Credentials,
    Identity, RecoveryAddress, State, TenantId, VerifiableAddress, VerificationStatus,
};
pub use schema::{Derived, IdentitySchema, SchemaRegistry};
pub use store::{
    DynIdentityStore, IdentityStore, IdentityStoreExt, ListFilter, ListPage, ListQuery,
    ValidIdentity,
};
pub use time::{Clock, FixedClock, IdGenerator, SequentialIds, SystemClock, Timestamp};

/// Password hashing and verification (re-exported from `identity-password`).
pub use identity_password as password;

/// The code blocks of the project README, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ProjectReadmeDoctests;
