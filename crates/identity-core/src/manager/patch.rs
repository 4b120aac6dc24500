//! PATCH: RFC 6902 on the admin JSON of an identity (SPEC §9).

use std::sync::Arc;

use json_patch::{
    AddOperation, CopyOperation, MoveOperation, PatchErrorKind, PatchOperation, ReplaceOperation,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::credentials;
use crate::error::Error;
use crate::limits::{
    BODY_MAX_DEPTH, Exceeded, Limits, dispose, extent, refuse_deeper_than, string_len,
};
use crate::model::{AddressVia, CredentialInclude, CredentialType, ExternalId, Identity, State};
use crate::normalize;
use crate::schema::{IdentitySchema, SchemaRegistry};
use crate::time::{IdGenerator, Timestamp};

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

fn from_of(op: &PatchOperation) -> Option<&json_patch::jsonptr::Pointer> {
    match op {
        PatchOperation::Move(m) => Some(&m.from),
        PatchOperation::Copy(c) => Some(&c.from),
        _ => None,
    }
}

/// The most operations one JSON Patch may hold.
pub const PATCH_MAX_OPS: usize = 1_000;

/// A patch may grow the identity's JSON by at most this many times
/// [`Limits::max_json_bytes`] (256 KiB by default): room for replacing the
/// traits, both metadata values and a credential config at their limits,
/// and a bound on what a run of self-`copy`s can build before it is
/// refused.
pub const PATCH_GROWTH_FACTOR: usize = 4;

/// Top-level members that hold the caller's free-form JSON, each held to
/// the limits.
const FREE_FORM: [&str; 3] = ["traits", "metadata_public", "metadata_admin"];

/// How deep the identity's own structure goes outside the free-form
/// members and credential configs (`/credentials/<type>/identifiers/<n>`).
const STRUCTURE_DEPTH: usize = 4;

/// One checked operation.
#[derive(Debug)]
pub(crate) struct Op {
    op: PatchOperation,
    /// The decoded tokens of `path`.
    path: Vec<String>,
    /// The deepest value that may sit at `path`.
    room: usize,
    /// The compact JSON size of the value of an `add` or `replace`.
    value_bytes: usize,
}

fn decoded(pointer: &json_patch::jsonptr::Pointer) -> Vec<String> {
    pointer.tokens().map(|t| t.decoded().into_owned()).collect()
}

/// The deepest value that may sit at `tokens`, or `None` when the path
/// itself goes deeper than the limits allow at that location: inside
/// traits, metadata and credential configs the depth limit, elsewhere the
/// identity's fixed structure.
fn room_at(tokens: &[String], max_depth: usize) -> Option<usize> {
    match tokens {
        [top, inner @ ..] if FREE_FORM.contains(&top.as_str()) => {
            max_depth.checked_sub(inner.len())
        }
        [credentials, _, config, inner @ ..]
            if credentials == "credentials" && config == "config" =>
        {
            max_depth.checked_sub(inner.len())
        }
        // A whole credential: its config one level down.
        [credentials, _] if credentials == "credentials" => Some(max_depth + 1),
        _ => STRUCTURE_DEPTH.checked_sub(tokens.len()),
    }
}

/// The credential type whose secrets `tokens` reaches: a path inside its
/// `config`, or the whole credential (which holds the config).
fn secret_of(tokens: &[String]) -> Option<&str> {
    match tokens {
        [credentials, kind] if credentials == "credentials" => Some(kind),
        [credentials, kind, config, ..] if credentials == "credentials" && config == "config" => {
            Some(kind)
        }
        _ => None,
    }
}

/// Whether `tokens` is inside the config of the credential `kind`.
fn inside_config_of(tokens: &[String], kind: &str) -> bool {
    matches!(tokens, [credentials, k, config, ..]
        if credentials == "credentials" && k == kind && config == "config")
}

fn too_deep(path: &str, max_depth: usize) -> Error {
    Error::invalid(format!(
        "the patch path {path} is nested deeper than the limit of {max_depth} levels"
    ))
}

fn too_big(growth_limit: usize) -> Error {
    Error::invalid(format!(
        "the patch grows the identity by more than the limit of {growth_limit} bytes of JSON"
    ))
}

/// Parses a patch document and checks, before anything is built: the
/// number of operations, the nesting of every value, the deny list, how
/// deep each `path` and `from` goes at its location, and that no secret can
/// leave its credential's config.
pub(crate) fn parse(patch: Value, limits: &Limits) -> Result<Vec<Op>, Error> {
    let unmarshal = |message: String| Error::InvalidRequest {
        reason: Some("failed to unmarshal JSON patch".to_owned()),
        message,
    };
    let items = match patch {
        Value::Array(items) => items,
        other => {
            dispose(other);
            return Err(unmarshal(
                "a JSON Patch must be an array of operations".to_owned(),
            ));
        }
    };
    if items.len() > PATCH_MAX_OPS {
        let count = items.len();
        dispose(Value::Array(items));
        return Err(Error::invalid(format!(
            "a JSON Patch may hold at most {PATCH_MAX_OPS} operations, not {count}"
        )));
    }
    // The array, an operation, and the deepest value any location takes.
    let max_depth = (limits.max_depth + 3).min(BODY_MAX_DEPTH);
    let patch = refuse_deeper_than(Value::Array(items), max_depth, "a JSON Patch")?;
    let ops: Vec<PatchOperation> =
        serde_json::from_value(patch).map_err(|e| unmarshal(format!("invalid JSON Patch: {e}")))?;
    let growth_limit = PATCH_GROWTH_FACTOR.saturating_mul(limits.max_json_bytes);
    let mut checked = Vec::with_capacity(ops.len());
    for op in ops {
        for pointer in [Some(op.path()), from_of(&op)].into_iter().flatten() {
            if denied(pointer.as_str()) {
                return Err(Error::patch_failed(format!(
                    "patch includes denied path: {}",
                    pointer.as_str()
                )));
            }
        }
        let path = decoded(op.path());
        let room = room_at(&path, limits.max_depth)
            .ok_or_else(|| too_deep(op.path().as_str(), limits.max_depth))?;
        if let Some(from) = from_of(&op) {
            let from_tokens = decoded(from);
            if room_at(&from_tokens, limits.max_depth).is_none() {
                return Err(too_deep(from.as_str(), limits.max_depth));
            }
            if let Some(kind) = secret_of(&from_tokens)
                && !inside_config_of(&path, kind)
            {
                return Err(Error::invalid(format!(
                    "patch may not copy or move secrets out of a credential's config: from {} to {}",
                    from.as_str(),
                    op.path().as_str()
                )));
            }
        }
        let value_bytes = match &op {
            PatchOperation::Add(AddOperation { value, .. })
            | PatchOperation::Replace(ReplaceOperation { value, .. }) => {
                match extent(value, room, growth_limit) {
                    Ok(e) => e.bytes,
                    Err(Exceeded::Depth) => {
                        return Err(Error::invalid(format!(
                            "the value at {} is nested deeper than the limit allows there ({room} levels)",
                            op.path().as_str()
                        )));
                    }
                    Err(Exceeded::Size) => return Err(too_big(growth_limit)),
                }
            }
            _ => 0,
        };
        checked.push(Op {
            op,
            path,
            room,
            value_bytes,
        });
    }
    Ok(checked)
}

/// Kratos-friendly forms of the writing operations: missing or null parent
/// objects of the target are created (for `add`, `replace`, `copy` and
/// `move`), and `replace` of a missing member acts as `add`. [`parse`]
/// bounded the path's depth, so this builds at most that many objects.
fn prepare(doc: &mut Value, op: &Op) -> Option<PatchOperation> {
    let replace = match &op.op {
        PatchOperation::Add(_) | PatchOperation::Copy(_) | PatchOperation::Move(_) => None,
        PatchOperation::Replace(r) => Some(r),
        _ => return None,
    };
    let (last, parents) = op.path.split_last()?;
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
    if let Some(r) = replace
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

/// The compact JSON bytes of the value a write at `op`'s path would
/// overwrite (an `add` into an array inserts and overwrites nothing).
fn overwritten_bytes(doc: &Value, op: &Op) -> usize {
    let path = op.op.path();
    let replaces = match &op.op {
        PatchOperation::Replace(_) => true,
        _ => path
            .split_back()
            .and_then(|(parent, _)| doc.pointer(parent.as_str()))
            .is_some_and(Value::is_object),
    };
    if !replaces {
        return 0;
    }
    doc.pointer(path.as_str())
        .and_then(|v| extent(v, usize::MAX, usize::MAX).ok())
        .map_or(0, |e| e.bytes)
}

/// The bytes `op` adds to the document (an upper bound: keys and commas
/// counted generously), or `None` when it adds nothing or fails anyway.
/// A `copy` or `move` whose value would sit deeper than its target allows
/// is refused here, before it is made.
fn added_bytes(doc: &Value, op: &Op, growth_limit: usize) -> Result<Option<usize>, Error> {
    let key_bytes = op.path.last().map_or(0, |k| string_len(k) + 2);
    let (from, is_copy) = match &op.op {
        PatchOperation::Add(_) | PatchOperation::Replace(_) => {
            return Ok(Some(op.value_bytes + key_bytes));
        }
        PatchOperation::Copy(CopyOperation { from, .. }) => (from, true),
        PatchOperation::Move(MoveOperation { from, .. }) => (from, false),
        _ => return Ok(None),
    };
    // A missing `from` fails in the patch itself.
    let Some(source) = doc.pointer(from.as_str()) else {
        return Ok(None);
    };
    let budget = if is_copy { growth_limit } else { usize::MAX };
    match extent(source, op.room, budget) {
        Ok(e) if is_copy => Ok(Some(e.bytes + key_bytes)),
        // A move only renames: its bytes are in the document already.
        Ok(_) => Ok(Some(key_bytes)),
        Err(Exceeded::Depth) => Err(Error::invalid(format!(
            "patch operation at {} would nest {} deeper than the limit allows there ({} levels)",
            op.op.path().as_str(),
            from.as_str(),
            op.room
        ))),
        Err(Exceeded::Size) => Err(too_big(growth_limit)),
    }
}

/// Applies the operations one by one. Before each operation that can grow
/// the document, what it adds is measured (iteratively, with early exit)
/// and the growth tallied, so a run of self-`copy`s is refused as soon as
/// it passes the growth limit and the peak stays a small multiple of the
/// limits.
fn apply_ops(doc: &mut Value, ops: &[Op], limits: &Limits) -> Result<(), Error> {
    let growth_limit = PATCH_GROWTH_FACTOR.saturating_mul(limits.max_json_bytes);
    // Bytes added (an upper bound) less bytes overwritten.
    let mut growth = 0usize;
    let mut shrunk = 0usize;
    for op in ops {
        if let Some(added) = added_bytes(doc, op, growth_limit)? {
            shrunk = shrunk.saturating_add(overwritten_bytes(doc, op));
            growth = growth.saturating_add(added);
            if growth.saturating_sub(shrunk) > growth_limit {
                return Err(too_big(growth_limit));
            }
        }
        let rewritten = prepare(doc, op);
        let patch_op = rewritten.as_ref().unwrap_or(&op.op);
        // Without the undo log: a failed patch discards the whole document.
        json_patch::patch_unsafe(doc, std::slice::from_ref(patch_op)).map_err(|e| {
            match e.kind {
                PatchErrorKind::TestFailed => Error::patch_failed(format!(
                    "patch test operation failed at {}",
                    patch_op.path().as_str()
                )),
                kind => Error::patch_failed(format!(
                    "patch operation at {} failed: {kind}",
                    patch_op.path().as_str()
                )),
            }
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
            Err(Error::InvalidRequest {
                reason: Some(format!(
                    "The supplied state ('{shown}') was not valid. Valid states are ('active', 'inactive')."
                )),
                message: "identity state is not valid".to_owned(),
            })
        }
    }
}

/// Checks the patched credentials: each `type` equals its key and names a
/// known type; no plaintext `password` rests in a password config (SPEC
/// §9: import it with create or PUT, which hash it). A whole credential
/// patched in without timestamps gets them (they are set from the stored
/// credential, or to now, afterwards), as Kratos defaults them.
fn check_credentials(doc: &mut Value, now: Timestamp) -> Result<(), Error> {
    let Some(Value::Object(creds)) = doc.get_mut("credentials") else {
        return Ok(());
    };
    for (key, credential) in creds.iter_mut() {
        let kind = credential.get("type").and_then(Value::as_str);
        if kind != Some(key.as_str()) {
            // Kratos' words, its `%q` quoting included.
            return Err(Error::invalid(format!(
                "credentials.{key}.type must equal {}, got {}",
                Value::String(key.clone()),
                Value::String(kind.unwrap_or_default().to_owned())
            )));
        }
        if CredentialType::parse(key).is_none() {
            return Err(Error::invalid(format!(
                "credentials: unknown credential type `{key}`"
            )));
        }
        if key == CredentialType::Password.as_str()
            && credential
                .get("config")
                .and_then(|c| c.get("password"))
                .is_some()
        {
            return Err(Error::invalid(
                "credentials.password: a plaintext password cannot be patched in; \
                 import it with create or PUT (`credentials.password.config.password`), which hash it",
            ));
        }
        if let Value::Object(fields) = credential {
            for stamp in ["created_at", "updated_at"] {
                fields
                    .entry(stamp)
                    .or_insert_with(|| Value::String(now.to_string()));
            }
        }
    }
    Ok(())
}

/// The (id, created_at) of the stored address on `via` whose value
/// normalises like `value`.
fn pin<'a>(
    stored: impl IntoIterator<Item = (AddressVia, &'a str, Uuid, Timestamp)>,
    via: AddressVia,
    value: &str,
) -> Option<(Uuid, Timestamp)> {
    let value = normalize::address(via, value);
    stored
        .into_iter()
        .find(|(v, s, _, _)| *v == via && normalize::address(*v, s) == value)
        .map(|(_, _, id, created_at)| (id, created_at))
}

/// Address ids are the core's, never the caller's: a patched address takes
/// the id (and `created_at`) of the stored address with the same channel
/// and normalised value, or a fresh id. `verified` rules `verified_at` as
/// Kratos' persister has it on every update: set to now when verified
/// without one, cleared when not verified.
fn pin_addresses(next: &mut Identity, stored: &Identity, ids: &dyn IdGenerator, now: Timestamp) {
    for address in &mut next.verifiable_addresses {
        let candidates = stored
            .verifiable_addresses
            .iter()
            .map(|s| (s.via, s.value.as_str(), s.id, s.created_at));
        match pin(candidates, address.via, &address.value) {
            Some((id, created_at)) => (address.id, address.created_at) = (id, created_at),
            None => address.id = ids.new_id(),
        }
        if !address.verified {
            address.verified_at = None;
        } else if address.verified_at.is_none() {
            address.verified_at = Some(now);
        }
    }
    for address in &mut next.recovery_addresses {
        let candidates = stored
            .recovery_addresses
            .iter()
            .map(|s| (s.via, s.value.as_str(), s.id, s.created_at));
        match pin(candidates, address.via, &address.value) {
            Some((id, created_at)) => (address.id, address.created_at) = (id, created_at),
            None => address.id = ids.new_id(),
        }
    }
}

/// What applying a patch needs from the manager, passed in (the patch
/// code sees nothing else of it).
pub(crate) struct PatchEnv<'a> {
    /// The base URL the admin JSON of the identity is written with.
    pub(crate) base_url: &'a str,
    /// The size and depth limits.
    pub(crate) limits: &'a Limits,
    /// The schemas a patched `schema_id` resolves against.
    pub(crate) schemas: &'a SchemaRegistry,
    /// Ids for addresses the patch adds.
    pub(crate) ids: &'a dyn IdGenerator,
}

/// Applies the operations to `stored` and returns the patched identity
/// (before validation and derivation) and its schema.
pub(crate) fn apply(
    env: &PatchEnv<'_>,
    stored: &Identity,
    ops: &[Op],
    now: Timestamp,
) -> Result<(Identity, Arc<IdentitySchema>), Error> {
    let mut doc = stored.to_value(env.base_url, CredentialInclude::All);
    apply_ops(&mut doc, ops, env.limits)?;
    check_state(&doc)?;
    check_credentials(&mut doc, now)?;
    // The external id is read as create and PUT read it (with their
    // messages); any other JSON type is left to the decoding below.
    let external_id = match doc.get_mut("external_id") {
        Some(slot) if slot.is_string() => match slot.take() {
            Value::String(text) => ExternalId::from_optional(Some(text))?,
            _ => None,
        },
        _ => None,
    };
    let mut next: Identity = serde_json::from_value(doc)
        .map_err(|e| Error::invalid(format!("the patched identity is not valid: {e}")))?;
    next.external_id = external_id;
    next.version = stored.version;
    pin_addresses(&mut next, stored, env.ids, now);
    let schema = if next.schema_id.is_empty() {
        env.schemas.resolve(&stored.schema_id)?.clone()
    } else {
        env.schemas.resolve(&next.schema_id)?.clone()
    };
    next.schema_id = schema.id().to_owned();
    next.state_changed_at = if next.state == stored.state {
        stored.state_changed_at
    } else {
        Some(now)
    };
    credentials::settle_patched(&mut next.credentials, stored, now)?;
    Ok((next, schema))
}
