//! PATCH: RFC 6902 on the admin JSON of an identity (SPEC §9).

use std::sync::Arc;

use json_patch::{AddOperation, PatchErrorKind, PatchOperation};
use serde_json::{Map, Value};

use super::{IdentityManager, credentials::UNKNOWN_HASH_FORMAT, external_id};
use crate::error::Error;
use crate::model::{CredentialInclude, CredentialType, Identity, State};
use crate::schema::IdentitySchema;
use crate::time::Timestamp;

/// Paths no operation may touch, nor anything below them.
const DENIED_TREES: [&str; 7] = [
    "/id",
    "/credentials/oidc",
    "/credentials/saml",
    "/state_changed_at",
    "/created_at",
    "/updated_at",
    "/schema_url",
];

/// Paths no operation may touch themselves (their children are allowed).
const DENIED_EXACT: [&str; 2] = ["", "/credentials"];

fn denied(path: &str) -> bool {
    DENIED_EXACT.contains(&path)
        || DENIED_TREES.iter().any(|d| {
            path == *d
                || path
                    .strip_prefix(d)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

fn from_of(op: &PatchOperation) -> Option<&str> {
    match op {
        PatchOperation::Move(m) => Some(m.from.as_str()),
        PatchOperation::Copy(c) => Some(c.from.as_str()),
        _ => None,
    }
}

/// Parses a patch document and checks the deny list.
pub(crate) fn parse(patch: Value) -> Result<Vec<PatchOperation>, Error> {
    if !patch.is_array() {
        return Err(Error::invalid(
            "a JSON Patch must be an array of operations",
        ));
    }
    let ops: Vec<PatchOperation> = serde_json::from_value(patch)
        .map_err(|e| Error::invalid(format!("invalid JSON Patch: {e}")))?;
    for op in &ops {
        for path in [Some(op.path().as_str()), from_of(op)]
            .into_iter()
            .flatten()
        {
            if denied(path) {
                return Err(Error::invalid(format!(
                    "patch includes denied path: {path}"
                )));
            }
        }
    }
    Ok(ops)
}

fn tokens(path: &str) -> Vec<String> {
    path.split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Kratos-friendly forms of the writing operations: missing or null parent
/// objects of the target are created (for `add`, `replace`, `copy` and
/// `move`), and `replace` of a missing member acts as `add`.
fn prepare(doc: &mut Value, op: &PatchOperation) -> Option<PatchOperation> {
    let path = match op {
        PatchOperation::Add(a) => &a.path,
        PatchOperation::Replace(r) => &r.path,
        PatchOperation::Copy(c) => &c.path,
        PatchOperation::Move(m) => &m.path,
        _ => return None,
    };
    let toks = tokens(path.as_str());
    let (last, parents) = toks.split_last()?;
    let mut cur = doc;
    for tok in parents {
        cur = match cur {
            Value::Object(map) => {
                let slot = map.entry(tok.clone()).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = Value::Object(Map::new());
                }
                slot
            }
            Value::Array(items) => tok.parse::<usize>().ok().and_then(|i| items.get_mut(i))?,
            _ => return None,
        };
    }
    if let PatchOperation::Replace(r) = op
        && let Value::Object(map) = cur
        && !map.contains_key(last)
    {
        return Some(PatchOperation::Add(AddOperation {
            path: r.path.clone(),
            value: r.value.clone(),
        }));
    }
    None
}

fn apply_ops(doc: &mut Value, ops: &[PatchOperation]) -> Result<(), Error> {
    for op in ops {
        let rewritten = prepare(doc, op);
        let op = rewritten.as_ref().unwrap_or(op);
        json_patch::patch(doc, std::slice::from_ref(op)).map_err(|e| match e.kind {
            PatchErrorKind::TestFailed => Error::invalid(format!(
                "patch test operation failed at {}",
                op.path().as_str()
            )),
            kind => Error::invalid(format!(
                "patch operation at {} failed: {kind}",
                op.path().as_str()
            )),
        })?;
    }
    Ok(())
}

fn check_state(doc: &Value) -> Result<(), Error> {
    match doc.get("state") {
        Some(Value::String(s)) if State::parse(s).is_some() => Ok(()),
        None => Ok(()),
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            Err(Error::invalid(format!(
                "The supplied state ('{shown}') was not valid. Valid states are ('active', 'inactive')."
            )))
        }
    }
}

fn check_credential_types(doc: &Value) -> Result<(), Error> {
    let Some(Value::Object(creds)) = doc.get("credentials") else {
        return Ok(());
    };
    for (key, credential) in creds {
        let kind = credential.get("type").and_then(Value::as_str);
        if kind != Some(key.as_str()) {
            return Err(Error::invalid(format!(
                "credentials.{key}: the credential's type ({}) must equal its key",
                kind.unwrap_or("missing")
            )));
        }
        if CredentialType::parse(key).is_none() {
            return Err(Error::invalid(format!(
                "credentials: unknown credential type `{key}`"
            )));
        }
    }
    Ok(())
}

/// Applies the operations to `stored` and returns the patched identity
/// (before validation and derivation) and its schema.
pub(crate) fn apply(
    manager: &IdentityManager,
    stored: &Identity,
    ops: &[PatchOperation],
    now: Timestamp,
) -> Result<(Identity, Arc<IdentitySchema>), Error> {
    let mut doc = manager.to_json(stored, CredentialInclude::All);
    apply_ops(&mut doc, ops)?;
    check_state(&doc)?;
    check_credential_types(&doc)?;
    let mut next: Identity = serde_json::from_value(doc)
        .map_err(|e| Error::invalid(format!("the patched identity is not valid: {e}")))?;
    next.version = stored.version;
    let schema = if next.schema_id.is_empty() {
        manager.inner.schemas.resolve(&stored.schema_id)?.clone()
    } else {
        manager.inner.schemas.resolve(&next.schema_id)?.clone()
    };
    next.schema_id = schema.id().to_owned();
    next.state_changed_at = if next.state == stored.state {
        stored.state_changed_at
    } else {
        Some(now)
    };
    next.external_id = external_id(next.external_id.take())?;
    for (kind, credential) in next.credentials.iter_mut() {
        let old = stored.credentials.get(kind);
        if *kind == CredentialType::Password {
            let new_hash = credential.config.expose().get("hashed_password");
            let old_hash = old.and_then(|o| o.config.expose().get("hashed_password"));
            if let Some(h) = new_hash
                && Some(h) != old_hash
            {
                let Some(text) = h.as_str() else {
                    return Err(Error::invalid(UNKNOWN_HASH_FORMAT));
                };
                identity_password::check_import(text)
                    .map_err(|e| Error::invalid(format!("{UNKNOWN_HASH_FORMAT} ({e})")))?;
            }
        }
        match *kind {
            CredentialType::Totp | CredentialType::LookupSecret => {
                credential.identifiers = vec![stored.id.to_string()];
            }
            CredentialType::Passkey => {
                let handle = credential
                    .config
                    .expose()
                    .get("user_handle")
                    .and_then(Value::as_str);
                match handle {
                    Some(h) if !h.is_empty() => credential.identifiers = vec![h.to_owned()],
                    _ => {
                        return Err(Error::invalid(
                            "credentials.passkey: a passkey needs a `user_handle`",
                        ));
                    }
                }
            }
            _ => {}
        }
        match old {
            Some(old) => {
                credential.created_at = old.created_at;
                credential.version = old.version;
                credential.updated_at = if credential.config == old.config
                    && credential.identifiers == old.identifiers
                {
                    old.updated_at
                } else {
                    now
                };
            }
            None => {
                credential.created_at = now;
                credential.updated_at = now;
            }
        }
    }
    Ok((next, schema))
}
