use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Credential, CredentialType, Credentials, ExternalId, RecoveryAddress, VerifiableAddress,
};
use crate::time::Timestamp;

/// The tenant (Kratos' network id, `nid`) an identity lives in. Every lookup
/// and every uniqueness rule is per tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// The default tenant (the nil UUID) for single-tenant deployments.
    pub const DEFAULT: TenantId = TenantId(Uuid::nil());
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Whether an identity may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The identity may sign in.
    #[default]
    Active,
    /// The identity is disabled.
    Inactive,
}

impl State {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Inactive => "inactive",
        }
    }

    /// Parses the wire spelling; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(State::Active),
            "inactive" => Some(State::Inactive),
            _ => None,
        }
    }
}

/// An identity, as the core validates it and the stores persist it.
///
/// Its serde form is the Kratos admin JSON: [`Identity::to_json`] writes it
/// (with a derived `schema_url`, and credential configs only for the types
/// asked for), and `Deserialize` reads it back (ignoring `schema_url`).
/// [`Identity::version`] is not part of the JSON; on HTTP it travels as the
/// ETag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// The id, generated on create.
    pub id: Uuid,
    /// The id of the schema the traits are validated against.
    pub schema_id: String,
    /// Active or inactive.
    #[serde(default)]
    pub state: State,
    /// When the state last changed.
    #[serde(default)]
    pub state_changed_at: Option<Timestamp>,
    /// The traits, stored as given.
    #[serde(default = "empty_object")]
    pub traits: Value,
    /// Credentials by type.
    #[serde(default)]
    pub credentials: Credentials,
    /// Verifiable addresses derived from the traits.
    #[serde(default)]
    pub verifiable_addresses: Vec<VerifiableAddress>,
    /// Recovery addresses derived from the traits.
    #[serde(default)]
    pub recovery_addresses: Vec<RecoveryAddress>,
    /// Metadata the identity itself may read.
    #[serde(default)]
    pub metadata_public: Option<Value>,
    /// Metadata only admins see.
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    /// The organization the identity belongs to.
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    /// A caller-chosen id, unique per tenant (`""` in JSON reads as none).
    #[serde(default, deserialize_with = "super::deserialize_external_id")]
    pub external_id: Option<ExternalId>,
    /// When the identity was created.
    pub created_at: Timestamp,
    /// When the identity last changed.
    pub updated_at: Timestamp,
    /// The store's version counter: bumped by every write.
    #[serde(skip)]
    pub version: u64,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Which credential configs an identity's JSON carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CredentialInclude {
    /// No configs (the default for every response).
    #[default]
    None,
    /// The configs of these types only.
    Only(BTreeSet<CredentialType>),
    /// Every config (the admin JSON that PATCH operates on).
    All,
}

impl CredentialInclude {
    /// Whether the config of `kind` is written.
    pub fn includes(&self, kind: CredentialType) -> bool {
        match self {
            CredentialInclude::None => false,
            CredentialInclude::Only(set) => set.contains(&kind),
            CredentialInclude::All => true,
        }
    }
}

impl FromIterator<CredentialType> for CredentialInclude {
    fn from_iter<I: IntoIterator<Item = CredentialType>>(iter: I) -> Self {
        CredentialInclude::Only(iter.into_iter().collect())
    }
}

/// The identity's JSON form: borrow it through [`Identity::to_json`].
#[derive(Debug, Clone)]
pub struct IdentityJson<'a> {
    identity: &'a Identity,
    schema_url: String,
    include: CredentialInclude,
}

impl Identity {
    /// The Kratos admin JSON of this identity. `base_url` is prefixed to the
    /// schema URL (`<base_url>/schemas/<base64url(schema_id)>`); `include`
    /// selects which credential configs are written.
    pub fn to_json(&self, base_url: &str, include: CredentialInclude) -> IdentityJson<'_> {
        IdentityJson {
            identity: self,
            schema_url: schema_url(base_url, &self.schema_id),
            include,
        }
    }

    /// The JSON value of [`Identity::to_json`].
    pub fn to_value(&self, base_url: &str, include: CredentialInclude) -> Value {
        // Serializing plain data into a Value cannot fail: every map key is a string.
        serde_json::to_value(self.to_json(base_url, include)).unwrap_or(Value::Null)
    }

    /// The identifiers of one credential type, if the identity has it.
    pub fn identifiers(&self, kind: CredentialType) -> &[String] {
        self.credentials
            .get(&kind)
            .map(|c| c.identifiers.as_slice())
            .unwrap_or(&[])
    }
}

/// `<base_url>/schemas/<base64url-no-pad(schema_id)>`.
pub(super) fn schema_url(base_url: &str, schema_id: &str) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(schema_id.as_bytes());
    format!("{}/schemas/{encoded}", base_url.trim_end_matches('/'))
}

#[derive(Serialize)]
struct Wire<'a> {
    id: &'a Uuid,
    schema_id: &'a str,
    schema_url: &'a str,
    state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_changed_at: Option<Timestamp>,
    traits: &'a Value,
    #[serde(skip_serializing_if = "is_empty_creds")]
    credentials: CredentialsWire<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    verifiable_addresses: &'a [VerifiableAddress],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    recovery_addresses: &'a [RecoveryAddress],
    metadata_public: &'a Option<Value>,
    metadata_admin: &'a Option<Value>,
    organization_id: &'a Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

struct CredentialsWire<'a> {
    credentials: &'a Credentials,
    include: &'a CredentialInclude,
}

fn is_empty_creds(c: &CredentialsWire<'_>) -> bool {
    c.credentials.is_empty()
}

#[derive(Serialize)]
struct CredentialWire<'a> {
    #[serde(rename = "type")]
    kind: CredentialType,
    identifiers: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'a Value>,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Serialize for CredentialsWire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.credentials.len()))?;
        for (kind, credential) in self.credentials {
            map.serialize_entry(kind.as_str(), &credential_wire(credential, self.include))?;
        }
        map.end()
    }
}

fn credential_wire<'a>(c: &'a Credential, include: &CredentialInclude) -> CredentialWire<'a> {
    CredentialWire {
        kind: c.kind,
        identifiers: &c.identifiers,
        config: include.includes(c.kind).then(|| c.config.expose()),
        version: c.version,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

impl Serialize for IdentityJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let i = self.identity;
        Wire {
            id: &i.id,
            schema_id: &i.schema_id,
            schema_url: &self.schema_url,
            state: i.state,
            state_changed_at: i.state_changed_at,
            traits: &i.traits,
            credentials: CredentialsWire {
                credentials: &i.credentials,
                include: &self.include,
            },
            verifiable_addresses: &i.verifiable_addresses,
            recovery_addresses: &i.recovery_addresses,
            metadata_public: &i.metadata_public,
            metadata_admin: &i.metadata_admin,
            organization_id: &i.organization_id,
            external_id: i.external_id.as_ref().map(ExternalId::as_str),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
        .serialize(serializer)
    }
}
