use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Timestamp;

/// The kinds of credential an identity can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    /// A password (identifiers from the traits).
    Password,
    /// OpenID Connect links (`provider:subject` identifiers).
    Oidc,
    /// SAML links (`provider:subject` identifiers).
    Saml,
    /// A TOTP secret (identifier: the identity id).
    Totp,
    /// Lookup (recovery) codes (identifier: the identity id).
    LookupSecret,
    /// WebAuthn second-factor or passwordless keys.
    Webauthn,
    /// Passkeys (identifier: the user handle).
    Passkey,
    /// One-time codes sent to addresses from the traits.
    Code,
}

impl CredentialType {
    /// Every type, in the order they sort.
    pub const ALL: [CredentialType; 8] = [
        CredentialType::Password,
        CredentialType::Oidc,
        CredentialType::Saml,
        CredentialType::Totp,
        CredentialType::LookupSecret,
        CredentialType::Webauthn,
        CredentialType::Passkey,
        CredentialType::Code,
    ];

    /// The wire spelling (`password`, `lookup_secret`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Oidc => "oidc",
            CredentialType::Saml => "saml",
            CredentialType::Totp => "totp",
            CredentialType::LookupSecret => "lookup_secret",
            CredentialType::Webauthn => "webauthn",
            CredentialType::Passkey => "passkey",
            CredentialType::Code => "code",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        CredentialType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether the identity schema derives this type's identifiers.
    pub fn is_schema_driven(self) -> bool {
        matches!(
            self,
            CredentialType::Password | CredentialType::Webauthn | CredentialType::Code
        )
    }
}

impl fmt::Display for CredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The secret-bearing configuration of a credential (hashes, TOTP URLs,
/// recovery codes, key material).
///
/// Its `Debug` prints nothing of the content, and an identity serializes it
/// only for the credential types the caller explicitly includes.
///
/// The value is shared: cloning a configuration (as every update of an
/// identity that keeps its credentials does) copies a pointer, not the
/// secrets; a changed configuration is a new one.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialConfig(Arc<Value>);

impl CredentialConfig {
    /// Wraps a configuration value.
    pub fn new(value: Value) -> Self {
        CredentialConfig(Arc::new(value))
    }

    /// The empty configuration `{}`: a credential that reserves its
    /// identifiers but holds no secret yet.
    pub fn empty() -> Self {
        CredentialConfig::new(Value::Object(serde_json::Map::new()))
    }

    /// Borrows the configuration. Handle with care: it holds secrets.
    pub fn expose(&self) -> &Value {
        &self.0
    }

    /// Takes the configuration out (copied only when it is shared).
    /// Handle with care: it holds secrets.
    pub fn into_inner(self) -> Value {
        Arc::unwrap_or_clone(self.0)
    }

    /// Whether both are the same shared value (one cloned from the other):
    /// equal without comparing them.
    pub(crate) fn is_shared_with(&self, other: &CredentialConfig) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether the configuration is `{}` or null.
    pub fn is_empty(&self) -> bool {
        match &*self.0 {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            _ => false,
        }
    }
}

impl Default for CredentialConfig {
    fn default() -> Self {
        CredentialConfig::empty()
    }
}

impl Serialize for CredentialConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CredentialConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(CredentialConfig::new)
    }
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialConfig(<redacted>)")
    }
}

/// One credential of an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The type; always equal to its key in [`Credentials`].
    #[serde(rename = "type")]
    pub kind: CredentialType,
    /// What the credential can be looked up by (normalised where the type
    /// asks for it).
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// The secret-bearing configuration.
    #[serde(default, skip_serializing)]
    pub config: CredentialConfig,
    /// The configuration format version.
    #[serde(default)]
    pub version: i64,
    /// When the credential was created.
    pub created_at: Timestamp,
    /// When the credential last changed.
    pub updated_at: Timestamp,
}

/// An identity's credentials, by type.
pub type Credentials = BTreeMap<CredentialType, Credential>;
