use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Timestamp;

/// The channel an address is reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressVia {
    /// An email address.
    Email,
    /// A phone number, in E.164.
    Sms,
}

impl AddressVia {
    /// The wire spelling: `email` or `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressVia::Email => "email",
            AddressVia::Sms => "sms",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(AddressVia::Email),
            "sms" => Some(AddressVia::Sms),
            _ => None,
        }
    }
}

/// Where a verifiable address is in its verification flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    /// Nothing sent yet.
    Pending,
    /// A verification message was sent.
    Sent,
    /// The address was verified.
    Completed,
}

impl VerificationStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Pending => "pending",
            VerificationStatus::Sent => "sent",
            VerificationStatus::Completed => "completed",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(VerificationStatus::Pending),
            "sent" => Some(VerificationStatus::Sent),
            "completed" => Some(VerificationStatus::Completed),
            _ => None,
        }
    }
}

/// An address the identity can prove it owns, derived from the traits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiableAddress {
    /// Stable id, kept while the traits keep producing this address.
    pub id: Uuid,
    /// The normalised address.
    pub value: String,
    /// Whether the address was verified.
    pub verified: bool,
    /// The channel.
    pub via: AddressVia,
    /// Where verification stands.
    pub status: VerificationStatus,
    /// When it was verified, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Timestamp>,
    /// When the address was first derived.
    pub created_at: Timestamp,
    /// When the address last changed.
    pub updated_at: Timestamp,
}

/// An address account recovery may use, derived from the traits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryAddress {
    /// Stable id, kept while the traits keep producing this address.
    pub id: Uuid,
    /// The normalised address.
    pub value: String,
    /// The channel.
    pub via: AddressVia,
    /// When the address was first derived.
    pub created_at: Timestamp,
    /// When the address last changed.
    pub updated_at: Timestamp,
}
