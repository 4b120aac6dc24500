//! Export: an identity as the create body that imports it again.

use serde_json::{Map, Value, json};

use super::{IdentityManager, credentials};
use crate::model::{CredentialInclude, Identity};

impl IdentityManager {
    /// The create body (Kratos' import body, [`CreateIdentityBody`](super::CreateIdentityBody))
    /// that recreates `identity` when imported: `schema_id`, `state`,
    /// `traits`, then `credentials` (the import configs of the types
    /// `include` names, e.g. `{"password":{"config":{"hashed_password":…}}}`),
    /// `verifiable_addresses` (value, via, verified, status, verified_at),
    /// `metadata_public`, `metadata_admin`, `organization_id` and
    /// `external_id`, each present only when set, always in that order.
    ///
    /// What a create cannot set is left out and made anew by the import:
    /// the id, `created_at`, `updated_at`, `state_changed_at`, the ids and
    /// timestamps of addresses and credentials, and recovery addresses
    /// (derived from the traits, with nothing of their own to keep).
    /// Credentials the traits derive without a secret (`{}` configs) and
    /// `code` credentials are left out too: the import derives them again.
    /// So exporting the imported identity gives this same JSON again,
    /// byte for byte.
    ///
    /// Credential configs hold secrets (password hashes, TOTP secrets,
    /// recovery codes): with [`CredentialInclude::None`] none is written.
    pub fn to_import_json(&self, identity: &Identity, include: CredentialInclude) -> Value {
        let mut body = Map::new();
        body.insert("schema_id".into(), json!(identity.schema_id));
        body.insert("state".into(), json!(identity.state.as_str()));
        body.insert("traits".into(), identity.traits.clone());
        let mut creds = Map::new();
        for (kind, credential) in &identity.credentials {
            if !include.includes(*kind) {
                continue;
            }
            if let Some(config) = credentials::import_config(*kind, credential.config.expose()) {
                creds.insert(kind.as_str().to_owned(), json!({ "config": config }));
            }
        }
        if !creds.is_empty() {
            body.insert("credentials".into(), Value::Object(creds));
        }
        if !identity.verifiable_addresses.is_empty() {
            let addresses: Vec<Value> = identity
                .verifiable_addresses
                .iter()
                .map(|a| {
                    let mut out = Map::new();
                    out.insert("value".into(), json!(a.value));
                    out.insert("via".into(), json!(a.via.as_str()));
                    out.insert("verified".into(), json!(a.verified));
                    out.insert("status".into(), json!(a.status.as_str()));
                    if let Some(at) = a.verified_at {
                        out.insert("verified_at".into(), json!(at));
                    }
                    Value::Object(out)
                })
                .collect();
            body.insert("verifiable_addresses".into(), Value::Array(addresses));
        }
        for (name, value) in [
            ("metadata_public", &identity.metadata_public),
            ("metadata_admin", &identity.metadata_admin),
        ] {
            if let Some(v) = value {
                body.insert(name.into(), v.clone());
            }
        }
        if let Some(org) = identity.organization_id {
            body.insert("organization_id".into(), json!(org));
        }
        if let Some(external) = &identity.external_id {
            body.insert("external_id".into(), json!(external.as_str()));
        }
        Value::Object(body)
    }
}
