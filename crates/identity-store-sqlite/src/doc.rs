//! The identity document: the whole identity in one column of its row.
//!
//! `identities.doc` holds everything a read returns (every credential
//! config included, the version aside: it has a column of its own), so a
//! get is one statement on one row and a find is the identifier's row then
//! that one. The child tables stay for what needs an index: uniqueness and
//! lookups (identifiers, addresses, external id, organization).
//!
//! The form is the store's own, not the Kratos admin JSON: the wire form
//! belongs to the API and may change without the files changing with it.
//! It is serde-derived tuples written by `serde_json` as compact text: no
//! field names, timestamps as integer microseconds. The memory store keeps
//! the same shape in memory (`identity-store-memory`'s `stored.rs`); this
//! one is on disk, so it changes only with a schema migration.

use std::borrow::Cow;

use identity_core::{
    AddressVia, Credential, CredentialConfig, CredentialType, ExternalId, Identity,
    RecoveryAddress, State, Timestamp, VerifiableAddress, VerificationStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// An identity: id, schema id, state, state changed at, traits,
/// credentials, verifiable addresses, recovery addresses, public and admin
/// metadata, organization id, external id, created at, updated at. (Its
/// version lives beside it in the row.)
#[derive(Serialize, Deserialize)]
struct Doc<'a>(
    Uuid,
    Cow<'a, str>,
    State,
    Option<i64>,
    Cow<'a, Value>,
    Vec<DocCredential<'a>>,
    Vec<DocVerifiable<'a>>,
    Vec<DocRecovery<'a>>,
    Option<Cow<'a, Value>>,
    Option<Cow<'a, Value>>,
    Option<Uuid>,
    Option<Cow<'a, str>>,
    i64,
    i64,
);

/// A credential: type, identifiers, config, version, created at, updated
/// at.
#[derive(Serialize, Deserialize)]
struct DocCredential<'a>(
    CredentialType,
    Cow<'a, [String]>,
    Cow<'a, Value>,
    i64,
    i64,
    i64,
);

/// A verifiable address: id, via, value, verified, status, verified at,
/// created at, updated at.
#[derive(Serialize, Deserialize)]
struct DocVerifiable<'a>(
    Uuid,
    AddressVia,
    Cow<'a, str>,
    bool,
    VerificationStatus,
    Option<i64>,
    i64,
    i64,
);

/// A recovery address: id, via, value, created at, updated at.
#[derive(Serialize, Deserialize)]
struct DocRecovery<'a>(Uuid, AddressVia, Cow<'a, str>, i64, i64);

/// The document of `identity`.
pub(crate) fn encode(identity: &Identity) -> serde_json::Result<String> {
    serde_json::to_string(&Doc::of(identity))
}

/// The identity a document holds, at `version`, decoded straight from the
/// text (SQLite's own buffer, no copy).
pub(crate) fn decode(text: &str, version: u64) -> Result<Identity, String> {
    let doc: Doc<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    doc.into_identity(version)
}

fn micros(t: Timestamp) -> i64 {
    t.unix_micros()
}

/// A timestamp the store wrote itself; `None` would take a bug.
fn time(micros: i64) -> Result<Timestamp, String> {
    Timestamp::from_unix_micros(micros).ok_or_else(|| format!("timestamp {micros} out of range"))
}

impl<'a> Doc<'a> {
    /// The form of `i`, borrowing from it.
    fn of(i: &'a Identity) -> Doc<'a> {
        Doc(
            i.id,
            Cow::Borrowed(&i.schema_id),
            i.state,
            i.state_changed_at.map(micros),
            Cow::Borrowed(&i.traits),
            i.credentials
                .values()
                .map(|c| {
                    DocCredential(
                        c.kind,
                        Cow::Borrowed(&c.identifiers),
                        Cow::Borrowed(c.config.expose()),
                        c.version,
                        micros(c.created_at),
                        micros(c.updated_at),
                    )
                })
                .collect(),
            i.verifiable_addresses
                .iter()
                .map(|a| {
                    DocVerifiable(
                        a.id,
                        a.via,
                        Cow::Borrowed(&a.value),
                        a.verified,
                        a.status,
                        a.verified_at.map(micros),
                        micros(a.created_at),
                        micros(a.updated_at),
                    )
                })
                .collect(),
            i.recovery_addresses
                .iter()
                .map(|a| {
                    DocRecovery(
                        a.id,
                        a.via,
                        Cow::Borrowed(&a.value),
                        micros(a.created_at),
                        micros(a.updated_at),
                    )
                })
                .collect(),
            i.metadata_public.as_ref().map(Cow::Borrowed),
            i.metadata_admin.as_ref().map(Cow::Borrowed),
            i.organization_id,
            i.external_id.as_ref().map(|e| Cow::Borrowed(e.as_str())),
            micros(i.created_at),
            micros(i.updated_at),
        )
    }

    /// The identity this form holds, at `version`.
    fn into_identity(self, version: u64) -> Result<Identity, String> {
        let Doc(
            id,
            schema_id,
            state,
            state_changed_at,
            traits,
            credentials,
            verifiable,
            recovery,
            metadata_public,
            metadata_admin,
            organization_id,
            external_id,
            created_at,
            updated_at,
        ) = self;
        let mut identity = Identity {
            id,
            schema_id: schema_id.into_owned(),
            state,
            state_changed_at: state_changed_at.map(time).transpose()?,
            traits: traits.into_owned(),
            credentials: Default::default(),
            verifiable_addresses: Vec::with_capacity(verifiable.len()),
            recovery_addresses: Vec::with_capacity(recovery.len()),
            metadata_public: metadata_public.map(Cow::into_owned),
            metadata_admin: metadata_admin.map(Cow::into_owned),
            organization_id,
            external_id: external_id
                .map(|e| ExternalId::new(e.into_owned()))
                .transpose()
                .map_err(|e| e.to_string())?,
            created_at: time(created_at)?,
            updated_at: time(updated_at)?,
            version,
        };
        for DocCredential(kind, identifiers, config, version, created_at, updated_at) in credentials
        {
            let credential = Credential {
                kind,
                identifiers: identifiers.into_owned(),
                config: CredentialConfig::new(config.into_owned()),
                version,
                created_at: time(created_at)?,
                updated_at: time(updated_at)?,
            };
            identity.credentials.insert(kind, credential);
        }
        for DocVerifiable(id, via, value, verified, status, verified_at, created, updated) in
            verifiable
        {
            identity.verifiable_addresses.push(VerifiableAddress {
                id,
                value: value.into_owned(),
                verified,
                via,
                status,
                verified_at: verified_at.map(time).transpose()?,
                created_at: time(created)?,
                updated_at: time(updated)?,
            });
        }
        for DocRecovery(id, via, value, created, updated) in recovery {
            identity.recovery_addresses.push(RecoveryAddress {
                id,
                value: value.into_owned(),
                via,
                created_at: time(created)?,
                updated_at: time(updated)?,
            });
        }
        Ok(identity)
    }
}
