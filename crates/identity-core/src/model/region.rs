//! The identity's home region, as Kratos (for Ory Network's multi-region
//! deployments) accepts it.

use crate::error::Error;

/// The regions Kratos accepts.
pub const REGIONS: [&str; 8] = [
    "eu-central",
    "asia-northeast",
    "us-east",
    "us-west",
    "eu",
    "asia",
    "us",
    "global",
];

/// The reason Kratos gives for any other value.
pub const INVALID_REGION: &str = "the provided region is not a valid Ory region";

/// Checks a region from a create, PUT or PATCH body: one of [`REGIONS`],
/// or empty (none given).
///
/// Like Kratos outside Ory Network, the region is validated and echoed in
/// the answer to the write that gave it, and not stored.
///
/// ```
/// use identity_core::check_region;
/// assert!(check_region("eu-central").is_ok());
/// assert!(check_region("").is_ok());
/// assert_eq!(
///     check_region("mars").unwrap_err().to_string(),
///     "the provided region is not a valid Ory region"
/// );
/// ```
pub fn check_region(region: &str) -> Result<(), Error> {
    if region.is_empty() || REGIONS.contains(&region) {
        Ok(())
    } else {
        Err(Error::invalid(INVALID_REGION))
    }
}
