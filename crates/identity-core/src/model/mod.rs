//! The identity and its parts, with the Kratos admin JSON as their serde form.

mod address;
mod credential;
mod identity;
mod region;

pub use address::{AddressVia, RecoveryAddress, VerifiableAddress, VerificationStatus};
pub use credential::{Credential, CredentialConfig, CredentialType, Credentials};
pub use identity::{CredentialInclude, Identity, IdentityJson, State, TenantId};
pub use region::{INVALID_REGION, REGIONS, check_region};
