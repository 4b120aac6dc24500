//! The request bodies of the operations, as Kratos' admin API spells them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::Error;
use crate::limits::{BODY_MAX_DEPTH, refuse_deeper_than};
use crate::model::{AddressVia, VerificationStatus};
use crate::time::Timestamp;

/// The body of a create (`POST /admin/identities`). Unknown fields are
/// rejected.
///
/// Its `Debug` names the credential types it imports, never their configs
/// (which may hold a plaintext password).
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityBody {
    /// The schema id; empty means the default schema.
    #[serde(default)]
    pub schema_id: String,
    /// The traits; `{}` when absent. JSON `null` is kept (and fails
    /// validation, as in Kratos).
    #[serde(default, deserialize_with = "present")]
    pub traits: Option<Value>,
    /// `active` (default) or `inactive`.
    #[serde(default)]
    pub state: Option<String>,
    /// Credentials to import, by type (SPEC §6).
    #[serde(default)]
    pub credentials: Option<Map<String, Value>>,
    /// Verifiable addresses to import; kept only if the traits produce them.
    #[serde(default)]
    pub verifiable_addresses: Option<Vec<ImportVerifiableAddress>>,
    /// Recovery addresses to import; kept only if the traits produce them.
    #[serde(default)]
    pub recovery_addresses: Option<Vec<ImportRecoveryAddress>>,
    /// Public metadata.
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Admin metadata.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// The organization.
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    /// A caller-chosen id, unique per tenant; `""` means unset.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The home region (one of [`crate::model::REGIONS`]); validated and
    /// echoed, not stored, as in Kratos.
    #[serde(default)]
    pub region: Option<String>,
}

impl CreateIdentityBody {
    /// Reads a create body from JSON; a malformed body or an unknown field is
    /// an invalid-input error naming the problem.
    pub fn from_json(value: Value) -> Result<Self, Error> {
        let value = refuse_deeper_than(value, BODY_MAX_DEPTH, "the create body")?;
        serde_json::from_value(value).map_err(|e| {
            let text = e.to_string();
            // Kratos' strict decoder's words for a field it does not know.
            match text
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split_once('`'))
            {
                Some((field, _)) => Error::invalid(format!(
                    "json: unknown field {}",
                    Value::String(field.to_owned())
                )),
                None => Error::invalid(format!("invalid create body: {text}")),
            }
        })
    }
}

impl CreateIdentityBody {
    /// Whether the body imports a plaintext password to hash, counted as
    /// a batch counts it against [`BATCH_MAX_PLAINTEXT`](crate::BATCH_MAX_PLAINTEXT)
    /// (an importer can cut its batches by it). A body whose credentials
    /// do not parse has none.
    pub fn has_plaintext_password(&self) -> bool {
        self.credentials.as_ref().is_some_and(|map| {
            super::credentials::parse_imports(map)
                .is_ok_and(|imports| super::credentials::has_plaintext(&imports))
        })
    }
}

/// A member that is present, `null` included (serde's `Option` reads
/// `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn email() -> AddressVia {
    AddressVia::Email
}

/// An address channel where `""` (and `null`) mean `email`, as Kratos'
/// persister defaults it.
fn via_or_email<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AddressVia, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref() {
        None | Some("") => Ok(AddressVia::Email),
        Some(text) => AddressVia::parse(text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown address channel {text:?}, expected \"email\" or \"sms\""
            ))
        }),
    }
}

/// The credential types of a body, for `Debug`: their configs may hold a
/// plaintext password.
struct CredentialTypes<'a>(&'a Option<Map<String, Value>>);

impl fmt::Debug for CredentialTypes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("None"),
            Some(map) => f
                .debug_set()
                .entries(map.keys())
                .finish()
                .and_then(|()| f.write_str(" (configs redacted)")),
        }
    }
}

