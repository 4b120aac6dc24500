//! The identity and its parts, with the Kratos admin JSON as their serde form.

mod address;
mod credential;
mod external_id;
mod identity;
mod region;

pub use address::{AddressVia, RecoveryAddress, VerifiableAddress, VerificationStatus};
pub use credential::{Credential, CredentialConfig, CredentialType, Credentials};
pub(crate) use external_id::deserialize_optional as deserialize_external_id;
pub use external_id::{EXTERNAL_ID_MAX_CHARS, ExternalId};
pub use identity::{CredentialInclude, Identity, IdentityJson, State, TenantId};
pub use region::{INVALID_REGION, REGIONS, check_region};