impl fmt::Debug for CreateIdentityBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateIdentityBody")
            .field("schema_id", &self.schema_id)
            .field("traits", &self.traits)
            .field("state", &self.state)
            .field("credentials", &CredentialTypes(&self.credentials))
            .field("verifiable_addresses", &self.verifiable_addresses)
            .field("recovery_addresses", &self.recovery_addresses)
            .field("metadata_public", &self.metadata_public)
            .field("metadata_admin", &self.metadata_admin)
            .field("organization_id", &self.organization_id)
            .field("external_id", &self.external_id)
            .field("region", &self.region)
            .finish()
    }
}

/// An imported verifiable address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportVerifiableAddress {
    /// The address.
    pub value: String,
    /// The channel; empty or absent means `email`.
    #[serde(default = "email", deserialize_with = "via_or_email")]
    pub via: AddressVia,
    /// Whether it was verified.
    #[serde(default)]
    pub verified: bool,
    /// Where verification stands; `completed` when verified and absent.
    #[serde(default)]
    pub status: Option<VerificationStatus>,
    /// When it was verified; now when verified and absent.
    #[serde(default)]
    pub verified_at: Option<Timestamp>,
    /// Ignored (ids are generated).
    #[serde(default, skip_serializing)]
    pub id: Option<Value>,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub created_at: Option<Value>,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub updated_at: Option<Value>,
}

/// An imported recovery address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecoveryAddress {
    /// The address.
    pub value: String,
    /// The channel; empty or absent means `email`.
    #[serde(default = "email", deserialize_with = "via_or_email")]
    pub via: AddressVia,
    /// Ignored (ids are generated).
    #[serde(default, skip_serializing)]
    pub id: Option<Value>,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub created_at: Option<Value>,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub updated_at: Option<Value>,
}

/// The body of an update (`PUT /admin/identities/{id}`): everything but
/// credentials is replaced. Unknown fields are ignored, as Kratos does.
///
/// Its `Debug` names the credential types it imports, never their configs.
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct UpdateIdentityBody {
    /// Non-empty replaces the schema; empty keeps it.
    #[serde(default)]
    pub schema_id: String,
    /// Non-empty and different changes the state.
    #[serde(default)]
    pub state: Option<String>,
    /// The new traits; absent means `{}`; JSON `null` is kept (and fails
    /// validation).
    #[serde(default, deserialize_with = "present")]
    pub traits: Option<Value>,
    /// Replaced; absent clears it.
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Replaced; absent clears it.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// Replaced; absent or `""` clears it.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Absent or null leaves credentials alone; otherwise each type given is
    /// merged (SPEC §6).
    #[serde(default)]
    pub credentials: Option<Map<String, Value>>,
    /// The home region; validated and echoed, not stored, as in Kratos.
    #[serde(default)]
    pub region: Option<String>,
}

impl fmt::Debug for UpdateIdentityBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateIdentityBody")
            .field("schema_id", &self.schema_id)
            .field("state", &self.state)
            .field("traits", &self.traits)
            .field("metadata_public", &self.metadata_public)
            .field("metadata_admin", &self.metadata_admin)
            .field("external_id", &self.external_id)
            .field("credentials", &CredentialTypes(&self.credentials))
            .field("region", &self.region)
            .finish()
    }
}

impl UpdateIdentityBody {
    /// Reads an update body from JSON.
    pub fn from_json(value: Value) -> Result<Self, Error> {
        let value = refuse_deeper_than(value, BODY_MAX_DEPTH, "the update body")?;
        serde_json::from_value(value)
            .map_err(|e| Error::invalid(format!("invalid update body: {e}")))
    }
}

/// One entry of a batch create.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEntry {
    /// The identity to create.
    pub create: CreateIdentityBody,
    /// An id the caller chose, echoed in the result.
    #[serde(default)]
    pub patch_id: Option<Uuid>,
}

/// The outcome of one batch entry.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Created with this id and version.
    Created {
        /// The new identity's id.
        id: Uuid,
        /// Its version.
        version: u64,
        /// The caller's patch id.
        patch_id: Option<Uuid>,
    },
    /// This entry failed; the others are unaffected.
    Failed {
        /// Why.
        error: Error,
        /// The caller's patch id.
        patch_id: Option<Uuid>,
    },
    /// The input entry was `null`.
    Skipped,
}
